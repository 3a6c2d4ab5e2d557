/*
 * Unit tests for core/http_client.c against a small HTTP/1.1 server that runs
 * on a thread in this process, on 127.0.0.1 with a port the kernel picks.
 *
 * The server gives every connection its own thread with blocking sockets and
 * 50 ms socket timeouts, so each thread notices the stop flag quickly. It
 * counts accepted connections and the maximum open at once. Its
 * behaviour depends on the path:
 *   /ok              200 "hello" with X-Test: value
 *   /slow?ms=N       200 "slow" after N milliseconds
 *   /big             200 with an endless chunked body
 *   /sized?bytes=N   200 with a body of N bytes and Content-Length
 *   /headers-forever 200 status line, then header lines without end
 *   /retry           429 with Retry-After: 7
 *   /reset           closes the connection without a response
 *   /abort           resets the connection (RST) without a response
 *   /close           200 "closing" with Connection: close, then closes
 *   /echo            200 "METHOD BODY_SIZE FIRST_BODY_BYTES" and X-Echo-* headers
 *   /early           103 Early Hints with headers, then 200 with X-Final: 1
 *   /redirect        302 with Location: /ok
 * A connection that starts with a TLS ClientHello gets a plain-text 400.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "http_client.h"
#include "log.h"

#define SERVER_MAX_CONNECTIONS 128
#define SERVER_SOCKET_TIMEOUT_MS 50
#define WAIT_MS 10000 /* upper bound for callbacks that should arrive soon */

/* Test server. */

typedef struct test_server {
    int listen_fd;
    int port;
    atomic_int stop;
    pthread_t accept_thread;
    pthread_mutex_t lock;

    atomic_int accepted;
    atomic_int open_now;
    atomic_int max_open; /* maximum number of connections open at once */
    atomic_int requests;
    atomic_int expect_headers; /* requests that carried an Expect header */

    /* Guarded by lock. */
    pthread_t handlers[SERVER_MAX_CONNECTIONS];
    int handler_count;
    char last_user_agent[128];
} test_server;

typedef struct test_connection {
    test_server *server;
    int fd;
    char buffer[65536 + 1]; /* one more byte keeps the contents NUL-terminated */
    size_t length;
} test_connection;

typedef struct test_request {
    char method[16];
    char target[256];
    size_t content_length;
    size_t body_received;
    char body_start[65];
    int has_expect;
    int has_custom;
    char custom[128];
    char content_type[128];
    char user_agent[128];
} test_request;

static void sleep_ms(int milliseconds)
{
    struct timespec delay = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};

    nanosleep(&delay, NULL);
}

/* Read more bytes into the buffer. Returns 1 on data, 0 when the peer closed,
 * -1 on error, stop or a full buffer. */
static int connection_fill(test_connection *connection)
{
    while (!atomic_load(&connection->server->stop)) {
        ssize_t count;

        if (connection->length == sizeof(connection->buffer) - 1)
            return -1;
        count = recv(connection->fd, connection->buffer + connection->length,
                     sizeof(connection->buffer) - 1 - connection->length, 0);
        if (count > 0) {
            connection->length += (size_t)count;
            connection->buffer[connection->length] = '\0';
            return 1;
        }
        if (count == 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
    }
    return -1;
}

static void connection_consume(test_connection *connection, size_t count)
{
    memmove(connection->buffer, connection->buffer + count,
            connection->length - count);
    connection->length -= count;
    connection->buffer[connection->length] = '\0';
}

static int send_all(test_connection *connection, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t count;

        if (atomic_load(&connection->server->stop))
            return -1;
        count = send(connection->fd, data, length, MSG_NOSIGNAL);
        if (count < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return -1;
        }
        data += count;
        length -= (size_t)count;
    }
    return 0;
}

static void copy_header_value(char *destination, size_t size, const char *line,
                              size_t name_length, size_t line_length)
{
    size_t start = name_length + 1;
    size_t length;

    while (start < line_length && line[start] == ' ')
        start++;
    length = line_length - start;
    if (length >= size)
        length = size - 1;
    memcpy(destination, line + start, length);
    destination[length] = '\0';
}

static int header_is(const char *line, size_t line_length, const char *name)
{
    size_t name_length = strlen(name);

    return line_length > name_length && line[name_length] == ':' &&
           strncasecmp(line, name, name_length) == 0;
}

/* Read one request with its body. Returns 1, or 0 when the connection ended
 * or the client opened with a TLS handshake, which gets a plain-text response
 * that no TLS client accepts. */
