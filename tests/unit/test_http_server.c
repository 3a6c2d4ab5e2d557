/*
 * Unit tests of the HTTP server (core/http_server.c, http_connection.c,
 * http_request.c). The server runs on its own uv loop in a background
 * thread; the tests talk to it over loopback with blocking sockets. Every
 * wait has a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "http_server.h"

/* Upper bound for any single wait on the server. */
#define WAIT_MS 5000

typedef struct test_server {
    uv_loop_t loop;
    uv_async_t wakeup; /* wakes the loop thread to stop the server */
    uv_thread_t thread;
    http_server *server;
    int port;

    /* Loop thread only. */
    bool stop_called;
    http_request *held; /* a /hold request, which gets no response */

    atomic_int stopped;          /* http_server_stop's done callback ran */
    atomic_int loop_finished;    /* uv_run returned */
    atomic_int requests_handled; /* handler calls */
    atomic_int delayed_responses;  /* responses sent from a timer */
    atomic_int held_requests;
} test_server;

typedef struct delayed_response {
    uv_timer_t timer;
    http_request *request;
    test_server *fixture;
} delayed_response;

typedef struct client {
    int fd;
    char buffer[64 * 1024];
    size_t length;
} client;

typedef struct response {
    int status;
    char status_line[128];
    char headers[4096]; /* the header lines, "\r\n"-separated */
    char body[16 * 1024];
    size_t body_size;
} response;

static int64_t now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void sleep_ms(int milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};

    nanosleep(&pause, NULL);
}

static bool wait_for_count(atomic_int *counter, int expected, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    while (atomic_load(counter) < expected) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(5);
    }
    return true;
}

/* ---- the handler, on the loop thread ---------------------------------- */

static void add_param(json_object *params, const http_request *request,
                      const char *name, size_t buffer_size)
{
    char buffer[256];
    const char *value = http_request_query_param(request, name, buffer, buffer_size);

    json_object_object_add(params, name, value ? json_object_new_string(value) : NULL);
}

static void add_header(json_object *headers, const http_request *request,
                       const char *name)
{
    const char *value = http_request_header(request, name);

    json_object_object_add(headers, name, value ? json_object_new_string(value) : NULL);
}

/* Describe the request as JSON: method, path, query, some decoded query
 * parameters, some headers and the body. */
static json_object *echo_request(const http_request *request, bool delayed)
{
    json_object *echo = json_object_new_object();
    json_object *params = json_object_new_object();
    json_object *headers = json_object_new_object();
    size_t body_size = 0;
    const char *body = http_request_body(request, &body_size);

    json_object_object_add(echo, "method", json_object_new_string(http_request_method(request)));
    json_object_object_add(echo, "path", json_object_new_string(http_request_path(request)));
    json_object_object_add(echo, "query", json_object_new_string(http_request_query(request)));

    add_param(params, request, "q", 256);
    add_param(params, request, "name", 256);
    add_param(params, request, "encoded_name", 256);
    add_param(params, request, "flag", 256);
    add_param(params, request, "empty", 256);
    add_param(params, request, "bad", 256);
    add_param(params, request, "missing", 256);
    add_param(params, request, "fits", 8);
    add_param(params, request, "too_long", 8);
    json_object_object_add(echo, "params", params);

    /* Looked up in other letter cases than the client sends. */
    add_header(headers, request, "x-test");
    add_header(headers, request, "X-DUPLICATE");
    add_header(headers, request, "x-empty");
    add_header(headers, request, "x-trailer");
    add_header(headers, request, "x-absent");
    json_object_object_add(echo, "headers", headers);

    json_object_object_add(echo, "body", json_object_new_string_len(body, (int)body_size));
    json_object_object_add(echo, "body_size", json_object_new_int64((int64_t)body_size));
    json_object_object_add(echo, "body_terminated", json_object_new_boolean(body[body_size] == '\0'));
    json_object_object_add(echo, "delayed", json_object_new_boolean(delayed));
    return echo;
}

static void on_delay_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void on_delay_timer(uv_timer_t *timer)
{
    delayed_response *delay = timer->data;

    http_respond_json(delay->request, 200, echo_request(delay->request, true));
    atomic_fetch_add(&delay->fixture->delayed_responses, 1);
    uv_close((uv_handle_t *)timer, on_delay_closed);
}

static void on_server_stopped(void *arg)
{
    test_server *fixture = arg;

    /* The connection of the held request is gone, so this response must only
     * free the request (LeakSanitizer checks that). */
    if (fixture->held != NULL) {
        http_respond(fixture->held, 200, "text/plain", "late", 4);
        fixture->held = NULL;
    }
    atomic_store(&fixture->stopped, 1);
}

