/*
 * A small blocking HTTP/1.1 client for bench_sync: one keep-alive
 * connection to 127.0.0.1, one request at a time, responses with a
 * Content-Length (as wharfd sends them). Used for the admin API and for
 * the paced identify calls of the latency run.
 */
#ifndef WHARF_BENCH_SYNC_HTTP_H
#define WHARF_BENCH_SYNC_HTTP_H

#include <stddef.h>

struct json_object;

typedef struct http_client {
    int fd; /* -1 while not connected */
    int port;
    char *data; /* the last response: headers, then body */
    size_t length;
    size_t capacity;
    size_t body_offset;
    size_t body_length;
} http_client;

/* Connect to 127.0.0.1:port. Returns 0, or -1 with a message in error. */
int http_client_open(http_client *client, int port, char *error, size_t error_size);
void http_client_close(http_client *client);

/* Send one request and read its response. extra_headers is "" or complete
 * header lines ending in CRLF. The body of the response stays valid until
 * the next call (NUL-terminated). Returns 0 with the status, or -1 with a
 * message in error (the connection is then closed; the next call
 * reconnects). */
int http_client_request(http_client *client, const char *method, const char *path,
                        const char *extra_headers, const char *body, size_t body_length,
                        int *status, const char **response_body, char *error,
                        size_t error_size);

/* Send a JSON request (body may be NULL) and parse the JSON response.
 * Returns the parsed response when the status is expected_status, else
 * NULL with a message in error that names the request, the status and the
 * response body. */
struct json_object *http_client_json(http_client *client, const char *method, const char *path,
                                     const char *body, int expected_status, char *error,
                                     size_t error_size);

#endif