static int read_request(test_connection *connection, test_request *request)
{
    static const char not_tls[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    char *end;
    char *line;
    size_t head_length;
    int rc;

    memset(request, 0, sizeof(*request));
    while ((end = memmem(connection->buffer, connection->length, "\r\n\r\n", 4)) == NULL) {
        rc = connection_fill(connection);
        if (rc <= 0)
            return 0;
        /* 0x16 is the TLS handshake record type of a ClientHello. */
        if (connection->buffer[0] == 0x16) {
            send_all(connection, not_tls, sizeof(not_tls) - 1);
            return 0;
        }
    }
    head_length = (size_t)(end - connection->buffer) + 4;

    if (sscanf(connection->buffer, "%15s %255s", request->method, request->target) != 2)
        return 0;

    line = (char *)memchr(connection->buffer, '\n', head_length) + 1;
    while (line < end) {
        char *line_end = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        size_t line_length = (size_t)(line_end - line);

        if (header_is(line, line_length, "Content-Length"))
            request->content_length = strtoul(line + 15, NULL, 10);
        else if (header_is(line, line_length, "Expect"))
            request->has_expect = 1;
        else if (header_is(line, line_length, "X-Custom")) {
            request->has_custom = 1;
            copy_header_value(request->custom, sizeof(request->custom), line, 8, line_length);
        } else if (header_is(line, line_length, "Content-Type"))
            copy_header_value(request->content_type, sizeof(request->content_type),
                              line, 12, line_length);
        else if (header_is(line, line_length, "User-Agent"))
            copy_header_value(request->user_agent, sizeof(request->user_agent),
                              line, 10, line_length);
        line = line_end + 2;
    }
    connection_consume(connection, head_length);

    while (request->body_received < request->content_length) {
        size_t wanted = request->content_length - request->body_received;
        size_t available = connection->length < wanted ? connection->length : wanted;
        size_t copied = request->body_received;

        if (available == 0) {
            if (connection_fill(connection) <= 0)
                return 0;
            continue;
        }
        while (copied < sizeof(request->body_start) - 1 &&
               copied - request->body_received < available) {
            request->body_start[copied] = connection->buffer[copied - request->body_received];
            copied++;
        }
        request->body_received += available;
        connection_consume(connection, available);
    }
    return 1;
}

static int send_response(test_connection *connection, const test_request *request,
                         const char *status, const char *headers, const char *body,
                         size_t body_size)
{
    char head[2048];
    int length;

    length = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n",
                      status, body_size, headers);
    if (send_all(connection, head, (size_t)length) < 0)
        return -1;
    if (strcmp(request->method, "HEAD") == 0)
        return 0;
    return send_all(connection, body, body_size);
}

static int query_number(const char *target, const char *key)
{
    const char *found = strstr(target, key);

    return found ? atoi(found + strlen(key)) : 0;
}

/* Send the response for one request. Returns 0 to keep the connection open,
 * -1 to close it. */
static int serve_request(test_connection *connection, const test_request *request)
{
    const char *target = request->target;

    if (strcmp(target, "/ok") == 0 || strncmp(target, "/ok?", 4) == 0)
        return send_response(connection, request, "200 OK",
                             "X-Test: value\r\nContent-Type: text/plain\r\n", "hello", 5);

    if (strncmp(target, "/slow", 5) == 0) {
        int remaining = query_number(target, "ms=");

        while (remaining > 0 && !atomic_load(&connection->server->stop)) {
            sleep_ms(10);
            remaining -= 10;
        }
        return send_response(connection, request, "200 OK", "", "slow", 4);
    }

    if (strcmp(target, "/big") == 0) {
        static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        char chunk[16384 + 16];
        int prefix = snprintf(chunk, sizeof(chunk), "%x\r\n", 16384);

        memset(chunk + prefix, 'x', 16384);
        memcpy(chunk + prefix + 16384, "\r\n", 2);
        if (send_all(connection, head, sizeof(head) - 1) < 0)
            return -1;
        while (send_all(connection, chunk, (size_t)prefix + 16384 + 2) == 0)
            ;
        return -1;
    }

    if (strncmp(target, "/sized", 6) == 0) {
        size_t size = (size_t)query_number(target, "bytes=");
        char *body = malloc(size + 1);
        int rc;

        memset(body, 'y', size);
        rc = send_response(connection, request, "200 OK", "", body, size);
        free(body);
        return rc;
    }

    if (strcmp(target, "/headers-forever") == 0) {
        char line[1100];

        if (send_all(connection, "HTTP/1.1 200 OK\r\n", 17) < 0)
            return -1;
        memset(line, 'h', sizeof(line));
        memcpy(line, "X-Filler: ", 10);
        memcpy(line + sizeof(line) - 2, "\r\n", 2);
        while (send_all(connection, line, sizeof(line)) == 0)
            ;
        return -1;
    }

    if (strcmp(target, "/retry") == 0)
        return send_response(connection, request, "429 Too Many Requests",
                             "Retry-After: 7\r\n", "slow down", 9);

    if (strcmp(target, "/reset") == 0)
        return -1;

    if (strcmp(target, "/abort") == 0) {
        struct linger abortive = {1, 0};

        /* A zero linger time makes close() send RST instead of FIN. */
        setsockopt(connection->fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
        return -1;
    }

    if (strcmp(target, "/close") == 0) {
        send_response(connection, request, "200 OK", "Connection: close\r\n", "closing", 7);
        return -1;
    }

    if (strcmp(target, "/echo") == 0) {
        char headers[1024];
        char body[256];
        int length;

        snprintf(headers, sizeof(headers),
                 "X-Expect: %s\r\nX-Echo-Custom: %s\r\nX-Echo-Content-Type: %s\r\n",
                 request->has_expect ? "yes" : "no",
                 request->has_custom ? request->custom : "(none)",
                 request->content_type[0] ? request->content_type : "(none)");
        length = snprintf(body, sizeof(body), "%s %zu %s", request->method,
                          request->body_received, request->body_start);
        return send_response(connection, request, "200 OK", headers, body, (size_t)length);
    }

    if (strcmp(target, "/early") == 0) {
        static const char interim[] =
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\nX-Interim: 1\r\n\r\n";

        if (send_all(connection, interim, sizeof(interim) - 1) < 0)
            return -1;
        return send_response(connection, request, "200 OK", "X-Final: 1\r\n", "final", 5);
    }

    if (strcmp(target, "/redirect") == 0)
        return send_response(connection, request, "302 Found", "Location: /ok\r\n",
                             "moved", 5);

    return send_response(connection, request, "404 Not Found", "", "not found", 9);
}

static void *connection_main(void *argument)
{
    test_connection *connection = argument;
    test_server *server = connection->server;
    test_request request;

    while (read_request(connection, &request)) {
        pthread_mutex_lock(&server->lock);
        snprintf(server->last_user_agent, sizeof(server->last_user_agent), "%s",
                 request.user_agent);
        pthread_mutex_unlock(&server->lock);
        if (request.has_expect)
            atomic_fetch_add(&server->expect_headers, 1);
        atomic_fetch_add(&server->requests, 1);

        if (serve_request(connection, &request) < 0)
            break;
    }

    close(connection->fd);
    atomic_fetch_sub(&server->open_now, 1);
    free(connection);
    return NULL;
}

static void *accept_main(void *argument)
{
    test_server *server = argument;
    struct timeval timeout = {0, SERVER_SOCKET_TIMEOUT_MS * 1000};
    int no_delay = 1;

    while (!atomic_load(&server->stop)) {
        struct pollfd ready = {server->listen_fd, POLLIN, 0};
        test_connection *connection;
        int open_now;
        int fd;

        if (poll(&ready, 1, SERVER_SOCKET_TIMEOUT_MS) <= 0)
            continue;
        fd = accept(server->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
        /* Head and body go out in separate writes. Without this, Nagle's
         * algorithm and delayed ACKs add 40 ms to each response. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, sizeof(no_delay));

        connection = calloc(1, sizeof(*connection));
        connection->server = server;
        connection->fd = fd;

        pthread_mutex_lock(&server->lock);
        if (server->handler_count == SERVER_MAX_CONNECTIONS) {
            pthread_mutex_unlock(&server->lock);
            close(fd);
            free(connection);
            continue;
        }
        atomic_fetch_add(&server->accepted, 1);
        /* Only this thread raises open_now, so max_open needs no CAS loop. */
        open_now = atomic_fetch_add(&server->open_now, 1) + 1;
        if (open_now > atomic_load(&server->max_open))
            atomic_store(&server->max_open, open_now);
        pthread_create(&server->handlers[server->handler_count++], NULL,
                       connection_main, connection);
        pthread_mutex_unlock(&server->lock);
    }
    return NULL;
}

static int server_start(test_server *server)
{
    struct sockaddr_in address = {0};
    socklen_t address_length = sizeof(address);

    memset(server, 0, sizeof(*server));
    pthread_mutex_init(&server->lock, NULL);

    server->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (server->listen_fd < 0)
        return -1;
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)) < 0 ||
        listen(server->listen_fd, 64) < 0 ||
        getsockname(server->listen_fd, (struct sockaddr *)&address, &address_length) < 0)
        return -1;
    server->port = ntohs(address.sin_port);

    return pthread_create(&server->accept_thread, NULL, accept_main, server) == 0 ? 0 : -1;
}

