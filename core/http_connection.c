/*
 * One client connection of the HTTP server. It reads bytes, feeds them to
 * http-parser, passes each complete request to the handler and writes the
 * response.
 *
 * A connection moves through these states:
 *   READING   waiting for a request with the idle timer on, or for the rest
 *             of one with the request timer on
 *   HANDLING  the handler owns the request: no reading, no timer
 *   WRITING   the response is being written, with the idle timer on
 *   LINGERING the last response is written and our side is shut down, so
 *             input is read and dropped until the client closes or the timer
 *             fires
 *   CLOSING   uv_close() was called, and the connection is freed once both
 *             handles have closed
 *
 * Only one request per connection is in flight. Pipelined bytes that arrive
 * with a request stay in the input buffer and are parsed after the response
 * is written, so responses leave in request order. Reading stops meanwhile,
 * which bounds the input buffer to one read beyond the request being parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_server_internal.h"
#include "log.h"

/* After the last response, wait this long for the client to close before
 * closing ourselves. Closing a socket with unread input sends a TCP reset,
 * which can destroy a response (413, 400) that the client has not read yet,
 * so we read and drop input for a while first. */
#define HTTP_CONNECTION_LINGER_MS 2000

/* Growth step of the input buffer, which reads go into. */
#define HTTP_CONNECTION_READ_SIZE (64 * 1024)

typedef enum http_connection_state {
    HTTP_CONNECTION_READING,
    HTTP_CONNECTION_HANDLING,
    HTTP_CONNECTION_WRITING,
    HTTP_CONNECTION_LINGERING,
    HTTP_CONNECTION_CLOSING
} http_connection_state;

struct http_connection {
    uv_tcp_t tcp;
    uv_timer_t timer; /* idle or request timeout, and then the linger period */
    uv_shutdown_t shutdown;
    http_parser parser;
    http_server *server;
    http_connection *previous;
    http_connection *next;
    char peer[64]; /* "127.0.0.1:53122", for log lines */

    http_connection_state state;
    int open_handles; /* tcp and timer, so the connection is freed at 0 */
    bool reading;
    bool close_after_write;

    /* Received bytes not parsed yet. */
    char *input;
    size_t input_length;
    size_t input_capacity;

    /* The request being parsed (READING) or handled (HANDLING). */
    http_request *request;

    /* Set by a parser callback that failed on purpose (413, 500), so that
     * the response names our reason instead of http-parser's error. */
    int failure_status;
    char failure_message[160];
};

/* One uv_write() and the bytes it sends. */
typedef struct http_write {
    uv_write_t request; /* first, so that on_write can cast back */
    http_connection *connection;
    bool interim; /* "100 Continue": the request is still being received */
    char *bytes;
} http_write;

static void connection_parse_input(http_connection *connection);

static void connection_set_failure(http_connection *connection, int status,
                                   const char *message)
{
    connection->failure_status = status;
    snprintf(connection->failure_message, sizeof(connection->failure_message),
             "%s", message);
}

static void on_handle_closed(uv_handle_t *handle)
{
    http_connection *connection = handle->data;
    http_server *server = connection->server;

    connection->open_handles--;
    if (connection->open_handles > 0)
        return;

    if (connection->previous != NULL)
        connection->previous->next = connection->next;
    else
        server->connections = connection->next;
    if (connection->next != NULL)
        connection->next->previous = connection->previous;

    free(connection->input);
    free(connection);
    http_server_connection_freed(server);
}

void http_connection_close(http_connection *connection)
{
    if (connection->state == HTTP_CONNECTION_CLOSING)
        return;

    /* A request that the handler owns outlives the connection, and its
     * response is then dropped. A request still being parsed goes with it. */
    if (connection->request != NULL) {
        if (connection->state == HTTP_CONNECTION_HANDLING)
            connection->request->connection = NULL;
        else
            http_request_destroy(connection->request);
        connection->request = NULL;
    }

    connection->state = HTTP_CONNECTION_CLOSING;
    connection->server->open_connections--;
    uv_close((uv_handle_t *)&connection->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&connection->timer, on_handle_closed);
}

void http_connection_close_all(http_server *server)
{
    /* Closing only marks a connection. None is unlinked before its close
     * callbacks run, so the list stays intact while we walk it. */
    for (http_connection *connection = server->connections; connection != NULL;
         connection = connection->next)
        http_connection_close(connection);
}

static void connection_fail(http_connection *connection, enum http_errno error);