static void test_handler(http_request *request, void *user_data)
{
    test_server *fixture = user_data;
    const char *path = http_request_path(request);
    char value[32];

    atomic_fetch_add(&fixture->requests_handled, 1);

    if (strcmp(path, "/hold") == 0) {
        fixture->held = request;
        atomic_fetch_add(&fixture->held_requests, 1);
        return;
    }
    if (strcmp(path, "/stop") == 0) {
        fixture->stop_called = true;
        http_server_stop(fixture->server, on_server_stopped, fixture);
        http_respond(request, 200, "text/plain", "dropped", 7);
        return;
    }
    if (strcmp(path, "/status") == 0 &&
        http_request_query_param(request, "code", value, sizeof(value)) != NULL) {
        http_respond(request, atoi(value), "text/plain", "status body", 11);
        return;
    }
    if (strcmp(path, "/error") == 0) {
        http_respond_error(request, 422, "value %d is \"invalid\"/wrong", 42);
        return;
    }
    if (strcmp(path, "/challenge") == 0) {
        /* Invalid names and values are rejected and leave no trace. */
        if (http_request_add_response_header(request, "X-Split", "a\r\nSet-Cookie: b") !=
                -EINVAL ||
            http_request_add_response_header(request, "Bad Name", "value") != -EINVAL ||
            http_request_add_response_header(request, "", "value") != -EINVAL ||
            http_request_add_response_header(request, "WWW-Authenticate",
                                             "Bearer realm=\"test\"") != 0 ||
            http_request_add_response_header(request, "X-Second", "") != 0) {
            http_respond(request, 500, "text/plain", "add failed", 10);
            return;
        }
        http_respond_error(request, 401, "missing token");
        return;
    }
    if (http_request_query_param(request, "delay_ms", value, sizeof(value)) != NULL) {
        delayed_response *delay = calloc(1, sizeof(*delay));

        delay->request = request;
        delay->fixture = fixture;
        delay->timer.data = delay;
        uv_timer_init(&fixture->loop, &delay->timer);
        uv_timer_start(&delay->timer, on_delay_timer, (uint64_t)atoi(value), 0);
        return;
    }
    http_respond_json(request, 200, echo_request(request, false));
}

/* ---- the server fixture ----------------------------------------------- */

static void on_wakeup(uv_async_t *async)
{
    test_server *fixture = async->data;

    if (!fixture->stop_called) {
        fixture->stop_called = true;
        http_server_stop(fixture->server, on_server_stopped, fixture);
    }
    uv_close((uv_handle_t *)async, NULL);
}

static void run_loop(void *arg)
{
    test_server *fixture = arg;

    uv_run(&fixture->loop, UV_RUN_DEFAULT);
    atomic_store(&fixture->loop_finished, 1);
}

static void start_server_on(test_server *fixture, const char *host,
                            const http_server_limits *limits)
{
    char error[256] = "";
    int result;

    memset(fixture, 0, sizeof(*fixture));
    assert_int_equal(uv_loop_init(&fixture->loop), 0);

    result = http_server_start(&fixture->server, &fixture->loop, host, 0, limits,
                               test_handler, fixture, error, sizeof(error));
    if (result != 0)
        fail_msg("http_server_start on %s failed: %s", host, error);
    fixture->port = http_server_port(fixture->server);
    assert_true(fixture->port > 0);

    fixture->wakeup.data = fixture;
    assert_int_equal(uv_async_init(&fixture->loop, &fixture->wakeup, on_wakeup), 0);
    assert_int_equal(uv_thread_create(&fixture->thread, run_loop, fixture), 0);
}

static void start_server(test_server *fixture, const http_server_limits *limits)
{
    start_server_on(fixture, "127.0.0.1", limits);
}

/* Stop the server from the loop thread and wait until every handle of the
 * loop has closed. */
static void stop_server(test_server *fixture)
{
    uv_async_send(&fixture->wakeup);

    /* A loop that never finishes would leave the thread running into the
     * next test, so give up on the whole run instead. */
    if (!wait_for_count(&fixture->loop_finished, 1, WAIT_MS)) {
        fprintf(stderr, "the server loop did not finish within %d ms after stop\n",
                WAIT_MS);
        abort();
    }
    uv_thread_join(&fixture->thread);
    assert_int_equal(atomic_load(&fixture->stopped), 1);
    assert_int_equal(uv_loop_close(&fixture->loop), 0);
}

/* ---- the client, on the test thread ------------------------------------ */

