/*
 * The load client of bench_ingest. A fixed number of keep-alive
 * connections to 127.0.0.1, one thread each, take pre-built requests in
 * order from a shared counter, so that at most one request is in flight
 * per connection. Each request is timed from its first byte sent to the
 * last byte of its response.
 */
#ifndef WHARF_BENCH_INGEST_CLIENT_H
#define WHARF_BENCH_INGEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "bench_ingest_body.h"

typedef struct load_report {
    double seconds;            /* from the first request sent to the last response */
    double client_cpu_seconds; /* this process's CPU time (all threads) over that span */
    uint64_t *latency_ns;      /* per request, in request order */
    size_t completed;          /* requests answered 200 with every message kept */
    size_t failed;
    char failure[512]; /* the first failure, "" when none */
} load_report;

/* Send every request of set over connections connections to
 * 127.0.0.1:port. Returns 0 when every request got a response (check
 * report->failed for ones that were not a full success), or -1 with a
 * message in error when a connection failed. */
int load_run(int port, const bench_request_set *set, unsigned connections,
             load_report *report, char *error, size_t error_size);

void load_report_free(load_report *report);

/* GET path from 127.0.0.1:port. Returns 0 with the status and the body
 * (cut to body_size - 1 bytes), or -1 with a message in error. */
int http_get(int port, const char *path, int *status, char *body, size_t body_size,
             char *error, size_t error_size);

#endif
