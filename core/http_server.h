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
    size_t max_header_size;       /* request line plus headers, larger gets 431; default 80 KiB */
    size_t max_body_size;         /* larger bodies get 413; default 8 MiB */
    unsigned max_connections;     /* further clients are closed at accept; default 1024 */
    unsigned request_timeout_ms;  /* first byte to whole request, then 408; default 30000 */
    unsigned idle_timeout_ms;     /* wait for a request, or for a response write; default 60000 */
} http_server_limits;

/* Bounds that http_server_start() and the config parser accept. */
#define HTTP_SERVER_MIN_HEADER_SIZE 1024
#define HTTP_SERVER_MAX_HEADER_SIZE_LIMIT (1024 * 1024)
#define HTTP_SERVER_MIN_TIMEOUT_MS 100
#define HTTP_SERVER_MAX_TIMEOUT_MS 3600000

/* Fill limits with the defaults above. */
void http_server_limits_default(http_server_limits *limits);

/* Check limits against the bounds above. Returns 0, or -1 with a message
 * that names the limit, its value and the accepted range. */
int http_server_limits_check(const http_server_limits *limits, char *error,
                             size_t error_size);

/* Whether host (as accepted by http_server_start) is a loopback address:
 * "localhost", 127.0.0.0/8, ::1 or an IPv4-mapped 127.0.0.0/8 address. */
int http_server_host_is_loopback(const char *host);

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

/* The client's address as "127.0.0.1:53122" or "[::1]:53122", for log
 * lines; "unknown" once the connection has closed. */
const char *http_request_peer(const http_request *request);

/* Read a query parameter's value, percent-decoded, into buffer. Returns 1,
 * 0 when absent, or -ENOSPC when the value does not fit (buffer is then
 * not a value to use). */
int http_request_query_value(const http_request *request, const char *name, char *buffer,
                             size_t buffer_size);

/* The same value as http_request_query_value() in buffer, or NULL when it
 * is absent or does not fit. */
const char *http_request_query_param(const http_request *request,
                                     const char *name, char *buffer,
                                     size_t buffer_size);

/* Call fn with the percent-decoded name of each query parameter, in order
 * and repeats included, skipping empty pairs ("a=1&&b=2"). Stops at the
 * first non-zero return of fn and returns it; 0 when every call returned
 * 0, -ENOMEM when out of memory. */
int http_request_query_each_name(const http_request *request,
                                 int (*fn)(const char *name, void *user_data),
                                 void *user_data);

/* Add a header line to the response of request, such as WWW-Authenticate.
 * Returns 0, -ENOMEM, or -EINVAL without adding anything when name is not
 * a header name (an RFC 9110 token) or value contains CR or LF. */
int http_request_add_response_header(http_request *request, const char *name,
                                     const char *value);

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
