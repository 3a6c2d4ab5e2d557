/*
 * State shared by the HTTP server's files: http_server.c (listener, stop,
 * responses), http_connection.c (one client socket with its reading,
 * parsing, writing and timeouts) and http_request.c (one parsed request).
 *
 * Ownership: the server owns its connections until their close callbacks
 * run. A connection owns the request it is parsing. Once a request is handed
 * to the handler, the handler owns it until http_respond(). If the
 * connection closes first, request->connection becomes NULL and
 * http_respond() only frees the request.
 */
#ifndef WHARF_CORE_HTTP_SERVER_INTERNAL_H
#define WHARF_CORE_HTTP_SERVER_INTERNAL_H

#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>

#include "http_server.h"

typedef struct http_connection http_connection;

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    http_server_limits limits;
    http_handler_fn handler;
    void *user_data;
    int port;
    char address[64]; /* "127.0.0.1:8080" or "[::1]:8080", for messages */

    http_connection *connections; /* every connection not yet freed */
    unsigned open_connections;    /* connections that are not closing */

    /* Rejections at max_connections are logged at most once per interval. */
    uint64_t rejection_logged_at_ms;
    unsigned rejections_not_logged;

    bool stopping;
    bool listener_closed;
    void (*stopped)(void *arg);
    void *stopped_arg;
};

/* A growable byte string that always ends in a NUL after length bytes. */
typedef struct http_text {
    char *data;
    size_t length;
    size_t capacity;
} http_text;

typedef struct http_header_entry {
    size_t name_offset;  /* into http_request.header_text */
    size_t value_offset; /* into http_request.header_text */
} http_header_entry;

typedef enum http_header_state {
    HTTP_HEADER_NONE,  /* no header piece yet, or the last one ended */
    HTTP_HEADER_FIELD, /* receiving a header name */
    HTTP_HEADER_VALUE  /* receiving a header value */
} http_header_state;

struct http_request {
    http_connection *connection; /* NULL once the connection has closed */
    const char *method;
    bool keep_alive;

    http_text url;
    char *path;  /* points into target */
    char *query; /* points into target */
    char *target;

    /* Names and values as NUL-terminated strings, one after the other. */
    http_text header_text;
    http_header_entry *headers;
    size_t header_count;
    size_t header_capacity;
    http_header_state header_state;

    http_text body;

    /* Extra response header lines, each ending in CRLF. */
    http_text response_headers;
};

/* Append bytes to text, keeping it NUL-terminated. Returns 0 or -ENOMEM. */
int http_text_append(http_text *text, const char *bytes, size_t length);

/* Allocate an empty request bound to connection; NULL when out of memory. */
http_request *http_request_create(http_connection *connection);
void http_request_destroy(http_request *request);

/* Parser callbacks feed these; each returns 0 or -ENOMEM. */
int http_request_append_url(http_request *request, const char *bytes,
                            size_t length);
int http_request_append_header(http_request *request, bool is_value,
                               const char *bytes, size_t length);
int http_request_append_body(http_request *request, const char *bytes,
                             size_t length);

/* End the header section and split the URL into path and query. Header
 * pieces that arrive later (trailers) are dropped. Returns 0 or -ENOMEM. */
int http_request_finish_headers(http_request *request);

/* Create a connection for a client that the listener has pending, and start
 * reading from it. A client over max_connections is closed at once. */
void http_connection_accept(http_server *server);

/* Serve a client whose stream socket is already connected, as if the
 * listener had accepted it; the fuzz target for requests passes one end of
 * a socketpair. The connection owns socket from then on, except when this
 * fails: then it returns a negative libuv error and the caller still owns
 * socket. Returns 0 otherwise. */
int http_connection_open(http_server *server, uv_os_sock_t socket);

/* Close the socket; the connection is freed in its close callbacks, which
 * then call http_server_connection_freed(). Safe to call more than once. */
void http_connection_close(http_connection *connection);

/* Close every connection of the server. */
void http_connection_close_all(http_server *server);

/* Send the response to the request that the handler owns, taking ownership of
 * bytes (from malloc). keep_alive false closes the connection once they are
 * written. NULL bytes (out of memory) close the connection at once. */
void http_connection_send_response(http_connection *connection, char *bytes,
                                   size_t length, bool keep_alive);

/* Build a whole response (status line, headers, body) into a new buffer for
 * free(). extra_headers (NULL for none) are complete header lines, each
 * ending in CRLF. head_only leaves the body out but keeps its
 * Content-Length. */
char *http_server_format_response(int status, const char *content_type,
                                  const char *extra_headers, const char *body,
                                  size_t body_size, bool keep_alive, bool head_only,
                                  size_t *length);

/* Build a response whose body is {"error": message}. */
char *http_server_format_error(int status, const char *message, bool keep_alive,
                               size_t *length);

/* Note that a connection was freed, and finish a pending stop. */
void http_server_connection_freed(http_server *server);

#endif