static void server_stop(test_server *server)
{
    atomic_store(&server->stop, 1);
    pthread_join(server->accept_thread, NULL);
    for (int i = 0; i < server->handler_count; i++)
        pthread_join(server->handlers[i], NULL);
    close(server->listen_fd);
    pthread_mutex_destroy(&server->lock);
}

/* Fixture: a loop, a server and a client per test. */

/* What a done callback saw, copied because the response dies with the call. */
typedef struct completion {
    struct fixture *fixture;
    int calls;
    wharf_http_error error;
    long status;
    char body[512];
    size_t body_size;
    char error_message[256];
    double total_seconds;
    const char *lookup_names[4];
    int lookup_found[4];
    char lookup_values[4][128];

    /* Re-entrant actions, run from inside the callback. */
    http_pool *destroy_pool;
    int close_client;
    http_pool *request_pool;
    int request_rc;
    int *order;
    int order_index;
    int *order_next;
} completion;

/* Requests sent one after another, each from the previous one's callback. */
typedef struct sequence {
    http_pool *pool;
    char url[128];
    int done;
    int failures;
} sequence;

typedef struct fixture {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop while run_loop_until waits */
    test_server server;
    http_client *client;
    int client_closed;

    /* Callbacks write here, never to a test's stack, because a failed assert
     * leaves the test while requests are still in flight. */
    completion completions[40];
    int completions_used;
    sequence sequence;
} fixture;

static void on_tick(uv_timer_t *timer)
{
    (void)timer;
}

typedef int (*counter_reader)(const void *counter);

static int read_int(const void *counter)
{
    return *(const int *)counter;
}

static int read_atomic(const void *counter)
{
    return atomic_load((const atomic_int *)counter);
}

/* Run the loop until the counter reaches target or timeout_ms passes, and
 * return whether it got there. UV_RUN_ONCE blocks in the poll phase even when
 * a timer callback earlier in the same iteration reached the target, so a
 * 5 ms tick bounds each wait. */
static int run_loop_until(fixture *f, counter_reader read, const void *counter,
                          int target, uint64_t timeout_ms)
{
    uint64_t start;

    uv_update_time(&f->loop);
    start = uv_now(&f->loop);
    uv_timer_start(&f->tick, on_tick, 5, 5);
    while (read(counter) < target && uv_now(&f->loop) - start < timeout_ms)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return read(counter) >= target;
}

static int run_until(fixture *f, const int *counter, int target, uint64_t timeout_ms)
{
    return run_loop_until(f, read_int, counter, target, timeout_ms);
}

/* The same for a counter that the server threads update. */
static int run_until_server(fixture *f, const atomic_int *counter, int target,
                            uint64_t timeout_ms)
{
    return run_loop_until(f, read_atomic, counter, target, timeout_ms);
}

/* Run the loop for timeout_ms, to show that nothing arrives. */
static void run_for(fixture *f, uint64_t timeout_ms)
{
    static const int never = 0;

    run_until(f, &never, 1, timeout_ms);
}