static void on_timer(uv_timer_t *timer)
{
    http_connection *connection = timer->data;
    const http_server_limits *limits = &connection->server->limits;
    char message[sizeof(connection->failure_message)];

    /* Part of a request has arrived, so the client gets a reason before the
     * connection closes. */
    if (connection->state == HTTP_CONNECTION_READING && connection->request != NULL) {
        snprintf(message, sizeof(message),
                 "request timed out: the request line, headers and body must arrive "
                 "within %u ms; send the whole request at once",
                 limits->request_timeout_ms);
        connection_set_failure(connection, 408, message);
        connection_fail(connection, HPE_UNKNOWN);
        return;
    }

    if (connection->state == HTTP_CONNECTION_READING)
        log_debug("closing HTTP connection from %s: no request within %u ms "
                  "(idle_timeout_ms)",
                  connection->peer, limits->idle_timeout_ms);
    else if (connection->state == HTTP_CONNECTION_WRITING)
        log_debug("closing HTTP connection from %s: the response was not read "
                  "within %u ms (idle_timeout_ms)",
                  connection->peer, limits->idle_timeout_ms);
    http_connection_close(connection);
}

/* The timer bounds each step that waits on the client:
 * - from accept, or from the end of the previous response, until the first
 *   byte of a request: idle_timeout_ms;
 * - from that first byte until the whole request (headers and body) has
 *   arrived: request_timeout_ms, after which the client gets 408;
 * - the writing of a response: idle_timeout_ms.
 * Reads do not restart the timer, so a client that trickles a request byte
 * by byte is cut off too. The timer is off while the handler owns a
 * request, however long the handler takes. 0 turns it off.
 * NOTE: a request body whose upload takes longer than request_timeout_ms is
 * cut off as well, however steadily it arrives. */
static void connection_start_timer(http_connection *connection, uint64_t timeout_ms)
{
    if (timeout_ms == 0) {
        uv_timer_stop(&connection->timer);
        return;
    }
    uv_timer_start(&connection->timer, on_timer, timeout_ms, 0);
}