static void client_connect_to(client *c, int family, int port)
{
    struct sockaddr_storage address = {0};
    socklen_t length;
    int one = 1;

    c->length = 0;
    c->fd = socket(family, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (family == AF_INET6) {
        struct sockaddr_in6 *ipv6 = (struct sockaddr_in6 *)&address;

        ipv6->sin6_family = AF_INET6;
        ipv6->sin6_port = htons((uint16_t)port);
        ipv6->sin6_addr = in6addr_loopback;
        length = sizeof(*ipv6);
    } else {
        struct sockaddr_in *ipv4 = (struct sockaddr_in *)&address;

        ipv4->sin_family = AF_INET;
        ipv4->sin_port = htons((uint16_t)port);
        ipv4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof(*ipv4);
    }
    assert_int_equal(connect(c->fd, (struct sockaddr *)&address, length), 0);
}

static void client_connect(client *c, int port)
{
    client_connect_to(c, AF_INET, port);
}

static void client_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void client_send_bytes(client *c, const char *bytes, size_t length)
{
    while (length > 0) {
        ssize_t sent = send(c->fd, bytes, length, MSG_NOSIGNAL);

        assert_true(sent > 0);
        bytes += sent;
        length -= (size_t)sent;
    }
}

static void client_send(client *c, const char *text)
{
    client_send_bytes(c, text, strlen(text));
}

/* Read more bytes before the deadline. Returns false on end of stream,
 * error or timeout. */
static bool client_fill(client *c, int64_t deadline)
{
    struct pollfd poll_fd = {.fd = c->fd, .events = POLLIN};
    int64_t remaining = deadline - now_ms();
    ssize_t received;

    if (remaining <= 0 || c->length == sizeof(c->buffer))
        return false;
    if (poll(&poll_fd, 1, (int)remaining) <= 0)
        return false;
    received = recv(c->fd, c->buffer + c->length, sizeof(c->buffer) - c->length, 0);
    if (received <= 0)
        return false;
    c->length += (size_t)received;
    return true;
}

static const char *find_header(const char *headers, const char *name,
                               char *value, size_t value_size)
{
    size_t name_length = strlen(name);
    const char *line = headers;

    while (*line != '\0') {
        const char *end = strstr(line, "\r\n");
        size_t line_length = end ? (size_t)(end - line) : strlen(line);

        if (line_length > name_length && line[name_length] == ':' &&
            strncasecmp(line, name, name_length) == 0) {
            const char *start = line + name_length + 1;
            size_t length = line_length - name_length - 1;

            while (length > 0 && *start == ' ') {
                start++;
                length--;
            }
            if (length >= value_size)
                length = value_size - 1;
            memcpy(value, start, length);
            value[length] = '\0';
            return value;
        }
        line += line_length;
        if (*line != '\0')
            line += 2;
    }
    return NULL;
}

static const char *response_header(response *r, const char *name)
{
    static char value[512];

    return find_header(r->headers, name, value, sizeof(value));
}

/* Read one whole response (head and body) within WAIT_MS. A response to
 * HEAD has no body whatever its Content-Length says. Returns false if the
 * connection ended or the time ran out first. */
static bool client_read_response_to(client *c, response *r, bool to_head)
{
    int64_t deadline = now_ms() + WAIT_MS;
    char *head_end;
    size_t head_length;
    size_t body_length = 0;
    char value[64];
    const char *first_line_end;

    memset(r, 0, sizeof(*r));
    for (;;) {
        head_end = memmem(c->buffer, c->length, "\r\n\r\n", 4);
        if (head_end != NULL)
            break;
        if (!client_fill(c, deadline))
            return false;
    }
    head_length = (size_t)(head_end - c->buffer) + 4;

    first_line_end = memmem(c->buffer, head_length, "\r\n", 2);
    snprintf(r->status_line, sizeof(r->status_line), "%.*s",
             (int)(first_line_end - c->buffer), c->buffer);
    if (sscanf(r->status_line, "HTTP/1.1 %d", &r->status) != 1)
        return false;
    snprintf(r->headers, sizeof(r->headers), "%.*s",
             (int)(head_end - first_line_end - 2), first_line_end + 2);

    if (find_header(r->headers, "Content-Length", value, sizeof(value)) != NULL)
        body_length = strtoul(value, NULL, 10);
    if (r->status < 200 || r->status == 204 || r->status == 304 || to_head)
        body_length = 0;
    if (body_length >= sizeof(r->body))
        return false;

    while (c->length < head_length + body_length) {
        if (!client_fill(c, deadline))
            return false;
    }
    memcpy(r->body, c->buffer + head_length, body_length);
    r->body[body_length] = '\0';
    r->body_size = body_length;

    memmove(c->buffer, c->buffer + head_length + body_length,
            c->length - head_length - body_length);
    c->length -= head_length + body_length;
    return true;
}

static bool client_read_response(client *c, response *r)
{
    return client_read_response_to(c, r, false);
}

/* True if the server closes the connection (end of stream or reset) within
 * timeout_ms without sending anything more. */
static bool client_wait_closed(client *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;

    if (c->length > 0)
        return false;
    for (;;) {
        struct pollfd poll_fd = {.fd = c->fd, .events = POLLIN};
        int64_t remaining = deadline - now_ms();
        char byte;
        ssize_t received;

        if (remaining <= 0 || poll(&poll_fd, 1, (int)remaining) <= 0)
            return false;
        received = recv(c->fd, &byte, 1, 0);
        if (received == 0 || (received < 0 && errno == ECONNRESET))
            return true;
        if (received > 0)
            return false;
    }
}

static json_object *response_json(response *r)
{
    json_object *object = json_tokener_parse(r->body);

    if (object == NULL)
        fail_msg("response body is not JSON: %s", r->body);
    return object;
}

static const char *json_string_at(json_object *object, const char *first,
                                  const char *second)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(object, first, &value))
        return "<missing>";
    if (second != NULL && !json_object_object_get_ex(value, second, &value))
        return "<missing>";
    if (value == NULL)
        return "<null>";
    return json_object_get_string(value);
}

static int64_t json_int_at(json_object *object, const char *name)
{
    json_object *value = NULL;

    assert_true(json_object_object_get_ex(object, name, &value));
    return json_object_get_int64(value);
}

/* Send one request on a new connection and read its response. */
static void exchange(int port, const char *request, response *r)
{
    client c;

    client_connect(&c, port);
    client_send(&c, request);
    assert_true(client_read_response(&c, r));
    client_close(&c);
}

/* ---- tests ------------------------------------------------------------- */

static void test_simple_get(void **state)
{
    test_server fixture;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port, "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);

    assert_string_equal(r.status_line, "HTTP/1.1 200 OK");
    assert_string_equal(response_header(&r, "Content-Type"), "application/json");
    assert_string_equal(response_header(&r, "Connection"), "keep-alive");
    assert_non_null(response_header(&r, "Date"));
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "method", NULL), "GET");
    assert_string_equal(json_string_at(echo, "path", NULL), "/hello");
    assert_string_equal(json_string_at(echo, "query", NULL), "");
    assert_int_equal(json_int_at(echo, "body_size"), 0);
    json_object_put(echo);

    stop_server(&fixture);
}

