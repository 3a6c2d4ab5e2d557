/*
 * HTTP/1.1 server for the admin and ingest APIs: http-parser on uv_tcp_t,
 * keep-alive, one request at a time per connection (a pipelined request
 * waits until the previous one is answered).
 *
 * The handler is called once per complete request on the loop thread. It
 * answers with http_respond() either before returning or later (after
 * asynchronous work); the request stays valid until it is answered, even if
 * the client goes away meanwhile (the answer is then dropped).
 */
#ifndef WHARF_CORE_HTTP_SERVER_H
#define WHARF_CORE_HTTP_SERVER_H

#include <stddef.h>
#include <uv.h>

struct json_object;

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef void (*http_handler_fn)(http_request *request, void *user_data);

typedef struct http_server_limits {
    size_t max_body_size;         /* larger bodies get 413; default 8 MiB */
    unsigned max_connections;     /* further clients are closed at accept; default 1024 */
    unsigned idle_timeout_ms;     /* keep-alive idle time before close; default 60000 */
} http_server_limits;

/* Fill limits with the defaults above. */
void http_server_limits_default(http_server_limits *limits);

/* Listen on host:port (IPv4 or IPv6 literal, or "localhost"). On failure
 * returns a negative libuv error code and writes a message naming the
 * address into error. port 0 picks a free port; see http_server_port(). */
int http_server_start(http_server **server, uv_loop_t *loop, const char *host,
                      int port, const http_server_limits *limits,
                      http_handler_fn handler, void *user_data, char *error,
                      size_t error_size);

/* The port actually bound. */
int http_server_port(const http_server *server);

/* Stop accepting, close every connection, then call done (may be NULL) once
 * all handles are closed. Requests not yet answered are dropped when
 * answered. */
void http_server_stop(http_server *server, void (*done)(void *), void *arg);

/* Request accessors. path excludes the query string; query is "" when
 * absent. The body is NUL-terminated for convenience. */
const char *http_request_method(const http_request *request);
const char *http_request_path(const http_request *request);
const char *http_request_query(const http_request *request);
const char *http_request_header(const http_request *request, const char *name);
const char *http_request_body(const http_request *request, size_t *size);

/* Value of a query parameter, percent-decoded into buffer; NULL if absent. */
const char *http_request_query_param(const http_request *request,
                                     const char *name, char *buffer,
                                     size_t buffer_size);

/* Answer the request (once). Headers like Content-Length and Connection are
 * added by the server. */
void http_respond(http_request *request, int status, const char *content_type,
                  const char *body, size_t body_size);

/* Answer with a JSON document; takes ownership of (puts) object. */
void http_respond_json(http_request *request, int status,
                       struct json_object *object);

/* Answer {"error": message} with the given status. */
void http_respond_error(http_request *request, int status, const char *format,
                        ...) __attribute__((format(printf, 3, 4)));

#endif