static void connection_drop_input(http_connection *connection, size_t length)
{
    if (length > 0)
        memmove(connection->input, connection->input + length,
                connection->input_length - length);
    connection->input_length -= length;

    /* An idle connection keeps no buffer. */
    if (connection->input_length == 0) {
        free(connection->input);
        connection->input = NULL;
        connection->input_capacity = 0;
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buffer)
{
    http_connection *connection = handle->data;
    size_t free_space = connection->input_capacity - connection->input_length;

    (void)suggested_size;
    if (free_space < HTTP_CONNECTION_READ_SIZE / 4) {
        size_t capacity = connection->input_length + HTTP_CONNECTION_READ_SIZE;
        char *input = realloc(connection->input, capacity);

        /* An empty buffer makes libuv report UV_ENOBUFS to on_read. */
        if (input == NULL) {
            *buffer = uv_buf_init(NULL, 0);
            return;
        }
        connection->input = input;
        connection->input_capacity = capacity;
        free_space = capacity - connection->input_length;
    }
    *buffer = uv_buf_init(connection->input + connection->input_length,
                          (unsigned)free_space);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buffer)
{
    http_connection *connection = stream->data;

    (void)buffer;
    if (nread == 0)
        return;

    /* The client closed the connection, or reading failed. No request can be
     * waiting for a response here, because reading stops while one is. */
    if (nread < 0) {
        if (nread != UV_EOF && connection->state != HTTP_CONNECTION_LINGERING)
            log_debug("reading from HTTP client %s failed: %s", connection->peer,
                      uv_strerror((int)nread));
        http_connection_close(connection);
        return;
    }

    connection->input_length += (size_t)nread;
    if (connection->state == HTTP_CONNECTION_LINGERING) {
        connection_drop_input(connection, connection->input_length);
        return;
    }
    connection_parse_input(connection);
}

/* Read only while a request may come in, or while lingering. */
static void connection_update_reading(http_connection *connection)
{
    bool wanted = connection->state == HTTP_CONNECTION_READING ||
                  connection->state == HTTP_CONNECTION_LINGERING;
    int result;

    if (connection->state == HTTP_CONNECTION_CLOSING || wanted == connection->reading)
        return;

    if (!wanted) {
        uv_read_stop((uv_stream_t *)&connection->tcp);
        connection->reading = false;
        return;
    }

    result = uv_read_start((uv_stream_t *)&connection->tcp, on_alloc, on_read);
    if (result < 0) {
        log_warn("cannot read from HTTP client %s: %s", connection->peer,
                 uv_strerror(result));
        http_connection_close(connection);
        return;
    }
    connection->reading = true;
}

static void on_shutdown(uv_shutdown_t *request, int status)
{
    http_connection *connection = request->handle->data;

    if (status < 0)
        http_connection_close(connection);
}

/* Send FIN after the last response, then drop input until the client closes. */
static void connection_linger(http_connection *connection)
{
    int result;

    connection->state = HTTP_CONNECTION_LINGERING;
    connection_drop_input(connection, connection->input_length);
    connection_start_timer(connection, HTTP_CONNECTION_LINGER_MS);

    result = uv_shutdown(&connection->shutdown, (uv_stream_t *)&connection->tcp,
                         on_shutdown);
    if (result < 0) {
        http_connection_close(connection);
        return;
    }
    connection_update_reading(connection);
}

static void on_write(uv_write_t *request, int status)
{
    http_write *write = (http_write *)request;
    http_connection *connection = write->connection;
    bool interim = write->interim;

    free(write->bytes);
    free(write);

    if (status < 0) {
        if (status != UV_ECANCELED)
            log_debug("writing to HTTP client %s failed: %s", connection->peer,
                      uv_strerror(status));
        http_connection_close(connection);
        return;
    }
    if (interim || connection->state != HTTP_CONNECTION_WRITING)
        return;

    if (connection->close_after_write) {
        connection_linger(connection);
        return;
    }

    /* Pipelined requests wait in the input buffer for this moment. */
    connection->state = HTTP_CONNECTION_READING;
    connection_start_timer(connection, connection->server->limits.idle_timeout_ms);
    connection_parse_input(connection);
}

/* Queue bytes (taking ownership) for writing. */
static void connection_write(http_connection *connection, char *bytes,
                             size_t length, bool interim)
{
    http_write *write = malloc(sizeof(*write));
    uv_buf_t buffer = uv_buf_init(bytes, (unsigned)length);
    int result;

    if (write == NULL) {
        log_error("cannot send a response to HTTP client %s: out of memory",
                  connection->peer);
        free(bytes);
        http_connection_close(connection);
        return;
    }
    write->connection = connection;
    write->interim = interim;
    write->bytes = bytes;

    result = uv_write(&write->request, (uv_stream_t *)&connection->tcp, &buffer, 1,
                      on_write);
    if (result < 0) {
        log_debug("writing to HTTP client %s failed: %s", connection->peer,
                  uv_strerror(result));
        free(bytes);
        free(write);
        http_connection_close(connection);
    }
}

/* Move to WRITING and queue the final response to the current request. */
static void connection_write_response(http_connection *connection, char *bytes,
                                      size_t length, bool keep_alive)
{
    connection->state = HTTP_CONNECTION_WRITING;
    connection->close_after_write = !keep_alive;
    connection_update_reading(connection);
    connection_start_timer(connection, connection->server->limits.idle_timeout_ms);
    connection_write(connection, bytes, length, false);
}

void http_connection_send_response(http_connection *connection, char *bytes,
                                   size_t length, bool keep_alive)
{
    if (connection->state != HTTP_CONNECTION_HANDLING) {
        log_error("HTTP response to %s dropped: the connection has no request "
                  "waiting for a response",
                  connection->peer);
        free(bytes);
        return;
    }
    connection->request = NULL;
    if (bytes == NULL) {
        log_error("cannot send a response to HTTP client %s: out of memory",
                  connection->peer);
        http_connection_close(connection);
        return;
    }
    connection_write_response(connection, bytes, length,
                              keep_alive && !connection->server->stopping);
}

/* Respond to a request that could not be parsed or accepted, then close. */
static void connection_fail(http_connection *connection, enum http_errno error)
{
    char message[sizeof(connection->failure_message) + 64];
    int status = 400;
    size_t length;
    char *bytes;

    if (connection->failure_status != 0) {
        status = connection->failure_status;
        snprintf(message, sizeof(message), "%s", connection->failure_message);
    } else if (error == HPE_HEADER_OVERFLOW) {
        status = 431;
        snprintf(message, sizeof(message),
                 "request line and headers are larger than the limit of %zu "
                 "bytes; send fewer or shorter headers",
                 connection->server->limits.max_header_size);
    } else {
        snprintf(message, sizeof(message), "malformed HTTP request: %s",
                 http_errno_description(error));
    }
    log_debug("rejecting a request from HTTP client %s with status %d: %s",
              connection->peer, status, message);

    http_request_destroy(connection->request);
    connection->request = NULL;
    connection_drop_input(connection, connection->input_length);

    bytes = http_server_format_error(status, message, false, &length);
    if (bytes == NULL) {
        http_connection_close(connection);
        return;
    }
    connection_write_response(connection, bytes, length, false);
}

/* Pass the complete request to the handler. The handler may respond at
 * once, respond later or stop the server, and each of those moves the
 * connection out of HANDLING. */
static void connection_dispatch(http_connection *connection)
{
    http_server *server = connection->server;
    http_request *request = connection->request;

    connection->state = HTTP_CONNECTION_HANDLING;
    uv_timer_stop(&connection->timer);
    connection_update_reading(connection);

    /* Requests after the last one of a connection get no response. */
    if (!request->keep_alive)
        connection_drop_input(connection, connection->input_length);

    server->handler(request, server->user_data);
}

static int on_message_begin(http_parser *parser)
{
    http_connection *connection = parser->data;

    connection->failure_status = 0;
    connection_start_timer(connection, connection->server->limits.request_timeout_ms);
    connection->request = http_request_create(connection);
    if (connection->request == NULL) {
        connection_set_failure(connection, 500,
                               "server out of memory while reading the request");
        return -1;
    }
    return 0;
}

static int on_url(http_parser *parser, const char *at, size_t length)
{
    http_connection *connection = parser->data;

    if (http_request_append_url(connection->request, at, length) < 0) {
        connection_set_failure(connection, 500,
                               "server out of memory while reading the request");
        return -1;
    }
    return 0;
}

static int append_header(http_parser *parser, bool is_value, const char *at,
                         size_t length)
{
    http_connection *connection = parser->data;

    if (http_request_append_header(connection->request, is_value, at, length) < 0) {
        connection_set_failure(connection, 500,
                               "server out of memory while reading the request");
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *parser, const char *at, size_t length)
{
    return append_header(parser, false, at, length);
}

static int on_header_value(http_parser *parser, const char *at, size_t length)
{
    return append_header(parser, true, at, length);
}

static void body_limit_message(http_connection *connection, char *message,
                               size_t size)
{
    snprintf(message, size,
             "request body is larger than the limit of %zu bytes; send a "
             "smaller body",
             connection->server->limits.max_body_size);
}

static int on_headers_complete(http_parser *parser)
{
    http_connection *connection = parser->data;
    http_request *request = connection->request;
    const char *expect;
    char message[sizeof(connection->failure_message)];

    request->method = http_method_str((enum http_method)parser->method);
    if (http_request_finish_headers(request) < 0) {
        connection_set_failure(connection, 500,
                               "server out of memory while reading the request");
        return -1;
    }

    /* Return -1, not 1: http-parser reads 1 as "this message has no body". */
    if ((parser->flags & F_CONTENTLENGTH) &&
        parser->content_length > connection->server->limits.max_body_size) {
        body_limit_message(connection, message, sizeof(message));
        connection_set_failure(connection, 413, message);
        return -1;
    }

    /* RFC 9110 section 10.1.1: an HTTP/1.1 client may wait for this interim
     * response before it sends the body. */
    expect = http_request_header(request, "Expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
        (parser->http_major > 1 || (parser->http_major == 1 && parser->http_minor >= 1))) {
        static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
        char *bytes = strdup(interim);

        if (bytes != NULL)
            connection_write(connection, bytes, sizeof(interim) - 1, true);
    }
    return 0;
}

static int on_body(http_parser *parser, const char *at, size_t length)
{
    http_connection *connection = parser->data;
    http_request *request = connection->request;
    char message[sizeof(connection->failure_message)];

    /* Chunked bodies announce no size, so the limit is checked as they grow. */
    if (length > connection->server->limits.max_body_size - request->body.length) {
        body_limit_message(connection, message, sizeof(message));
        connection_set_failure(connection, 413, message);
        return -1;
    }
    if (http_request_append_body(request, at, length) < 0) {
        connection_set_failure(connection, 500,
                               "server out of memory while reading the request");
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *parser)
{
    http_connection *connection = parser->data;
    http_request *request = connection->request;

    /* This server speaks no other protocol after an Upgrade or CONNECT. */
    request->keep_alive = http_should_keep_alive(parser) && !parser->upgrade;

    /* Pausing makes http_parser_execute() return right after this request,
     * leaving pipelined bytes unparsed until the response is written. */
    http_parser_pause(parser, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void connection_parse_input(http_connection *connection)
{
    while (connection->state == HTTP_CONNECTION_READING &&
           connection->input_length > 0) {
        size_t parsed = http_parser_execute(&connection->parser, &parser_settings,
                                            connection->input,
                                            connection->input_length);
        enum http_errno error = HTTP_PARSER_ERRNO(&connection->parser);

        connection_drop_input(connection, parsed);
        if (error == HPE_PAUSED) {
            http_parser_pause(&connection->parser, 0);
            connection_dispatch(connection);
        } else if (error != HPE_OK) {
            connection_fail(connection, error);
        } else if (connection->input_length > 0) {
            /* http-parser stops early without an error only after an
             * upgrade, and our pause in on_message_complete comes first. */
            connection_fail(connection, HPE_INVALID_INTERNAL_STATE);
        }
    }

    connection_update_reading(connection);
}

const char *http_request_peer(const http_request *request)
{
    return request->connection != NULL ? request->connection->peer : "unknown";
}

static void connection_describe_peer(http_connection *connection)
{
    struct sockaddr_storage address = {0};
    int length = sizeof(address);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (uv_tcp_getpeername(&connection->tcp, (struct sockaddr *)&address, &length) == 0) {
        if (address.ss_family == AF_INET6) {
            const struct sockaddr_in6 *ipv6 = (const struct sockaddr_in6 *)&address;

            uv_ip6_name(ipv6, host, sizeof(host));
            port = ntohs(ipv6->sin6_port);
        } else if (address.ss_family == AF_INET) {
            const struct sockaddr_in *ipv4 = (const struct sockaddr_in *)&address;

            uv_ip4_name(ipv4, host, sizeof(host));
            port = ntohs(ipv4->sin_port);
        }
    }
    snprintf(connection->peer, sizeof(connection->peer),
             address.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* Log rejections at max_connections at most once per interval, with the
 * count since the last line, so that many clients cannot flood the log. */
static void log_rejection(http_server *server, const char *peer)
{
    const uint64_t interval_ms = 10000;
    uint64_t now = uv_now(server->loop);

    server->rejections_not_logged++;
    if (server->rejection_logged_at_ms != 0 &&
        now - server->rejection_logged_at_ms < interval_ms)
        return;

    log_warn("HTTP server on %s closed %u new connection(s), the last from %s, "
             "because max_connections (%u) connections are open; raise "
             "max_connections or close idle clients",
             server->address, server->rejections_not_logged, peer,
             server->limits.max_connections);
    server->rejections_not_logged = 0;
    server->rejection_logged_at_ms = now ? now : 1;
}

/* Allocate a connection in READING state and link it into the server's
 * list. Its socket is not open yet. */
static http_connection *connection_create(http_server *server)
{
    http_connection *connection = calloc(1, sizeof(*connection));

    if (connection == NULL)
        return NULL;

    connection->server = server;
    connection->state = HTTP_CONNECTION_READING;
    uv_tcp_init(server->loop, &connection->tcp);
    uv_timer_init(server->loop, &connection->timer);
    connection->tcp.data = connection;
    connection->timer.data = connection;
    connection->open_handles = 2;
    connection->next = server->connections;
    if (server->connections != NULL)
        server->connections->previous = connection;
    server->connections = connection;
    server->open_connections++;
    return connection;
}

/* Start serving a connection whose socket is open. */
static void connection_start(http_connection *connection)
{
    http_server *server = connection->server;

    connection_describe_peer(connection);

    if (server->open_connections > server->limits.max_connections) {
        log_rejection(server, connection->peer);
        http_connection_close(connection);
        return;
    }

    http_parser_init(&connection->parser, HTTP_REQUEST);
    connection->parser.data = connection;
    uv_tcp_nodelay(&connection->tcp, 1);
    connection_start_timer(connection, server->limits.idle_timeout_ms);
    connection_update_reading(connection);
}

void http_connection_accept(http_server *server)
{
    http_connection *connection = connection_create(server);
    int result;

    /* NOTE: libuv stops watching the listener until uv_accept() is called,
     * so after this error no client is accepted any more. */
    if (connection == NULL) {
        log_error("HTTP server on %s cannot accept a connection: out of memory",
                  server->address);
        return;
    }

    result = uv_accept((uv_stream_t *)&server->listener, (uv_stream_t *)&connection->tcp);
    if (result < 0) {
        log_warn("HTTP server on %s cannot accept a connection: %s",
                 server->address, uv_strerror(result));
        http_connection_close(connection);
        return;
    }
    connection_start(connection);
}

int http_connection_open(http_server *server, uv_os_sock_t socket)
{
    http_connection *connection = connection_create(server);
    int result;

    if (connection == NULL)
        return UV_ENOMEM;

    result = uv_tcp_open(&connection->tcp, socket);
    if (result < 0) {
        http_connection_close(connection);
        return result;
    }
    connection_start(connection);
    return 0;
}