static void test_query_parameters(void **state)
{
    test_server fixture;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port,
             "GET /search?q=hello%20world&name=a+b%2Bc%26d&encoded%5Fname=yes&flag"
             "&empty=&bad=%zz%4&q=second&fits=1234567&too_long=12345678 HTTP/1.1\r\n"
             "\r\n",
             &r);

    assert_int_equal(r.status, 200);
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "path", NULL), "/search");
    assert_string_equal(json_string_at(echo, "query", NULL),
                        "q=hello%20world&name=a+b%2Bc%26d&encoded%5Fname=yes&flag"
                        "&empty=&bad=%zz%4&q=second&fits=1234567&too_long=12345678");
    assert_string_equal(json_string_at(echo, "params", "q"), "hello world");
    assert_string_equal(json_string_at(echo, "params", "name"), "a b+c&d");
    assert_string_equal(json_string_at(echo, "params", "encoded_name"), "yes");
    assert_string_equal(json_string_at(echo, "params", "flag"), "");
    assert_string_equal(json_string_at(echo, "params", "empty"), "");
    assert_string_equal(json_string_at(echo, "params", "bad"), "%zz%4");
    assert_string_equal(json_string_at(echo, "params", "missing"), "<null>");
    assert_string_equal(json_string_at(echo, "params", "fits"), "1234567");
    assert_string_equal(json_string_at(echo, "params", "too_long"), "<null>");
    json_object_put(echo);

    /* An absolute-form target still splits into path and query. */
    exchange(fixture.port, "GET http://localhost/abs/path?q=x HTTP/1.1\r\n\r\n", &r);
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "path", NULL), "/abs/path");
    assert_string_equal(json_string_at(echo, "params", "q"), "x");
    json_object_put(echo);

    stop_server(&fixture);
}

static void test_header_lookup(void **state)
{
    test_server fixture;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port,
             "GET / HTTP/1.1\r\nX-Test: one\r\nX-Duplicate: first\r\n"
             "x-duplicate: second\r\nX-Empty:\r\n\r\n",
             &r);

    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "headers", "x-test"), "one");
    assert_string_equal(json_string_at(echo, "headers", "X-DUPLICATE"), "first");
    assert_string_equal(json_string_at(echo, "headers", "x-empty"), "");
    assert_string_equal(json_string_at(echo, "headers", "x-absent"), "<null>");
    json_object_put(echo);

    stop_server(&fixture);
}

static void test_post_content_length(void **state)
{
    test_server fixture;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port,
             "POST /items HTTP/1.1\r\nContent-Type: application/json\r\n"
             "Content-Length: 14\r\n\r\n{\"name\":\"abc\"}",
             &r);

    assert_int_equal(r.status, 200);
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "method", NULL), "POST");
    assert_string_equal(json_string_at(echo, "body", NULL), "{\"name\":\"abc\"}");
    assert_int_equal(json_int_at(echo, "body_size"), 14);
    assert_string_equal(json_string_at(echo, "body_terminated", NULL), "true");
    json_object_put(echo);

    stop_server(&fixture);
}

static void test_chunked_body(void **state)
{
    test_server fixture;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port,
             "POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "6\r\nhello \r\n5;name=value\r\nworld\r\n0\r\nX-Trailer: end\r\n\r\n",
             &r);

    assert_int_equal(r.status, 200);
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "body", NULL), "hello world");
    assert_int_equal(json_int_at(echo, "body_size"), 11);
    /* Trailer fields never show up as headers. */
    assert_string_equal(json_string_at(echo, "headers", "x-trailer"), "<null>");
    json_object_put(echo);

    stop_server(&fixture);
}

static void test_request_split_into_pieces(void **state)
{
    static const char request[] =
        "POST /pieces?q=split HTTP/1.1\r\nX-Test: pieces\r\n"
        "Content-Length: 10\r\n\r\n0123456789";
    test_server fixture;
    client c;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);
    for (size_t i = 0; i < sizeof(request) - 1; i++) {
        client_send_bytes(&c, request + i, 1);
        if (i % 16 == 0)
            sleep_ms(1);
    }
    assert_true(client_read_response(&c, &r));

    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "path", NULL), "/pieces");
    assert_string_equal(json_string_at(echo, "params", "q"), "split");
    assert_string_equal(json_string_at(echo, "headers", "x-test"), "pieces");
    assert_string_equal(json_string_at(echo, "body", NULL), "0123456789");
    json_object_put(echo);

    client_close(&c);
    stop_server(&fixture);
}

static void test_keep_alive_two_requests(void **state)
{
    test_server fixture;
    client c;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);

    client_send(&c, "GET /one HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(response_header(&r, "Connection"), "keep-alive");
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "path", NULL), "/one");
    json_object_put(echo);

    client_send(&c, "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert_true(client_read_response(&c, &r));
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "path", NULL), "/two");
    assert_string_equal(json_string_at(echo, "body", NULL), "abc");
    json_object_put(echo);

    assert_int_equal(atomic_load(&fixture.requests_handled), 2);
    client_close(&c);
    stop_server(&fixture);
}

static void test_pipelined_requests_in_order(void **state)
{
    static const char *expected_paths[] = {"/first", "/second", "/third"};
    test_server fixture;
    client c;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);

    /* The first response comes late from a timer and the others would be
     * instant, so a server that responded out of order would fail here. */
    client_send(&c, "GET /first?delay_ms=100 HTTP/1.1\r\n\r\n"
                    "POST /second HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
                    "GET /third HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        assert_true(client_read_response(&c, &r));
        assert_int_equal(r.status, 200);
        echo = response_json(&r);
        assert_string_equal(json_string_at(echo, "path", NULL), expected_paths[i]);
        json_object_put(echo);
    }
    assert_int_equal(atomic_load(&fixture.delayed_responses), 1);

    client_close(&c);
    stop_server(&fixture);
}

static void test_async_response(void **state)
{
    test_server fixture;
    response r;
    json_object *echo;
    int64_t started = now_ms();

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port, "GET /later?delay_ms=50 HTTP/1.1\r\n\r\n", &r);

    assert_int_equal(r.status, 200);
    assert_true(now_ms() - started >= 50);
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "delayed", NULL), "true");
    assert_string_equal(json_string_at(echo, "path", NULL), "/later");
    json_object_put(echo);

    stop_server(&fixture);
}

