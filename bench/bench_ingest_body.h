/*
 * Request bodies for bench_ingest: Segment /v1/batch requests of identify
 * messages for new users, built before the clock starts so that sending
 * them costs the client only the write(2) calls.
 */
#ifndef WHARF_BENCH_INGEST_BODY_H
#define WHARF_BENCH_INGEST_BODY_H

#include <stddef.h>
#include <stdint.h>

struct user_generator;

/* One complete HTTP/1.1 request: request line, headers and body. */
typedef struct bench_request {
    char *data;
    size_t size;
    unsigned messages;
} bench_request;

typedef struct bench_request_set {
    bench_request *requests;
    size_t count;
    uint64_t messages;
    size_t body_bytes; /* sum of the bodies, without HTTP headers */
} bench_request_set;

/* Build requests carrying messages identify calls, per_request in each
 * (the last one may hold fewer). User i (counted from first_user) has
 * userId "user-<i>", a unique messageId and the 20 traits that the
 * generator makes for number i. write_key goes into the Basic
 * Authorization header. Returns 0, or -1 with a message in error. */
int bench_requests_build(struct user_generator *generator, uint64_t first_user,
                         uint64_t messages, unsigned per_request, const char *write_key,
                         bench_request_set *set, char *error, size_t error_size);

void bench_requests_free(bench_request_set *set);

#endif
