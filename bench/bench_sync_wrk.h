/*
 * The destination's ceiling for bench_sync: wrk (the Debian package) posts
 * one recorded webhook body over and over to the sink, and the sink's own
 * counters give the messages per second it can take.
 */
#ifndef WHARF_BENCH_SYNC_WRK_H
#define WHARF_BENCH_SYNC_WRK_H

#include <stddef.h>
#include <stdint.h>

struct sink;

typedef struct wrk_ceiling {
    double seconds;
    uint64_t requests;  /* counted by the sink */
    uint64_t messages;  /* counted by the sink */
    double wrk_requests_per_second; /* wrk's own "Requests/sec" */
} wrk_ceiling;

/* Run wrk_path for seconds with threads threads and connections
 * connections, posting body to the sink. Returns 0, or -1 with a message
 * in error. */
int wrk_measure_ceiling(const char *wrk_path, struct sink *s, const char *body, size_t length,
                        unsigned seconds, unsigned threads, unsigned connections,
                        wrk_ceiling *result, char *error, size_t error_size);

#endif