static void test_client_gone_before_response(void **state)
{
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    test_server fixture;
    client closing;
    client resetting;
    response r;

    (void)state;
    start_server(&fixture, NULL);

    /* One client closes normally, the other with a TCP reset. */
    client_connect(&closing, fixture.port);
    client_send(&closing, "GET /gone?delay_ms=100 HTTP/1.1\r\n\r\n");
    client_connect(&resetting, fixture.port);
    client_send(&resetting, "GET /reset?delay_ms=100 HTTP/1.1\r\n\r\n");
    assert_true(wait_for_count(&fixture.requests_handled, 2, WAIT_MS));
    client_close(&closing);
    setsockopt(resetting.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    client_close(&resetting);

    assert_true(wait_for_count(&fixture.delayed_responses, 2, WAIT_MS));

    /* The server still serves new clients. */
    exchange(fixture.port, "GET /after HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);

    stop_server(&fixture);
}

static void test_body_over_limit(void **state)
{
    http_server_limits limits;
    test_server fixture;
    client c;
    response r;
    json_object *body;

    (void)state;
    http_server_limits_default(&limits);
    limits.max_body_size = 16;
    start_server(&fixture, &limits);

    /* Exactly at the limit passes. */
    exchange(fixture.port,
             "POST /fits HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef", &r);
    assert_int_equal(r.status, 200);

    /* Content-Length over the limit gets a response before the body arrives. */
    client_connect(&c, fixture.port);
    client_send(&c, "POST /big HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 413 Payload Too Large");
    assert_string_equal(response_header(&r, "Connection"), "close");
    body = response_json(&r);
    assert_string_equal(json_string_at(body, "error", NULL),
                        "request body is larger than the limit of 16 bytes; send a "
                        "smaller body");
    json_object_put(body);
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    /* The client sends a large body anyway. The server keeps reading and
     * dropping it after its response, so the send completes and the
     * response is not lost to a TCP reset. */
    {
        size_t body_size = 4 * 1024 * 1024;
        char *big_body = malloc(body_size);

        memset(big_body, 'x', body_size);
        client_connect(&c, fixture.port);
        client_send(&c, "POST /big HTTP/1.1\r\nContent-Length: 4194304\r\n\r\n");
        client_send_bytes(&c, big_body, body_size);
        free(big_body);
        assert_true(client_read_response(&c, &r));
        assert_int_equal(r.status, 413);
        assert_true(client_wait_closed(&c, WAIT_MS));
        client_close(&c);
    }

    /* A chunked body grows over the limit. */
    client_connect(&c, fixture.port);
    client_send(&c, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "16 bytes"));
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    /* With Expect: 100-continue the response is 413, not 100. */
    client_connect(&c, fixture.port);
    client_send(&c, "POST /big HTTP/1.1\r\nContent-Length: 1000\r\n"
                    "Expect: 100-continue\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 413);
    client_close(&c);

    assert_int_equal(atomic_load(&fixture.requests_handled), 1);
    stop_server(&fixture);
}

static void test_expect_continue(void **state)
{
    test_server fixture;
    client c;
    response r;
    json_object *echo;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);

    client_send(&c, "POST /upload HTTP/1.1\r\nContent-Length: 5\r\n"
                    "Expect: 100-continue\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 100 Continue");

    client_send(&c, "hello");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 200);
    echo = response_json(&r);
    assert_string_equal(json_string_at(echo, "body", NULL), "hello");
    json_object_put(echo);

    client_close(&c);
    stop_server(&fixture);
}

static void test_garbage_gets_400(void **state)
{
    test_server fixture;
    client c;
    response r;
    json_object *body;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);
    client_send(&c, "GARBAGE\r\n\r\n");

    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 400 Bad Request");
    assert_string_equal(response_header(&r, "Connection"), "close");
    body = response_json(&r);
    assert_string_equal(json_string_at(body, "error", NULL),
                        "malformed HTTP request: invalid HTTP method");
    json_object_put(body);
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    /* A bad Content-Length after a good request on the same connection. */
    client_connect(&c, fixture.port);
    client_send(&c, "GET /ok HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "malformed HTTP request: invalid character in "
                                   "content-length header"));
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    assert_int_equal(atomic_load(&fixture.requests_handled), 1);
    stop_server(&fixture);
}

static void test_header_overflow_gets_431(void **state)
{
    size_t value_size = 100 * 1024;
    char *request = malloc(value_size + 64);
    test_server fixture;
    client c;
    response r;

    (void)state;
    start_server(&fixture, NULL);
    strcpy(request, "GET / HTTP/1.1\r\nX-Big: ");
    memset(request + strlen(request), 'a', value_size);
    strcpy(request + strlen("GET / HTTP/1.1\r\nX-Big: ") + value_size, "\r\n\r\n");

    client_connect(&c, fixture.port);
    client_send(&c, request);
    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
    assert_non_null(strstr(r.body, "81920 bytes"));
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    /* The request line counts towards the same limit. */
    strcpy(request, "GET /");
    memset(request + 5, 'a', value_size);
    strcpy(request + 5 + value_size, " HTTP/1.1\r\n\r\n");
    client_connect(&c, fixture.port);
    client_send(&c, request);
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 431);
    client_close(&c);

    free(request);
    assert_int_equal(atomic_load(&fixture.requests_handled), 0);
    stop_server(&fixture);
}

