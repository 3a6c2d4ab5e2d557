/*
 * HTTP/1.1 server: the listening socket, stopping, and the responses that
 * handlers send. Connections are in http_connection.c and parsed requests
 * in http_request.c.
 */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_server_internal.h"
#include "log.h"

#define HTTP_SERVER_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

void http_server_limits_default(http_server_limits *limits)
{
    /* http-parser's own default for the request line plus headers. */
    limits->max_header_size = 80 * 1024;
    limits->max_body_size = 8 * 1024 * 1024;
    limits->max_connections = 1024;
    limits->request_timeout_ms = 30000;
    limits->idle_timeout_ms = 60000;
}

static int check_timeout(const char *name, unsigned value, char *error, size_t error_size)
{
    if (value >= HTTP_SERVER_MIN_TIMEOUT_MS && value <= HTTP_SERVER_MAX_TIMEOUT_MS)
        return 0;
    snprintf(error, error_size, "invalid %s %u: use %d to %d milliseconds", name, value,
             HTTP_SERVER_MIN_TIMEOUT_MS, HTTP_SERVER_MAX_TIMEOUT_MS);
    return -1;
}

int http_server_limits_check(const http_server_limits *limits, char *error,
                             size_t error_size)
{
    if (limits->max_header_size < HTTP_SERVER_MIN_HEADER_SIZE ||
        limits->max_header_size > HTTP_SERVER_MAX_HEADER_SIZE_LIMIT) {
        snprintf(error, error_size, "invalid max_header_size %zu: use %d to %d bytes",
                 limits->max_header_size, HTTP_SERVER_MIN_HEADER_SIZE,
                 HTTP_SERVER_MAX_HEADER_SIZE_LIMIT);
        return -1;
    }
    if (limits->max_body_size == 0) {
        snprintf(error, error_size, "invalid max_body_size 0: use at least 1 byte");
        return -1;
    }
    if (limits->max_connections == 0) {
        snprintf(error, error_size, "invalid max_connections 0: use at least 1");
        return -1;
    }
    if (check_timeout("request_timeout_ms", limits->request_timeout_ms, error,
                      error_size) != 0)
        return -1;
    return check_timeout("idle_timeout_ms", limits->idle_timeout_ms, error, error_size);
}

int http_server_host_is_loopback(const char *host)
{
    char literal[INET6_ADDRSTRLEN + 16];
    size_t length = strlen(host);
    struct in_addr ipv4;
    struct in6_addr ipv6;

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']' &&
        length - 2 < sizeof(literal)) {
        memcpy(literal, host + 1, length - 2);
        literal[length - 2] = '\0';
    } else if (length < sizeof(literal)) {
        memcpy(literal, host, length + 1);
    } else {
        return 0;
    }

    if (inet_pton(AF_INET, literal, &ipv4) == 1)
        return (ntohl(ipv4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, literal, &ipv6) != 1)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK(&ipv6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&ipv6) && ipv6.s6_addr[12] == 127;
}

/* Fill address from a host literal ("localhost", IPv4, IPv6 with or without
 * brackets) and write "host:port" or "[host]:port" into label. */
static int parse_listen_address(const char *host, int port,
                                struct sockaddr_storage *address, char *label,
                                size_t label_size)
{
    char literal[INET6_ADDRSTRLEN + 16];
    size_t length = strlen(host);

    if (strcmp(host, "localhost") == 0) {
        snprintf(literal, sizeof(literal), "127.0.0.1");
    } else if (length >= 2 && host[0] == '[' && host[length - 1] == ']' &&
               length - 2 < sizeof(literal)) {
        memcpy(literal, host + 1, length - 2);
        literal[length - 2] = '\0';
    } else if (length < sizeof(literal)) {
        memcpy(literal, host, length + 1);
    } else {
        return UV_EINVAL;
    }

    if (uv_ip4_addr(literal, port, (struct sockaddr_in *)address) == 0) {
        snprintf(label, label_size, "%s:%d", literal, port);
        return 0;
    }
    if (uv_ip6_addr(literal, port, (struct sockaddr_in6 *)address) == 0) {
        snprintf(label, label_size, "[%s]:%d", literal, port);
        return 0;
    }
    return UV_EINVAL;
}

/* Bind and listen with plain sockets before any libuv handle exists, so a
 * failure leaves nothing behind that the loop would have to close. */
