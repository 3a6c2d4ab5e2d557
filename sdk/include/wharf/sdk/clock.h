/*
 * Wall-clock time for protocol dates such as Retry-After.
 */
#ifndef WHARF_SDK_CLOCK_H
#define WHARF_SDK_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Milliseconds since 1970-01-01T00:00:00Z (CLOCK_REALTIME). Use it only to
 * compare with dates from other machines; it jumps when the clock is set. */
int64_t wharf_clock_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_CLOCK_H */