static void test_http10_closes(void **state)
{
    test_server fixture;
    client c;
    response r;

    (void)state;
    start_server(&fixture, NULL);

    /* Requests after an HTTP/1.0 request get no response. */
    client_connect(&c, fixture.port);
    client_send(&c, "GET /old HTTP/1.0\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(response_header(&r, "Connection"), "close");
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    /* HTTP/1.0 with keep-alive keeps the connection. */
    client_connect(&c, fixture.port);
    client_send(&c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(response_header(&r, "Connection"), "keep-alive");
    client_send(&c, "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 200);
    client_close(&c);

    /* HTTP/1.1 with Connection: close. */
    client_connect(&c, fixture.port);
    client_send(&c, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(response_header(&r, "Connection"), "close");
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    assert_int_equal(atomic_load(&fixture.requests_handled), 4);
    stop_server(&fixture);
}

static void test_status_lines(void **state)
{
    static const struct {
        int code;
        const char *status_line;
    } cases[] = {
        {200, "HTTP/1.1 200 OK"},
        {201, "HTTP/1.1 201 Created"},
        {202, "HTTP/1.1 202 Accepted"},
        {400, "HTTP/1.1 400 Bad Request"},
        {401, "HTTP/1.1 401 Unauthorized"},
        {403, "HTTP/1.1 403 Forbidden"},
        {404, "HTTP/1.1 404 Not Found"},
        {405, "HTTP/1.1 405 Method Not Allowed"},
        {409, "HTTP/1.1 409 Conflict"},
        {413, "HTTP/1.1 413 Payload Too Large"},
        {415, "HTTP/1.1 415 Unsupported Media Type"},
        {422, "HTTP/1.1 422 Unprocessable Entity"},
        {429, "HTTP/1.1 429 Too Many Requests"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large"},
        {500, "HTTP/1.1 500 Internal Server Error"},
        {503, "HTTP/1.1 503 Service Unavailable"},
    };
    test_server fixture;
    client c;
    response r;
    char request[128];

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(request, sizeof(request), "GET /status?code=%d HTTP/1.1\r\n\r\n",
                 cases[i].code);
        client_send(&c, request);
        assert_true(client_read_response(&c, &r));
        assert_string_equal(r.status_line, cases[i].status_line);
        assert_string_equal(response_header(&r, "Content-Length"), "11");
        assert_string_equal(r.body, "status body");
    }

    /* 204 has no body and no Content-Length. */
    client_send(&c, "GET /status?code=204 HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 204 No Content");
    assert_null(response_header(&r, "Content-Length"));
    assert_null(response_header(&r, "Content-Type"));

    /* A status outside 200..599 becomes 500. */
    client_send(&c, "GET /status?code=99 HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 500);

    /* HEAD gets the Content-Length of the body but not the body, so the next
     * response on the connection must start right after the head. */
    client_send(&c, "HEAD /status?code=200 HTTP/1.1\r\n\r\n");
    client_send(&c, "GET /status?code=201 HTTP/1.1\r\n\r\n");
    assert_true(client_read_response_to(&c, &r, true));
    assert_int_equal(r.status, 200);
    assert_string_equal(response_header(&r, "Content-Length"), "11");
    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 201 Created");

    client_close(&c);
    stop_server(&fixture);
}

static void test_respond_error_json(void **state)
{
    test_server fixture;
    response r;
    json_object *body;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port, "GET /error HTTP/1.1\r\n\r\n", &r);

    assert_int_equal(r.status, 422);
    assert_string_equal(response_header(&r, "Content-Type"), "application/json");
    /* JSON_C_TO_STRING_NOSLASHESCAPE leaves '/' alone. */
    assert_string_equal(r.body, "{\"error\":\"value 42 is \\\"invalid\\\"/wrong\"}");
    body = response_json(&r);
    assert_string_equal(json_string_at(body, "error", NULL), "value 42 is \"invalid\"/wrong");
    json_object_put(body);

    stop_server(&fixture);
}

static void test_max_connections(void **state)
{
    char log_path[] = "/tmp/test_http_server_log_XXXXXX";
    http_server_limits limits;
    test_server fixture;
    client first;
    client second;
    client rejected;
    response r;
    char log_text[4096] = "";
    int saved_stderr;
    int log_fd;
    bool served = false;
    int64_t deadline;

    (void)state;
    http_server_limits_default(&limits);
    limits.max_connections = 2;

    /* Capture the server's log lines, which go to stderr. */
    log_fd = mkstemp(log_path);
    assert_true(log_fd >= 0);
    saved_stderr = dup(STDERR_FILENO);
    dup2(log_fd, STDERR_FILENO);

    start_server(&fixture, &limits);
    client_connect(&first, fixture.port);
    client_send(&first, "GET /one HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&first, &r));
    client_connect(&second, fixture.port);
    client_send(&second, "GET /two HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&second, &r));

    /* The kernel completes the third connect; the server closes it at once. */
    client_connect(&rejected, fixture.port);
    assert_true(client_wait_closed(&rejected, WAIT_MS));
    client_close(&rejected);

    deadline = now_ms() + WAIT_MS;
    while (strstr(log_text, "max_connections (2)") == NULL && now_ms() < deadline) {
        ssize_t length = pread(log_fd, log_text, sizeof(log_text) - 1, 0);

        log_text[length > 0 ? length : 0] = '\0';
        sleep_ms(10);
    }
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    close(log_fd);
    unlink(log_path);
    assert_non_null(strstr(log_text, "WARN "));
    assert_non_null(strstr(log_text, "max_connections (2)"));

    /* Once a client leaves, a new one gets in. */
    client_close(&first);
    deadline = now_ms() + WAIT_MS;
    while (!served && now_ms() < deadline) {
        client c;

        client_connect(&c, fixture.port);
        client_send(&c, "GET /three HTTP/1.1\r\n\r\n");
        served = client_read_response(&c, &r);
        client_close(&c);
        if (!served)
            sleep_ms(20);
    }
    assert_true(served);

    /* The second client was never disturbed. */
    client_send(&second, "GET /again HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&second, &r));
    assert_int_equal(r.status, 200);
    client_close(&second);

    stop_server(&fixture);
}

static void test_idle_timeout(void **state)
{
    http_server_limits limits;
    test_server fixture;
    client c;
    response r;
    int64_t started;

    (void)state;
    http_server_limits_default(&limits);
    limits.idle_timeout_ms = 200;
    limits.request_timeout_ms = 300;
    start_server(&fixture, &limits);

    /* A client that never sends anything. */
    started = now_ms();
    client_connect(&c, fixture.port);
    assert_true(client_wait_closed(&c, WAIT_MS));
    assert_true(now_ms() - started >= 150);
    client_close(&c);

    /* A keep-alive client that goes quiet after one request. */
    client_connect(&c, fixture.port);
    client_send(&c, "GET / HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    started = now_ms();
    assert_true(client_wait_closed(&c, WAIT_MS));
    assert_true(now_ms() - started >= 150);
    client_close(&c);

    /* A client that trickles a request without ever finishing it gets 408
     * from the request timeout. */
    client_connect(&c, fixture.port);
    started = now_ms();
    client_send(&c, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 10; i++) {
        sleep_ms(60);
        /* A send fails once the server has closed, which ends the trickle. */
        if (send(c.fd, "X", 1, MSG_NOSIGNAL) != 1)
            break;
    }
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 408);
    assert_true(client_wait_closed(&c, WAIT_MS));
    assert_true(now_ms() - started < 2000);
    client_close(&c);

    /* A slow handler is not cut off by the idle timeout. */
    exchange(fixture.port, "GET /slow?delay_ms=400 HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);

    stop_server(&fixture);
}

static void test_stop_with_open_connections(void **state)
{
    test_server fixture;
    client idle;
    client partial;
    client held;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&idle, fixture.port);
    client_connect(&partial, fixture.port);
    client_send(&partial, "POST /partial HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    client_connect(&held, fixture.port);
    client_send(&held, "GET /hold HTTP/1.1\r\n\r\n");
    assert_true(wait_for_count(&fixture.held_requests, 1, WAIT_MS));

    /* on_server_stopped responds to the held request after the stop. That
     * response must be dropped, so the held client sees only the close. */
    stop_server(&fixture);
    assert_true(client_wait_closed(&idle, WAIT_MS));
    assert_true(client_wait_closed(&partial, WAIT_MS));
    assert_true(client_wait_closed(&held, WAIT_MS));
    client_close(&idle);
    client_close(&partial);
    client_close(&held);
}

static void test_stop_inside_handler(void **state)
{
    test_server fixture;
    client c;

    (void)state;
    start_server(&fixture, NULL);
    client_connect(&c, fixture.port);
    client_send(&c, "GET /stop HTTP/1.1\r\n\r\n");

    /* The handler stops the server and then responds, so the response is dropped. */
    assert_true(wait_for_count(&fixture.stopped, 1, WAIT_MS));
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);
    stop_server(&fixture);
}

static void test_listen_addresses(void **state)
{
    static const char *hosts[] = {"::1", "[::1]", "localhost"};
    test_server fixture;
    client c;
    response r;

    (void)state;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        start_server_on(&fixture, hosts[i], NULL);
        client_connect_to(&c, strcmp(hosts[i], "localhost") == 0 ? AF_INET : AF_INET6,
                          fixture.port);
        client_send(&c, "GET /address HTTP/1.1\r\n\r\n");
        assert_true(client_read_response(&c, &r));
        assert_int_equal(r.status, 200);
        client_close(&c);
        stop_server(&fixture);
    }
}

static void on_nothing(http_request *request, void *user_data)
{
    (void)user_data;
    http_respond(request, 500, NULL, NULL, 0);
}

static void test_listen_errors(void **state)
{
    http_server_limits limits;
    test_server fixture;
    uv_loop_t loop;
    http_server *server = NULL;
    char error[256];
    char expected[128];
    int result;

    (void)state;
    start_server(&fixture, NULL);
    assert_int_equal(uv_loop_init(&loop), 0);

    result = http_server_start(&server, &loop, "127.0.0.1", fixture.port, NULL,
                               on_nothing, NULL, error, sizeof(error));
    assert_int_equal(result, UV_EADDRINUSE);
    assert_null(server);
    snprintf(expected, sizeof(expected),
             "cannot listen on 127.0.0.1:%d: address already in use", fixture.port);
    assert_string_equal(error, expected);

    result = http_server_start(&server, &loop, "example.invalid", 0, NULL, on_nothing,
                               NULL, error, sizeof(error));
    assert_int_equal(result, UV_EINVAL);
    assert_non_null(strstr(error, "\"example.invalid\""));

    result = http_server_start(&server, &loop, "127.0.0.1", 70000, NULL, on_nothing,
                               NULL, error, sizeof(error));
    assert_int_equal(result, UV_EINVAL);
    assert_non_null(strstr(error, "70000"));

    http_server_limits_default(&limits);
    limits.max_connections = 0;
    result = http_server_start(&server, &loop, "127.0.0.1", 0, &limits, on_nothing,
                               NULL, error, sizeof(error));
    assert_int_equal(result, UV_EINVAL);
    assert_non_null(strstr(error, "max_connections"));

    /* Failures leave no handle on the loop. */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    stop_server(&fixture);
}

static void test_limits_defaults(void **state)
{
    http_server_limits limits;

    (void)state;
    http_server_limits_default(&limits);
    assert_int_equal(limits.max_header_size, 80 * 1024);
    assert_int_equal(limits.max_body_size, 8 * 1024 * 1024);
    assert_int_equal(limits.max_connections, 1024);
    assert_int_equal(limits.request_timeout_ms, 30000);
    assert_int_equal(limits.idle_timeout_ms, 60000);
}

static void test_limits_checked_at_start(void **state)
{
    static const struct {
        size_t max_header_size;
        size_t max_body_size;
        unsigned max_connections;
        unsigned request_timeout_ms;
        unsigned idle_timeout_ms;
        const char *expected;
    } cases[] = {
        {1023, 1, 1, 1000, 1000, "invalid max_header_size 1023: use 1024 to 1048576 bytes"},
        {1048577, 1, 1, 1000, 1000, "invalid max_header_size 1048577"},
        {1024, 0, 1, 1000, 1000, "invalid max_body_size 0"},
        {1024, 1, 0, 1000, 1000, "invalid max_connections 0"},
        {1024, 1, 1, 99, 1000, "invalid request_timeout_ms 99: use 100 to 3600000"},
        {1024, 1, 1, 1000, 3600001, "invalid idle_timeout_ms 3600001"},
    };
    uv_loop_t loop;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_server_limits limits = {
            .max_header_size = cases[i].max_header_size,
            .max_body_size = cases[i].max_body_size,
            .max_connections = cases[i].max_connections,
            .request_timeout_ms = cases[i].request_timeout_ms,
            .idle_timeout_ms = cases[i].idle_timeout_ms,
        };
        http_server *server = NULL;
        char error[256] = "";

        assert_int_equal(http_server_start(&server, &loop, "127.0.0.1", 0, &limits,
                                           on_nothing, NULL, error, sizeof(error)),
                         UV_EINVAL);
        assert_null(server);
        assert_non_null(strstr(error, cases[i].expected));
    }
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_header_limit_configurable(void **state)
{
    http_server_limits limits;
    test_server fixture;
    char request[4096];
    client c;
    response r;

    (void)state;
    http_server_limits_default(&limits);
    limits.max_header_size = 2048;
    start_server(&fixture, &limits);

    /* Well under the limit passes. */
    snprintf(request, sizeof(request), "GET / HTTP/1.1\r\nX-Test: %01500d\r\n\r\n", 0);
    exchange(fixture.port, request, &r);
    assert_int_equal(r.status, 200);

    snprintf(request, sizeof(request), "GET / HTTP/1.1\r\nX-Test: %03000d\r\n\r\n", 0);
    client_connect(&c, fixture.port);
    client_send(&c, request);
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 431);
    assert_non_null(strstr(r.body, "larger than the limit of 2048 bytes"));
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    assert_int_equal(atomic_load(&fixture.requests_handled), 1);
    stop_server(&fixture);
}

static void test_request_timeout_gets_408(void **state)
{
    http_server_limits limits;
    test_server fixture;
    client c;
    response r;
    int64_t started;

    (void)state;
    http_server_limits_default(&limits);
    limits.request_timeout_ms = 300;
    limits.idle_timeout_ms = 5000;
    start_server(&fixture, &limits);

    /* Headers that arrive one byte at a time, never finished. */
    client_connect(&c, fixture.port);
    started = now_ms();
    client_send(&c, "GET / HTTP/1.1\r\nX-Slow: ");
    for (int i = 0; i < 20; i++) {
        sleep_ms(50);
        if (send(c.fd, "a", 1, MSG_NOSIGNAL) != 1)
            break;
    }
    assert_true(client_read_response(&c, &r));
    assert_string_equal(r.status_line, "HTTP/1.1 408 Request Timeout");
    assert_string_equal(response_header(&r, "Connection"), "close");
    assert_non_null(strstr(r.body, "within 300 ms"));
    assert_true(now_ms() - started >= 250);
    assert_true(client_wait_closed(&c, WAIT_MS));
    client_close(&c);

    /* A body that stops short of its Content-Length. */
    client_connect(&c, fixture.port);
    client_send(&c, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly ten b");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 408);
    client_close(&c);

    /* Waiting longer than request_timeout_ms before the first byte is idle
     * time, which idle_timeout_ms bounds instead. */
    client_connect(&c, fixture.port);
    sleep_ms(500);
    client_send(&c, "GET /late HTTP/1.1\r\n\r\n");
    assert_true(client_read_response(&c, &r));
    assert_int_equal(r.status, 200);
    client_close(&c);

    assert_int_equal(atomic_load(&fixture.requests_handled), 1);
    stop_server(&fixture);
}

static void test_response_header_added(void **state)
{
    test_server fixture;
    response r;

    (void)state;
    start_server(&fixture, NULL);
    exchange(fixture.port, "GET /challenge HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(response_header(&r, "WWW-Authenticate"), "Bearer realm=\"test\"");
    assert_non_null(strstr(r.headers, "X-Second: \r\n"));
    assert_null(strstr(r.headers, "Set-Cookie"));
    assert_null(strstr(r.headers, "X-Split"));
    assert_null(strstr(r.headers, "Bad Name"));
    assert_non_null(strstr(r.body, "missing token"));
    stop_server(&fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_defaults),
        cmocka_unit_test(test_limits_checked_at_start),
        cmocka_unit_test(test_header_limit_configurable),
        cmocka_unit_test(test_request_timeout_gets_408),
        cmocka_unit_test(test_response_header_added),
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_query_parameters),
        cmocka_unit_test(test_header_lookup),
        cmocka_unit_test(test_post_content_length),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_request_split_into_pieces),
        cmocka_unit_test(test_keep_alive_two_requests),
        cmocka_unit_test(test_pipelined_requests_in_order),
        cmocka_unit_test(test_async_response),
        cmocka_unit_test(test_client_gone_before_response),
        cmocka_unit_test(test_body_over_limit),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_garbage_gets_400),
        cmocka_unit_test(test_header_overflow_gets_431),
        cmocka_unit_test(test_http10_closes),
        cmocka_unit_test(test_status_lines),
        cmocka_unit_test(test_respond_error_json),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_stop_with_open_connections),
        cmocka_unit_test(test_stop_inside_handler),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_listen_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