/* Return count zeroed completions owned by the fixture. */
static completion *take_completions(fixture *f, int count)
{
    int capacity = (int)(sizeof(f->completions) / sizeof(f->completions[0]));
    completion *taken = &f->completions[f->completions_used];

    assert_true(f->completions_used + count <= capacity);
    f->completions_used += count;
    memset(taken, 0, (size_t)count * sizeof(*taken));
    for (int i = 0; i < count; i++)
        taken[i].fixture = f;
    return taken;
}

/* One completion that looks up the given header names (up to 4, then NULL). */
static completion *take_completion(fixture *f, ...)
{
    completion *taken = take_completions(f, 1);
    va_list names;
    const char *name;
    int i = 0;

    va_start(names, f);
    while (i < 4 && (name = va_arg(names, const char *)) != NULL)
        taken->lookup_names[i++] = name;
    va_end(names);
    return taken;
}

static void on_client_closed(void *argument)
{
    fixture *f = argument;

    f->client_closed++;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (!f || uv_loop_init(&f->loop) != 0)
        return -1;
    uv_timer_init(&f->loop, &f->tick);
    if (server_start(&f->server) != 0)
        return -1;
    if (http_client_init(&f->client, &f->loop) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;

    if (f->client) {
        http_client_close(f->client, on_client_closed, f);
        if (!run_until(f, &f->client_closed, 1, WAIT_MS))
            rc = -1;
    }
    server_stop(&f->server);

    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&f->loop) != 0)
        rc = -1;
    free(f);
    return rc;
}

static void on_done(void *user_data, const wharf_http_response *response)
{
    completion *c = user_data;
    size_t copied = response->body_size < sizeof(c->body) - 1 ? response->body_size
                                                             : sizeof(c->body) - 1;

    c->calls++;
    c->error = response->error;
    c->status = response->status;
    c->body_size = response->body_size;
    memcpy(c->body, response->body, copied);
    c->body[copied] = '\0';
    snprintf(c->error_message, sizeof(c->error_message), "%s", response->error_message);
    c->total_seconds = response->total_seconds;

    for (int i = 0; i < 4 && c->lookup_names[i]; i++) {
        const char *value = http_response_header(response, c->lookup_names[i]);

        c->lookup_found[i] = value != NULL;
        snprintf(c->lookup_values[i], sizeof(c->lookup_values[i]), "%s",
                 value ? value : "");
    }

    if (c->order)
        c->order[(*c->order_next)++] = c->order_index;
    if (c->request_pool) {
        wharf_http_request again = {.struct_size = sizeof(again), .url = "http://127.0.0.1:1/"};

        c->request_rc = http_pool_request(c->request_pool, &again, on_done, c);
    }
    if (c->destroy_pool)
        http_pool_destroy(c->destroy_pool);
    if (c->close_client) {
        http_client_close(c->fixture->client, on_client_closed, c->fixture);
        c->fixture->client = NULL;
    }
}

static void url_for(char *url, size_t size, const fixture *f, const char *path)
{
    snprintf(url, size, "http://127.0.0.1:%d%s", f->server.port, path);
}

static wharf_http_request request_for(const char *url)
{
    wharf_http_request request = {.struct_size = sizeof(request), .url = url};

    return request;
}

/* Send one request on a fresh pool and wait for its completion. */
static void fetch(fixture *f, wharf_http_request *request, completion *c)
{
    http_pool *pool = http_pool_create(f->client, "test", 4);

    assert_non_null(pool);
    assert_int_equal(http_pool_request(pool, request, on_done, c), 0);
    assert_true(run_until(f, &c->calls, 1, WAIT_MS));
    assert_int_equal(c->calls, 1);
    http_pool_destroy(pool);
}

/* Tests. */

static void test_ok_body_and_headers(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, "x-test", "X-TEST", "content-type", "x-missing", NULL);
    char user_agent[128];

    url_for(url, sizeof(url), f, "/ok");
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_OK);
    assert_string_equal(c->error_message, "");
    assert_int_equal(c->status, 200);
    assert_string_equal(c->body, "hello");
    assert_int_equal(c->body_size, 5);
    assert_true(c->total_seconds > 0.0);
    assert_true(c->lookup_found[0]);
    assert_string_equal(c->lookup_values[0], "value");
    assert_string_equal(c->lookup_values[1], "value");
    assert_string_equal(c->lookup_values[2], "text/plain");
    assert_false(c->lookup_found[3]);
    pthread_mutex_lock(&f->server.lock);
    snprintf(user_agent, sizeof(user_agent), "%s", f->server.last_user_agent);
    pthread_mutex_unlock(&f->server.lock);
    assert_string_equal(user_agent, "wharf/" WHARF_VERSION);
}

static void test_header_lookup_rejects_foreign_response(void **state)
{
    wharf_http_response foreign = {.struct_size = sizeof(foreign), .body = "", .error_message = ""};
    struct {
        wharf_http_response response;
        uint32_t padding[16];
    } copy = {.response = foreign};

    (void)state;
    assert_null(http_response_header(NULL, "x-test"));
    assert_null(http_response_header(&copy.response, "x-test"));
}

static void on_sequence_done(void *user_data, const wharf_http_response *response)
{
    sequence *s = user_data;
    wharf_http_request request = request_for(s->url);

    if (response->error != WHARF_HTTP_OK || response->status != 200)
        s->failures++;
    s->done++;
    if (s->done < 10 && http_pool_request(s->pool, &request, on_sequence_done, s) != 0)
        s->failures++;
}

