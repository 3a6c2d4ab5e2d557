/*
 * Parsing of the HTTP Retry-After response header (RFC 9110, section 10.2.3).
 */
#ifndef WHARF_SDK_RETRY_AFTER_H
#define WHARF_SDK_RETRY_AFTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Convert a Retry-After value into a delay in milliseconds from now_ms
 * (milliseconds since the Unix epoch, see wharf_clock_now_ms()).
 *
 * Accepts delta-seconds ("120") and an HTTP-date in the preferred
 * IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT") or either obsolete
 * form: RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime
 * ("Sun Nov  6 08:49:37 1994"). Surrounding spaces and tabs are ignored.
 * A date in the past gives 0. A delay too large for int64_t milliseconds
 * saturates at INT64_MAX.
 *
 * Returns 0 and sets *delay_ms, or -EINVAL (value NULL or not in one of
 * these forms) and leaves *delay_ms untouched. */
int wharf_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_RETRY_AFTER_H */
