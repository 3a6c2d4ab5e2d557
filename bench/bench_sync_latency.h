/*
 * The paced sender of bench_sync's latency run: identify calls at a fixed
 * rate on existing users, each carrying its send time as a trait, so that
 * the sink can measure ingest-to-delivery latency per change.
 */
#ifndef WHARF_BENCH_SYNC_LATENCY_H
#define WHARF_BENCH_SYNC_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/* The trait that carries CLOCK_MONOTONIC nanoseconds at the send. */
#define BENCH_SYNC_SENT_TRAIT "bench_sent_ns"

typedef struct latency_plan {
    int port;
    uint64_t users;       /* change "user-<i % users>" */
    unsigned rate;        /* identify calls per second */
    unsigned seconds;
    unsigned connections; /* keep-alive connections, one thread each */
} latency_plan;

typedef struct latency_outcome {
    uint64_t sent;        /* answered 200 */
    uint64_t failed;      /* any other answer */
    uint64_t late;        /* sent more than 1 ms after its scheduled time */
    double seconds;       /* from the first scheduled send to the last answer */
    uint64_t *request_ns; /* per call: from its send to wharfd's answer */
    char failure[256];    /* the first failure, "" when none */
} latency_outcome;

/* Send plan->rate * plan->seconds identify calls, call i at i / rate
 * seconds after the start. Returns 0 when every connection stayed up, or
 * -1 with a message in error. */
int latency_send(const latency_plan *plan, latency_outcome *outcome, char *error,
                 size_t error_size);

void latency_outcome_free(latency_outcome *outcome);

#endif