static void test_sequential_requests_reuse_connection(void **state)
{
    fixture *f = *state;
    sequence *s = &f->sequence;
    wharf_http_request request;

    s->pool = http_pool_create(f->client, "sequence", 4);
    url_for(s->url, sizeof(s->url), f, "/ok");
    request = request_for(s->url);

    assert_int_equal(http_pool_request(s->pool, &request, on_sequence_done, s), 0);
    assert_true(run_until(f, &s->done, 10, WAIT_MS));

    assert_int_equal(s->failures, 0);
    assert_int_equal(atomic_load(&f->server.requests), 10);
    assert_int_equal(atomic_load(&f->server.accepted), 1);
    http_pool_destroy(s->pool);
}

static void test_new_connection_each_request(void **state)
{
    fixture *f = *state;
    sequence *s = &f->sequence;
    wharf_http_request request;

    /* Connection: close makes curl open a socket per request, and the kernel
     * usually hands out the descriptor number just released. */
    s->pool = http_pool_create(f->client, "closing", 1);
    url_for(s->url, sizeof(s->url), f, "/close");
    request = request_for(s->url);

    assert_int_equal(http_pool_request(s->pool, &request, on_sequence_done, s), 0);
    assert_true(run_until(f, &s->done, 10, WAIT_MS));

    assert_int_equal(s->failures, 0);
    assert_true(run_until_server(f, &f->server.accepted, 10, WAIT_MS));
    assert_int_equal(atomic_load(&f->server.accepted), 10);
    http_pool_destroy(s->pool);
}

static void test_pool_limit_two(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completions(f, 10);
    int finished = 0;
    http_pool *pool = http_pool_create(f->client, "limited", 2);

    url_for(url, sizeof(url), f, "/slow?ms=50");
    request = request_for(url);
    for (int i = 0; i < 10; i++)
        assert_int_equal(http_pool_request(pool, &request, on_done, &c[i]), 0);
    assert_int_equal(http_pool_in_flight(pool), 2);
    assert_int_equal(http_pool_waiting(pool), 8);

    for (int i = 0; i < 10; i++) {
        assert_true(run_until(f, &c[i].calls, 1, WAIT_MS));
        assert_true(http_pool_in_flight(pool) <= 2);
        assert_int_equal(c[i].error, WHARF_HTTP_OK);
        assert_int_equal(c[i].status, 200);
        assert_string_equal(c[i].body, "slow");
        finished++;
    }

    assert_int_equal(finished, 10);
    assert_int_equal(http_pool_in_flight(pool), 0);
    assert_int_equal(http_pool_waiting(pool), 0);
    assert_int_equal(atomic_load(&f->server.requests), 10);
    assert_int_equal(atomic_load(&f->server.max_open), 2);
    assert_int_equal(atomic_load(&f->server.accepted), 2);
    http_pool_destroy(pool);
}

static void test_idle_connections_kept_for_pool(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *first = take_completions(f, 8);
    completion *second = take_completions(f, 8);
    http_pool *pool = http_pool_create(f->client, "wide", 8);

    url_for(url, sizeof(url), f, "/slow?ms=50");
    request = request_for(url);

    /* Eight connections go idle together, and all of them must stay cached
     * for the second round. */
    for (int i = 0; i < 8; i++)
        assert_int_equal(http_pool_request(pool, &request, on_done, &first[i]), 0);
    for (int i = 0; i < 8; i++) {
        assert_true(run_until(f, &first[i].calls, 1, WAIT_MS));
        assert_int_equal(first[i].status, 200);
    }
    assert_int_equal(atomic_load(&f->server.accepted), 8);

    for (int i = 0; i < 8; i++)
        assert_int_equal(http_pool_request(pool, &request, on_done, &second[i]), 0);
    for (int i = 0; i < 8; i++) {
        assert_true(run_until(f, &second[i].calls, 1, WAIT_MS));
        assert_int_equal(second[i].status, 200);
    }
    assert_int_equal(atomic_load(&f->server.accepted), 8);
    http_pool_destroy(pool);
}

static void test_waiting_requests_start_in_order(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completions(f, 5);
    int order[5] = {0};
    int next = 0;
    http_pool *pool = http_pool_create(f->client, "fifo", 1);

    url_for(url, sizeof(url), f, "/ok");
    request = request_for(url);
    for (int i = 0; i < 5; i++) {
        c[i].order = order;
        c[i].order_index = i;
        c[i].order_next = &next;
        assert_int_equal(http_pool_request(pool, &request, on_done, &c[i]), 0);
    }
    assert_true(run_until(f, &next, 5, WAIT_MS));

    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], i);
    http_pool_destroy(pool);
}

static void test_raising_limit_starts_waiting(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completions(f, 4);
    http_pool *pool = http_pool_create(f->client, "raise", 1);

    url_for(url, sizeof(url), f, "/slow?ms=100");
    request = request_for(url);
    for (int i = 0; i < 4; i++)
        assert_int_equal(http_pool_request(pool, &request, on_done, &c[i]), 0);
    assert_int_equal(http_pool_in_flight(pool), 1);
    assert_int_equal(http_pool_waiting(pool), 3);

    http_pool_set_limit(pool, 4);
    assert_int_equal(http_pool_in_flight(pool), 4);
    assert_int_equal(http_pool_waiting(pool), 0);

    for (int i = 0; i < 4; i++) {
        assert_true(run_until(f, &c[i].calls, 1, WAIT_MS));
        assert_int_equal(c[i].status, 200);
    }
    http_pool_destroy(pool);
}