static int open_listening_socket(const struct sockaddr_storage *address, int *port,
                                 int *socket_fd)
{
    socklen_t length = address->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                      : sizeof(struct sockaddr_in);
    struct sockaddr_storage bound;
    socklen_t bound_length = sizeof(bound);
    int reuse = 1;
    int fd;
    int result = 0;

    fd = socket(address->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);

    /* A restarted wharfd must not fail on connections of the previous run
     * that are still in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0 ||
        bind(fd, (const struct sockaddr *)address, length) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &bound_length) < 0) {
        result = uv_translate_sys_error(errno);
        goto out;
    }

    *port = ntohs(bound.ss_family == AF_INET6
                      ? ((struct sockaddr_in6 *)&bound)->sin6_port
                      : ((struct sockaddr_in *)&bound)->sin_port);
    *socket_fd = fd;

out:
    if (result < 0)
        close(fd);
    return result;
}

/* libuv writes with write(2), so a write to a client that has gone away
 * raises SIGPIPE, and its default action ends the process. A handler that
 * someone else installed is kept. */
static void ignore_sigpipe(void)
{
    struct sigaction action;

    if (sigaction(SIGPIPE, NULL, &action) == 0 && action.sa_handler == SIG_DFL) {
        action.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &action, NULL);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    http_server *server = listener->data;

    /* NOTE: not rate-limited, and libuv reports EMFILE once per pending
     * client. */
    if (status < 0) {
        log_warn("HTTP server on %s cannot accept a connection: %s",
                 server->address, uv_strerror(status));
        return;
    }
    http_connection_accept(server);
}

static void on_failed_listener_closed(uv_handle_t *handle)
{
    free(handle->data);
}

int http_server_start(http_server **server_out, uv_loop_t *loop, const char *host,
                      int port, const http_server_limits *limits,
                      http_handler_fn handler, void *user_data, char *error,
                      size_t error_size)
{
    struct sockaddr_storage address = {0};
    http_server *server = NULL;
    char label[sizeof(server->address)];
    int fd = -1;
    int result;

    *server_out = NULL;
    if (host == NULL || handler == NULL) {
        snprintf(error, error_size, "cannot start the HTTP server: %s is NULL",
                 host == NULL ? "host" : "handler");
        return UV_EINVAL;
    }
    if (port < 0 || port > 65535) {
        snprintf(error, error_size,
                 "invalid listen port %d: use 0 to 65535 (0 picks a free port)", port);
        return UV_EINVAL;
    }
    if (limits != NULL && http_server_limits_check(limits, error, error_size) != 0)
        return UV_EINVAL;
    if (parse_listen_address(host, port, &address, label, sizeof(label)) < 0) {
        snprintf(error, error_size,
                 "invalid listen host \"%s\": use an IPv4 or IPv6 address or "
                 "localhost",
                 host);
        return UV_EINVAL;
    }

    server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(error, error_size, "cannot listen on %s: out of memory", label);
        return UV_ENOMEM;
    }
    server->loop = loop;
    server->handler = handler;
    server->user_data = user_data;
    if (limits != NULL)
        server->limits = *limits;
    else
        http_server_limits_default(&server->limits);

    result = open_listening_socket(&address, &server->port, &fd);
    if (result < 0) {
        snprintf(error, error_size, "cannot listen on %s: %s", label,
                 uv_strerror(result));
        free(server);
        return result;
    }

    /* The label now names the bound port, which differs when port was 0. */
    if (parse_listen_address(host, server->port, &address, server->address,
                             sizeof(server->address)) < 0)
        snprintf(server->address, sizeof(server->address), "%s", label);

    ignore_sigpipe();
    /* NOTE: http-parser keeps this limit process-wide, so a second server
     * in the same process with another limit would change this one's. */
    http_parser_set_max_header_size((uint32_t)server->limits.max_header_size);

    uv_tcp_init(loop, &server->listener);
    server->listener.data = server;
    result = uv_tcp_open(&server->listener, fd);
    if (result < 0)
        close(fd);
    else
        result = uv_listen((uv_stream_t *)&server->listener, SOMAXCONN, on_connection);
    if (result < 0) {
        /* NOTE: the server is freed once the loop runs the close callback. */
        snprintf(error, error_size, "cannot listen on %s: %s", server->address,
                 uv_strerror(result));
        uv_close((uv_handle_t *)&server->listener, on_failed_listener_closed);
        return result;
    }

    log_debug("HTTP server listening on %s", server->address);
    *server_out = server;
    return 0;
}

int http_server_port(const http_server *server)
{
    return server->port;
}

/* Free the server once the listener and every connection have closed. */
static void finish_stop(http_server *server)
{
    void (*stopped)(void *) = server->stopped;
    void *stopped_arg = server->stopped_arg;

    if (!server->stopping || !server->listener_closed || server->connections != NULL)
        return;

    log_debug("HTTP server on %s stopped", server->address);
    free(server);
    if (stopped != NULL)
        stopped(stopped_arg);
}

void http_server_connection_freed(http_server *server)
{
    finish_stop(server);
}

static void on_listener_closed(uv_handle_t *handle)
{
    http_server *server = handle->data;

    server->listener_closed = true;
    finish_stop(server);
}

/* A second call does nothing, so only the first done callback runs. */
void http_server_stop(http_server *server, void (*done)(void *), void *arg)
{
    if (server->stopping)
        return;

    server->stopping = true;
    server->stopped = done;
    server->stopped_arg = arg;
    uv_close((uv_handle_t *)&server->listener, on_listener_closed);
    http_connection_close_all(server);
}

