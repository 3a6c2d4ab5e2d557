/*
 * A loopback HTTP/1.1 server for SDK tests. It records every request and
 * responds to each with the next scripted response (200 {} when none is
 * left). It serves one connection at a time and closes it after each
 * response.
 */
#ifndef WHARF_TEST_RECORDING_SERVER_H
#define WHARF_TEST_RECORDING_SERVER_H

#include <stddef.h>

typedef struct recording_server recording_server;

typedef struct recorded_request {
    char method[16];
    char target[512];
    char *head; /* request line and headers, as received */
    char *body; /* NUL-terminated */
    size_t body_size;
} recorded_request;

/* Listen on 127.0.0.1 on a free port. Returns NULL on failure. */
recording_server *recording_server_start(void);

/* Stop the thread, close the socket and free the recordings. */
void recording_server_stop(recording_server *server);

unsigned recording_server_port(const recording_server *server);

/* Queue a response. extra_headers is "" or complete lines, each ending in
 * \r\n. delay_ms delays the response, to provoke client timeouts. */
void recording_server_push(recording_server *server, int status,
                           const char *extra_headers, const char *body,
                           unsigned delay_ms);

size_t recording_server_request_count(recording_server *server);

/* Copy of the request at index; free it with recorded_request_free(). */
int recording_server_request(recording_server *server, size_t index,
                             recorded_request *request);
void recorded_request_free(recorded_request *request);

/* Value of a header in a recorded request head (case-insensitive name), or
 * NULL. Returns a pointer into static storage, overwritten by the next
 * call. */
const char *recorded_request_header(const recorded_request *request, const char *name);

#endif