static void test_connection_refused(void **state)
{
    fixture *f = *state;
    struct sockaddr_in address = {0};
    socklen_t length = sizeof(address);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, NULL);

    /* Bind a port and close it again, so nothing listens there. */
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", ntohs(address.sin_port));
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_ERR_CONNECT);
    assert_int_equal(c->status, 0);
    assert_true(strlen(c->error_message) > 0);
}

static void test_localhost_name_resolves(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, NULL);

    /* curl 7.88 resolves "localhost" itself to loopback addresses, so no DNS
     * query leaves the machine. The server listens on 127.0.0.1 only; if
     * curl tries ::1 first, it falls back. */
    snprintf(url, sizeof(url), "http://localhost:%d/ok", f->server.port);
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_OK);
    assert_int_equal(c->status, 200);
}

static void test_tls_handshake_failure(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, NULL);

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/ok", f->server.port);
    request = request_for(url);
    request.timeout_ms = 5000;
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_ERR_TLS);
    assert_int_equal(c->status, 0);
    assert_true(strlen(c->error_message) > 0);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, NULL);
    uint64_t started = uv_hrtime();

    url_for(url, sizeof(url), f, "/slow?ms=5000");
    request = request_for(url);
    request.timeout_ms = 200;
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_ERR_TIMEOUT);
    assert_int_equal(c->status, 0);
    assert_true(strlen(c->error_message) > 0);
    assert_true(uv_hrtime() - started < 3000000000ull);
}

static void test_endless_body_too_large(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *limited = take_completion(f, NULL);
    completion *default_limit = take_completion(f, NULL);

    url_for(url, sizeof(url), f, "/big");
    request = request_for(url);
    request.max_response_size = 64 * 1024;
    fetch(f, &request, limited);

    assert_int_equal(limited->error, WHARF_HTTP_ERR_TOO_LARGE);
    assert_int_equal(limited->body_size, 0);
    assert_non_null(strstr(limited->error_message, "max_response_size (65536 bytes)"));

    request.max_response_size = 0;
    fetch(f, &request, default_limit);

    assert_int_equal(default_limit->error, WHARF_HTTP_ERR_TOO_LARGE);
    assert_non_null(strstr(default_limit->error_message, "(1048576 bytes)"));
}

static void test_body_size_limit_boundary(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *exact = take_completion(f, NULL);
    completion *over = take_completion(f, NULL);

    url_for(url, sizeof(url), f, "/sized?bytes=1000");
    request = request_for(url);
    request.max_response_size = 1000;
    fetch(f, &request, exact);

    assert_int_equal(exact->error, WHARF_HTTP_OK);
    assert_int_equal(exact->body_size, 1000);

    url_for(url, sizeof(url), f, "/sized?bytes=1001");
    fetch(f, &request, over);

    assert_int_equal(over->error, WHARF_HTTP_ERR_TOO_LARGE);
    assert_int_equal(over->body_size, 0);
}

static void test_endless_headers_too_large(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, NULL);

    url_for(url, sizeof(url), f, "/headers-forever");
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_ERR_TOO_LARGE);
    assert_non_null(strstr(c->error_message, "headers"));
}

static void test_invalid_requests_rejected(void **state)
{
    fixture *f = *state;
    http_pool *pool = http_pool_create(f->client, "invalid", 2);
    completion *c = take_completion(f, NULL);
    char ok_url[128];
    static const char *const bad_urls[] = {
        "ftp://127.0.0.1/file", "file:///etc/hostname", "gopher://127.0.0.1/",
        "", "not a url", "http://", "127.0.0.1/no-scheme",
    };
    wharf_http_header bad_value = {"X-Custom", "a\r\nInjected: yes"};
    wharf_http_header bad_name = {"X Custom", "a"};
    wharf_http_header null_value = {"X-Custom", NULL};
    wharf_http_request request;

    url_for(ok_url, sizeof(ok_url), f, "/ok");

    request = request_for(NULL);
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        request = request_for(bad_urls[i]);
        assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    }

    request = request_for(ok_url);
    assert_int_equal(http_pool_request(pool, NULL, on_done, c), -EINVAL);
    assert_int_equal(http_pool_request(pool, &request, NULL, c), -EINVAL);
    assert_int_equal(http_pool_request(NULL, &request, on_done, c), -EINVAL);

    request.method = "GE T";
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    request.method = "";
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    request.method = "HEAD";
    request.body = "x";
    request.body_size = 1;
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);

    request = request_for(ok_url);
    request.body_size = 10;
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);

    request = request_for(ok_url);
    request.header_count = 1;
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    request.headers = &bad_value;
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    request.headers = &bad_name;
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);
    request.headers = &null_value;
    assert_int_equal(http_pool_request(pool, &request, on_done, c), -EINVAL);

    assert_int_equal(http_pool_in_flight(pool), 0);
    assert_int_equal(http_pool_waiting(pool), 0);
    run_for(f, 100);
    assert_int_equal(c->calls, 0);
    assert_int_equal(atomic_load(&f->server.requests), 0);
    http_pool_destroy(pool);
}

static void test_closed_without_response_fails(void **state)
{
    fixture *f = *state;
    static const char *const paths[] = {"/reset", "/abort"};

    for (int i = 0; i < 2; i++) {
        char url[128];
        wharf_http_request request;
        completion *c = take_completion(f, NULL);

        url_for(url, sizeof(url), f, paths[i]);
        request = request_for(url);
        request.timeout_ms = 5000;
        fetch(f, &request, c);

        assert_int_equal(c->error, WHARF_HTTP_ERR_OTHER);
        assert_int_equal(c->status, 0);
        assert_true(strlen(c->error_message) > 0);
    }
}

