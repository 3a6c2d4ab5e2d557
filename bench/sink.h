/*
 * A recording HTTP sink for delivery benchmarks: an HTTP/1.1 server on
 * 127.0.0.1 (libuv and http-parser, on a thread of its own) that answers
 * every request 200 with keep-alive and counts the messages of each body,
 * which is a JSON array of messages as the webhook plugin sends it.
 *
 * Optionally it measures latency: for each message that contains the key
 * named by latency_key followed by an integer (CLOCK_MONOTONIC nanoseconds
 * when the change was sent), it records the time from then to the moment
 * its request body was complete. CLOCK_MONOTONIC is shared by every
 * process of the machine, so the sender may be another process.
 */
#ifndef WHARF_BENCH_SINK_H
#define WHARF_BENCH_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct sink sink;

typedef struct sink_options {
    int port; /* 0 picks a free port */
    /* JSON key of the send timestamp, such as "bench_sent_ns"; NULL
     * disables latency measurement, which sink_measure_latency() turns on. */
    const char *latency_key;
    size_t latency_capacity; /* latencies kept at most; later ones are dropped */
    int keep_first_body;     /* keep a copy of the first request body */
} sink_options;

typedef struct sink_counts {
    uint64_t requests;
    uint64_t messages;
    uint64_t body_bytes;
    uint64_t bad_requests;    /* requests that http-parser rejected */
    uint64_t last_message_ns; /* CLOCK_MONOTONIC when the last body completed */
} sink_counts;

/* Start the sink on its own thread. Returns 0, or -1 with a message in
 * error. */
int sink_start(const sink_options *options, sink **out, char *error, size_t error_size);

int sink_port(const sink *s);

/* Counters so far; safe to call from any thread while the sink runs. */
void sink_read_counts(const sink *s, sink_counts *counts);

/* Latencies recorded so far, in nanoseconds, in arrival order. The array
 * stays valid until sink_free(); count only grows. */
const uint64_t *sink_latencies(const sink *s, size_t *count);

/* Start recording latencies, forgetting those recorded so far, or stop
 * (call while no change is in flight). The sink starts with recording off,
 * because searching each message for the key costs a second pass over
 * every body of a manual batch. */
void sink_measure_latency(sink *s, int on);

/* The first request body, or NULL when none arrived or it was not kept. */
const char *sink_first_body(const sink *s, size_t *length);

/* Stop the thread, close every connection and free the sink. */
void sink_free(sink *s);

/* Count the elements of a top-level JSON array in body (1 for any other
 * non-empty JSON value). For each element that has latency_key (may be
 * NULL) followed by an integer, call found with that integer. Exposed for
 * tests of the sink itself. */
uint64_t sink_count_messages(const char *body, size_t length, const char *latency_key,
                             void (*found)(void *user_data, uint64_t value), void *user_data);

#endif