/* The Date header in the fixed format of RFC 9110 section 5.6.7, written
 * without strftime() so that the locale cannot change the names. */
static void format_date(char *date, size_t size)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm utc;

    gmtime_r(&now, &utc);
    snprintf(date, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[utc.tm_wday],
             utc.tm_mday, months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour,
             utc.tm_min, utc.tm_sec);
}

char *http_server_format_response(int status, const char *content_type,
                                  const char *extra_headers, const char *body,
                                  size_t body_size, bool keep_alive, bool head_only,
                                  size_t *length)
{
    /* RFC 9110 section 8.6: these responses have no Content-Length and no
     * body. */
    bool has_body = status != 204 && status != 304;
    const char *reason = http_status_str((enum http_status)status);
    const char *connection = keep_alive ? "keep-alive" : "close";
    char date[40];
    char type_line[256] = "";
    char length_line[48] = "";
    size_t body_sent = has_body && !head_only ? body_size : 0;
    int head_length;
    char *bytes;

    /* The reason phrase is optional, and http-parser 2.9 has one for every
     * status that wharfd sends. */
    if (strcmp(reason, "<unknown>") == 0)
        reason = "";
    format_date(date, sizeof(date));
    if (has_body && content_type != NULL)
        snprintf(type_line, sizeof(type_line), "Content-Type: %s\r\n", content_type);
    if (has_body)
        snprintf(length_line, sizeof(length_line), "Content-Length: %zu\r\n",
                 body_size);

    if (extra_headers == NULL)
        extra_headers = "";
    head_length = snprintf(NULL, 0, "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%sConnection: %s\r\n\r\n",
                           status, reason, date, type_line, length_line, extra_headers,
                           connection);
    bytes = malloc((size_t)head_length + 1 + body_sent);
    if (bytes == NULL)
        return NULL;
    snprintf(bytes, (size_t)head_length + 1,
             "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%sConnection: %s\r\n\r\n", status,
             reason, date, type_line, length_line, extra_headers, connection);
    if (body_sent > 0)
        memcpy(bytes + head_length, body, body_sent);

    *length = (size_t)head_length + body_sent;
    return bytes;
}

char *http_server_format_error(int status, const char *message, bool keep_alive,
                               size_t *length)
{
    json_object *object = json_object_new_object();
    const char *text;
    char *bytes = NULL;

    if (object == NULL)
        return NULL;
    if (json_object_object_add(object, "error", json_object_new_string(message)) == 0) {
        text = json_object_to_json_string_ext(object, HTTP_SERVER_JSON_FLAGS);
        if (text != NULL)
            bytes = http_server_format_response(status, "application/json", NULL, text,
                                                strlen(text), keep_alive, false,
                                                length);
    }
    json_object_put(object);
    return bytes;
}

void http_respond(http_request *request, int status, const char *content_type,
                  const char *body, size_t body_size)
{
    http_connection *connection = request->connection;
    bool head_only = strcmp(request->method, "HEAD") == 0;
    bool keep_alive = request->keep_alive;
    size_t length = 0;
    char *bytes = NULL;

    /* The client went away or the server stopped, so the response is
     * dropped. */
    if (connection != NULL && (status < 200 || status > 599)) {
        log_error("HTTP handler responded with status %d, which is not a final "
                  "status (200 to 599); sending 500 instead",
                  status);
        bytes = http_server_format_error(500, "internal error: invalid HTTP status",
                                         keep_alive, &length);
    } else if (connection != NULL) {
        bytes = http_server_format_response(status, content_type,
                                            request->response_headers.data, body,
                                            body_size, keep_alive, head_only, &length);
    }

    http_request_destroy(request);
    if (connection != NULL)
        http_connection_send_response(connection, bytes, length, keep_alive);
}

void http_respond_json(http_request *request, int status, json_object *object)
{
    const char *text = json_object_to_json_string_ext(object, HTTP_SERVER_JSON_FLAGS);

    if (text == NULL) {
        json_object_put(object);
        http_respond_error(request, 500,
                           "cannot serialize the JSON response: out of memory");
        return;
    }
    http_respond(request, status, "application/json", text, strlen(text));
    json_object_put(object);
}

void http_respond_error(http_request *request, int status, const char *format, ...)
{
    static const char fallback[] = "{\"error\":\"out of memory\"}";
    json_object *object = json_object_new_object();
    char *message = NULL;
    va_list args;

    va_start(args, format);
    if (vasprintf(&message, format, args) < 0)
        message = NULL;
    va_end(args);

    if (object == NULL || message == NULL ||
        json_object_object_add(object, "error", json_object_new_string(message)) < 0) {
        json_object_put(object);
        free(message);
        http_respond(request, status, "application/json", fallback, sizeof(fallback) - 1);
        return;
    }
    free(message);
    http_respond_json(request, status, object);
}