static void test_retry_after_header(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, "retry-after", "Retry-After", NULL);

    url_for(url, sizeof(url), f, "/retry");
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_OK);
    assert_int_equal(c->status, 429);
    assert_string_equal(c->body, "slow down");
    assert_true(c->lookup_found[0]);
    assert_string_equal(c->lookup_values[0], "7");
    assert_string_equal(c->lookup_values[1], "7");
}

static void test_redirect_not_followed(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, "location", NULL);

    url_for(url, sizeof(url), f, "/redirect");
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_OK);
    assert_int_equal(c->status, 302);
    assert_string_equal(c->lookup_values[0], "/ok");
    assert_int_equal(atomic_load(&f->server.requests), 1);
}

static void test_interim_response_headers_dropped(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, "x-final", "link", "x-interim", NULL);

    url_for(url, sizeof(url), f, "/early");
    request = request_for(url);
    fetch(f, &request, c);

    assert_int_equal(c->error, WHARF_HTTP_OK);
    assert_int_equal(c->status, 200);
    assert_string_equal(c->body, "final");
    assert_string_equal(c->lookup_values[0], "1");
    assert_false(c->lookup_found[1]);
    assert_false(c->lookup_found[2]);
}

static void test_large_post_copied_without_expect(void **state)
{
    fixture *f = *state;
    size_t size = 2 * 1024 * 1024;
    char url[128];
    char *body = malloc(size);
    char *header_value = strdup("abc");
    wharf_http_header headers[1] = {{"X-Custom", header_value}};
    wharf_http_request *request = calloc(1, sizeof(*request));
    http_pool *pool = http_pool_create(f->client, "post", 1);
    completion *c = take_completion(f, "x-expect", "x-echo-custom", "x-echo-content-type", NULL);
    char expected[128];

    url_for(url, sizeof(url), f, "/echo");
    memset(body, 'b', size);
    memcpy(body, "payload-start", 13);
    request->struct_size = sizeof(*request);
    request->method = "POST";
    request->url = url;
    request->headers = headers;
    request->header_count = 1;
    request->body = body;
    request->body_size = size;
    assert_int_equal(http_pool_request(pool, request, on_done, c), 0);

    /* Everything the request pointed to is copied, so it can go now. */
    memset(body, 'z', size);
    free(body);
    free(header_value);
    free(request);
    memset(url, 0, sizeof(url));

    assert_true(run_until(f, &c->calls, 1, WAIT_MS));
    assert_int_equal(c->error, WHARF_HTTP_OK);
    snprintf(expected, sizeof(expected), "POST %zu payload-start", size);
    assert_int_equal(strncmp(c->body, expected, strlen(expected)), 0);
    assert_string_equal(c->lookup_values[0], "no");
    assert_string_equal(c->lookup_values[1], "abc");
    assert_string_equal(c->lookup_values[2], "(none)");
    assert_int_equal(atomic_load(&f->server.expect_headers), 0);
    http_pool_destroy(pool);
}

static void test_methods_and_empty_header(void **state)
{
    fixture *f = *state;
    char url[128];
    char ok_url[128];
    wharf_http_header headers[2] = {{"X-Custom", ""}, {"Content-Type", "application/json"}};
    wharf_http_request request;
    completion *put = take_completion(f, "x-echo-custom", "x-echo-content-type", NULL);
    completion *remove = take_completion(f, NULL);
    completion *head = take_completion(f, NULL);
    completion *patch = take_completion(f, "x-echo-content-type", NULL);

    url_for(url, sizeof(url), f, "/echo");
    url_for(ok_url, sizeof(ok_url), f, "/ok");

    request = request_for(url);
    request.method = "PUT";
    request.headers = headers;
    request.header_count = 1;
    fetch(f, &request, put);
    assert_string_equal(put->body, "PUT 0 ");
    assert_string_equal(put->lookup_values[0], "");
    assert_string_equal(put->lookup_values[1], "(none)");

    request = request_for(url);
    request.method = "DELETE";
    fetch(f, &request, remove);
    assert_string_equal(remove->body, "DELETE 0 ");

    request = request_for(url);
    request.method = "PATCH";
    request.headers = headers + 1;
    request.header_count = 1;
    request.body = "{}";
    request.body_size = 2;
    fetch(f, &request, patch);
    assert_string_equal(patch->body, "PATCH 2 {}");
    assert_string_equal(patch->lookup_values[0], "application/json");

    request = request_for(ok_url);
    request.method = "HEAD";
    fetch(f, &request, head);
    assert_int_equal(head->error, WHARF_HTTP_OK);
    assert_int_equal(head->status, 200);
    assert_int_equal(head->body_size, 0);
    assert_string_equal(head->body, "");
}

static void test_pool_destroy_cancels_requests(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completions(f, 3);
    int order[3] = {0};
    int next = 0;
    http_pool *pool = http_pool_create(f->client, "doomed", 1);

    url_for(url, sizeof(url), f, "/slow?ms=3000");
    request = request_for(url);
    for (int i = 0; i < 3; i++) {
        c[i].order = order;
        c[i].order_index = i;
        c[i].order_next = &next;
        c[i].request_pool = pool;
        assert_int_equal(http_pool_request(pool, &request, on_done, &c[i]), 0);
    }
    assert_int_equal(http_pool_in_flight(pool), 1);
    assert_int_equal(http_pool_waiting(pool), 2);
    /* Let the first request reach the server. */
    assert_true(run_until_server(f, &f->server.requests, 1, WAIT_MS));

    http_pool_destroy(pool);
    run_for(f, 50);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].calls, 1);
        assert_int_equal(c[i].error, WHARF_HTTP_ERR_CANCELLED);
        assert_int_equal(c[i].status, 0);
        assert_non_null(strstr(c[i].error_message, "doomed"));
        /* A request from a cancellation callback of a destroyed pool. */
        assert_int_equal(c[i].request_rc, -ECANCELED);
        assert_int_equal(order[i], i);
    }
}

static void test_pool_destroy_from_done(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completions(f, 3);
    http_pool *pool = http_pool_create(f->client, "self-destroying", 1);

    url_for(url, sizeof(url), f, "/ok");
    request = request_for(url);
    c[0].destroy_pool = pool;
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_pool_request(pool, &request, on_done, &c[i]), 0);

    assert_true(run_until(f, &c[2].calls, 1, WAIT_MS));
    run_for(f, 50);

    assert_int_equal(c[0].calls, 1);
    assert_int_equal(c[0].error, WHARF_HTTP_OK);
    assert_int_equal(c[0].status, 200);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(c[i].calls, 1);
        assert_int_equal(c[i].error, WHARF_HTTP_ERR_CANCELLED);
    }
}

static void test_client_close_cancels_everything(void **state)
{
    fixture *f = *state;
    char url[128];
    wharf_http_request request;
    completion *c = take_completions(f, 6);
    http_pool *pools[2];

    pools[0] = http_pool_create(f->client, "first", 2);
    pools[1] = http_pool_create(f->client, "second", 2);
    url_for(url, sizeof(url), f, "/slow?ms=5000");
    request = request_for(url);
    for (int i = 0; i < 6; i++) {
        c[i].request_pool = pools[i % 2];
        assert_int_equal(http_pool_request(pools[i % 2], &request, on_done, &c[i]), 0);
    }
    assert_int_equal(http_pool_waiting(pools[0]), 1);
    assert_true(run_until_server(f, &f->server.requests, 4, WAIT_MS));

    http_client_close(f->client, on_client_closed, f);
    f->client = NULL;
    assert_int_equal(f->client_closed, 0);

    assert_true(run_until(f, &f->client_closed, 1, WAIT_MS));
    run_for(f, 50);
    assert_int_equal(f->client_closed, 1);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c[i].calls, 1);
        assert_int_equal(c[i].error, WHARF_HTTP_ERR_CANCELLED);
        assert_int_equal(c[i].request_rc, -ECANCELED);
    }

    /* The pools outlive the client until their owners destroy them. */
    assert_int_equal(http_pool_request(pools[0], &request, on_done, &c[0]), -ECANCELED);
    assert_int_equal(http_pool_in_flight(pools[0]), 0);
    assert_int_equal(http_pool_waiting(pools[0]), 0);
    http_pool_set_limit(pools[1], 8);
    http_pool_destroy(pools[0]);
    http_pool_destroy(pools[1]);
    assert_int_equal(c[0].calls, 1);
}

static void test_client_close_from_done(void **state)
{
    fixture *f = *state;
    char ok_url[128];
    char slow_url[128];
    wharf_http_request request;
    completion *quick = take_completion(f, NULL);
    completion *slow = take_completion(f, NULL);
    http_pool *pool = http_pool_create(f->client, "closing", 2);

    quick->fixture = f;
    quick->close_client = 1;
    url_for(ok_url, sizeof(ok_url), f, "/ok");
    url_for(slow_url, sizeof(slow_url), f, "/slow?ms=5000");
    request = request_for(slow_url);
    assert_int_equal(http_pool_request(pool, &request, on_done, slow), 0);
    request = request_for(ok_url);
    assert_int_equal(http_pool_request(pool, &request, on_done, quick), 0);

    assert_true(run_until(f, &f->client_closed, 1, WAIT_MS));
    assert_int_equal(quick->calls, 1);
    assert_int_equal(quick->status, 200);
    assert_int_equal(slow->calls, 1);
    assert_int_equal(slow->error, WHARF_HTTP_ERR_CANCELLED);
    http_pool_destroy(pool);
}

static void test_closing_client_rejects_requests(void **state)
{
    fixture *f = *state;
    http_pool *pool = http_pool_create(f->client, "late", 1);
    char url[128];
    wharf_http_request request;
    completion *c = take_completion(f, NULL);

    url_for(url, sizeof(url), f, "/ok");
    request = request_for(url);
    http_client_close(f->client, on_client_closed, f);

    assert_int_equal(http_pool_request(pool, &request, on_done, c), -ECANCELED);
    assert_null(http_pool_create(f->client, "too-late", 1));
    http_pool_destroy(pool);
    f->client = NULL;

    assert_true(run_until(f, &f->client_closed, 1, WAIT_MS));
    assert_int_equal(c->calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ok_body_and_headers, setup, teardown),
        cmocka_unit_test(test_header_lookup_rejects_foreign_response),
        cmocka_unit_test_setup_teardown(test_sequential_requests_reuse_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_connection_each_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_limit_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connections_kept_for_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_requests_start_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raising_limit_starts_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localhost_name_resolves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_handshake_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endless_body_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_size_limit_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endless_headers_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_without_response_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interim_response_headers_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_post_copied_without_expect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_and_empty_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_destroy_cancels_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_destroy_from_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_close_cancels_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_close_from_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_client_rejects_requests, setup, teardown),
    };

    /* Keep every request on loopback even where the environment names a
     * proxy, which curl would otherwise use. */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");

    /* CMOCKA_TEST_FILTER=test_timeout runs one test; WHARF_TEST_DEBUG=1 shows
     * the client's debug log. */
    if (getenv("CMOCKA_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CMOCKA_TEST_FILTER"));
    if (getenv("WHARF_TEST_DEBUG"))
        log_set_level(WHARF_LOG_DEBUG);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
