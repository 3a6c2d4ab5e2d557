#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "sink.h"

#include <errno.h>
#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

/* Every request gets the same answer. Content-Length keeps the connection
 * reusable; the body is what a typical webhook receiver returns. */
static const char response_keep_alive[] = "HTTP/1.1 200 OK\r\n"
                                          "Content-Type: application/json\r\n"
                                          "Content-Length: 2\r\n"
                                          "\r\n"
                                          "{}";
static const char response_close[] = "HTTP/1.1 200 OK\r\n"
                                     "Content-Type: application/json\r\n"
                                     "Content-Length: 2\r\n"
                                     "Connection: close\r\n"
                                     "\r\n"
                                     "{}";
static const char response_bad_request[] = "HTTP/1.1 400 Bad Request\r\n"
                                           "Content-Length: 0\r\n"
                                           "Connection: close\r\n"
                                           "\r\n";
/* curl sends "Expect: 100-continue" before a large body and waits for this. */
static const char response_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

#define READ_BUFFER_SIZE 65536
#define HEADER_TEXT_SIZE 32
/* Bodies larger than this are counted but not kept whole. */
#define MAX_BODY_SIZE (64u * 1024 * 1024)

struct sink {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_async_t stop;
    pthread_t thread;
    int port;
    http_parser_settings settings;
    char *latency_key; /* NULL when latency is not measured */
    uint64_t *latencies;
    size_t latency_capacity;
    atomic_size_t latency_count;
    atomic_int measuring; /* sink_measure_latency() */
    int keep_first_body;
    char *first_body;
    size_t first_body_length;
    atomic_int first_body_ready;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t messages;
    atomic_uint_fast64_t body_bytes;
    atomic_uint_fast64_t bad_requests;
    atomic_uint_fast64_t last_message_ns;
};

typedef struct connection {
    uv_tcp_t handle;
    http_parser parser;
    sink *owner;
    char read_buffer[READ_BUFFER_SIZE];
    char *body;
    size_t body_length;
    size_t body_capacity;
    int body_truncated;
    /* The header being read, for Expect: 100-continue. */
    char field[HEADER_TEXT_SIZE];
    size_t field_length;
    char value[HEADER_TEXT_SIZE];
    size_t value_length;
    int in_value;
    int expects_continue;
    int closing;
} connection;

static uint64_t now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void report_key(const char *element, size_t length, const char *pattern,
                       void (*found)(void *user_data, uint64_t value), void *user_data)
{
    size_t pattern_length = strlen(pattern);
    const char *at = memmem(element, length, pattern, pattern_length);
    const char *end = element + length;
    uint64_t value = 0;
    int digits = 0;

    if (at == NULL)
        return;
    at += pattern_length;
    while (at < end && is_space(*at))
        at++;
    while (at < end && *at >= '0' && *at <= '9') {
        value = value * 10 + (uint64_t)(*at - '0');
        at++;
        digits++;
    }
    if (digits > 0)
        found(user_data, value);
}

/* Return the index of the quote that closes the string whose contents start
 * at i, or length when the string is cut off. memchr() finds each candidate
 * quote, because a loop over single bytes was the sink's largest cost. A
 * quote is escaped when an odd run of backslashes comes before it. */
static size_t string_end(const char *body, size_t i, size_t length)
{
    while (i < length) {
        const char *quote = memchr(body + i, '"', length - i);
        size_t at;
        size_t backslashes = 0;

        if (quote == NULL)
            return length;
        at = (size_t)(quote - body);
        while (at - backslashes > i && body[at - backslashes - 1] == '\\')
            backslashes++;
        if (backslashes % 2 == 0)
            return at;
        i = at + 1;
    }
    return length;
}

uint64_t sink_count_messages(const char *body, size_t length, const char *latency_key,
                             void (*found)(void *user_data, uint64_t value), void *user_data)
{
    char pattern[256];
    const char *key_pattern = NULL;
    size_t i = 0;
    size_t start = 0;
    unsigned depth = 0;
    int has_content = 0;
    uint64_t count = 0;

    if (latency_key != NULL && found != NULL) {
        snprintf(pattern, sizeof(pattern), "\"%s\":", latency_key);
        key_pattern = pattern;
    }
    while (i < length && is_space(body[i]))
        i++;
    if (i == length)
        return 0;
    if (body[i] != '[') {
        if (key_pattern != NULL)
            report_key(body + i, length - i, key_pattern, found, user_data);
        return 1;
    }

    /* Elements of the top-level array are separated by commas at depth 1;
     * brackets and commas inside strings do not count. */
    for (; i < length; i++) {
        char c = body[i];

        if (c == '"') {
            has_content = 1;
            i = string_end(body, i + 1, length);
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth == 1)
                start = i + 1;
            else
                has_content = 1;
        } else if (c == ']' || c == '}') {
            if (depth == 1) {
                if (has_content) {
                    count++;
                    if (key_pattern != NULL)
                        report_key(body + start, i - start, key_pattern, found, user_data);
                }
                return count;
            }
            depth--;
        } else if (c == ',' && depth == 1) {
            count++;
            if (key_pattern != NULL)
                report_key(body + start, i - start, key_pattern, found, user_data);
            start = i + 1;
            has_content = 0;
        } else if (!is_space(c)) {
            has_content = 1;
        }
    }
    /* A truncated array: count what was seen. */
    return count + (has_content ? 1 : 0);
}

static void on_closed(uv_handle_t *handle)
{
    connection *c = handle->data;

    free(c->body);
    free(c);
}

static void close_connection(connection *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->handle, on_closed);
}

typedef struct response_write {
    uv_write_t request;
    connection *connection;
    int close_after;
} response_write;

static void on_written(uv_write_t *request, int status)
{
    response_write *write = (response_write *)request;
    connection *c = write->connection;
    int close_after = write->close_after;

    free(write);
    if (close_after || status < 0)
        close_connection(c);
}

/* Queue a static response; with close_after the connection closes once it
 * has been written. */
static void respond(connection *c, const char *text, size_t length, int close_after)
{
    response_write *write;
    uv_buf_t buffer = uv_buf_init((char *)text, (unsigned)length);

    if (c->closing)
        return;
    write = calloc(1, sizeof(*write));
    if (write == NULL) {
        close_connection(c);
        return;
    }
    write->connection = c;
    write->close_after = close_after;
    if (uv_write(&write->request, (uv_stream_t *)&c->handle, &buffer, 1, on_written) != 0) {
        free(write);
        close_connection(c);
    }
}

static void check_header(connection *c)
{
    if (c->field_length == 6 && strncasecmp(c->field, "expect", 6) == 0 &&
        c->value_length == 12 && strncasecmp(c->value, "100-continue", 12) == 0)
        c->expects_continue = 1;
    c->field_length = 0;
    c->value_length = 0;
    c->in_value = 0;
}

static void append_text(char *text, size_t *length, const char *at, size_t size)
{
    /* Longer names and values are not the ones looked for; keep a prefix
     * and the true length so that they never match. */
    size_t room = HEADER_TEXT_SIZE - (*length < HEADER_TEXT_SIZE ? *length : HEADER_TEXT_SIZE);
    size_t copy = size < room ? size : room;

    memcpy(text + *length, at, copy);
    *length += size;
}

static int on_message_begin(http_parser *parser)
{
    connection *c = parser->data;

    c->body_length = 0;
    c->body_truncated = 0;
    c->field_length = 0;
    c->value_length = 0;
    c->in_value = 0;
    c->expects_continue = 0;
    return 0;
}

static int on_header_field(http_parser *parser, const char *at, size_t length)
{
    connection *c = parser->data;

    if (c->in_value)
        check_header(c);
    append_text(c->field, &c->field_length, at, length);
    return 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t length)
{
    connection *c = parser->data;

    c->in_value = 1;
    append_text(c->value, &c->value_length, at, length);
    return 0;
}

static int on_headers_complete(http_parser *parser)
{
    connection *c = parser->data;

    if (c->in_value)
        check_header(c);
    if (c->expects_continue)
        respond(c, response_continue, sizeof(response_continue) - 1, 0);
    return 0;
}

static int on_body(http_parser *parser, const char *at, size_t length)
{
    connection *c = parser->data;
    size_t needed = c->body_length + length + 1;

    if (c->body_truncated || needed > MAX_BODY_SIZE) {
        c->body_truncated = 1;
        return 0;
    }
    if (needed > c->body_capacity) {
        size_t capacity = c->body_capacity > 0 ? c->body_capacity : 65536;
        char *grown;

        while (capacity < needed)
            capacity *= 2;
        grown = realloc(c->body, capacity);
        if (grown == NULL) {
            c->body_truncated = 1;
            return 0;
        }
        c->body = grown;
        c->body_capacity = capacity;
    }
    memcpy(c->body + c->body_length, at, length);
    c->body_length += length;
    return 0;
}

typedef struct latency_context {
    sink *owner;
    uint64_t arrived_ns;
} latency_context;

static void record_latency(void *user_data, uint64_t sent_ns)
{
    latency_context *context = user_data;
    sink *s = context->owner;
    size_t slot = atomic_load_explicit(&s->latency_count, memory_order_relaxed);

    if (slot >= s->latency_capacity || sent_ns > context->arrived_ns)
        return;
    s->latencies[slot] = context->arrived_ns - sent_ns;
    atomic_store_explicit(&s->latency_count, slot + 1, memory_order_release);
}

static int on_message_complete(http_parser *parser)
{
    connection *c = parser->data;
    sink *s = c->owner;
    latency_context context = {s, now_ns()};
    uint64_t messages = 0;

    if (!c->body_truncated && c->body_length > 0)
        messages = sink_count_messages(c->body, c->body_length,
                                       atomic_load(&s->measuring) ? s->latency_key : NULL,
                                       record_latency, &context);
    if (s->keep_first_body && !atomic_load(&s->first_body_ready) && !c->body_truncated &&
        c->body_length > 0) {
        s->first_body = malloc(c->body_length + 1);
        if (s->first_body != NULL) {
            memcpy(s->first_body, c->body, c->body_length);
            s->first_body[c->body_length] = '\0';
            s->first_body_length = c->body_length;
            atomic_store(&s->first_body_ready, 1);
        }
    }

    atomic_fetch_add(&s->requests, 1);
    atomic_fetch_add(&s->messages, messages);
    atomic_fetch_add(&s->body_bytes, c->body_length);
    if (messages > 0)
        atomic_store(&s->last_message_ns, context.arrived_ns);

    if (http_should_keep_alive(parser))
        respond(c, response_keep_alive, sizeof(response_keep_alive) - 1, 0);
    else
        respond(c, response_close, sizeof(response_close) - 1, 1);
    return 0;
}

static void on_allocate(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    connection *c = handle->data;

    (void)suggested;
    *buffer = uv_buf_init(c->read_buffer, sizeof(c->read_buffer));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buffer)
{
    connection *c = stream->data;
    size_t parsed;

    if (nread < 0) {
        close_connection(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;

    /* One read may hold the end of one request and the start of the next
     * (keep-alive, pipelining); http-parser resets itself between them. */
    parsed = http_parser_execute(&c->parser, &c->owner->settings, buffer->base, (size_t)nread);
    if (c->parser.upgrade) {
        close_connection(c);
        return;
    }
    if (parsed != (size_t)nread || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        atomic_fetch_add(&c->owner->bad_requests, 1);
        respond(c, response_bad_request, sizeof(response_bad_request) - 1, 1);
        uv_read_stop(stream);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    sink *s = server->data;
    connection *c;

    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->owner = s;
    uv_tcp_init(&s->loop, &c->handle);
    c->handle.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->handle) != 0) {
        close_connection(c);
        return;
    }
    uv_tcp_nodelay(&c->handle, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->handle, on_allocate, on_read);
}

static void close_any(uv_handle_t *handle, void *argument)
{
    (void)argument;
    if (uv_is_closing(handle))
        return;
    if (handle->type == UV_TCP && handle->data != NULL && handle->data != handle->loop->data)
        close_connection(handle->data);
    else
        uv_close(handle, NULL);
}

static void on_stop(uv_async_t *handle)
{
    uv_walk(handle->loop, close_any, NULL);
}

static void *run_loop(void *argument)
{
    sink *s = argument;

    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void release(sink *s)
{
    free(s->latency_key);
    free(s->latencies);
    free(s->first_body);
    free(s);
}

int sink_start(const sink_options *options, sink **out, char *error, size_t error_size)
{
    sink *s = calloc(1, sizeof(*s));
    struct sockaddr_in address;
    struct sockaddr_storage bound;
    int bound_length = sizeof(bound);
    int rc;

    *out = NULL;
    if (s == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    s->keep_first_body = options->keep_first_body;
    if (options->latency_key != NULL) {
        s->latency_key = strdup(options->latency_key);
        s->latency_capacity = options->latency_capacity;
        s->latencies = calloc(s->latency_capacity > 0 ? s->latency_capacity : 1,
                              sizeof(uint64_t));
        if (s->latency_key == NULL || s->latencies == NULL) {
            snprintf(error, error_size, "out of memory");
            release(s);
            return -1;
        }
    }
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;

    rc = uv_loop_init(&s->loop);
    if (rc != 0) {
        snprintf(error, error_size, "cannot create the sink's loop: %s", uv_strerror(rc));
        release(s);
        return -1;
    }
    /* close_any() tells the server and the async handle from connections
     * by this marker. */
    s->loop.data = s;
    uv_tcp_init(&s->loop, &s->server);
    s->server.data = s;
    uv_async_init(&s->loop, &s->stop, on_stop);
    s->stop.data = s;
    uv_ip4_addr("127.0.0.1", options->port, &address);
    rc = uv_tcp_bind(&s->server, (const struct sockaddr *)&address, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->server, 128, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->server, (struct sockaddr *)&bound, &bound_length);
    if (rc != 0) {
        snprintf(error, error_size, "cannot listen on 127.0.0.1:%d: %s", options->port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&s->server, NULL);
        uv_close((uv_handle_t *)&s->stop, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        release(s);
        return -1;
    }
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

    rc = pthread_create(&s->thread, NULL, run_loop, s);
    if (rc != 0) {
        snprintf(error, error_size, "cannot start the sink's thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&s->server, NULL);
        uv_close((uv_handle_t *)&s->stop, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        release(s);
        return -1;
    }
    *out = s;
    return 0;
}

int sink_port(const sink *s)
{
    return s->port;
}

void sink_read_counts(const sink *s, sink_counts *counts)
{
    sink *mutable_sink = (sink *)s;

    counts->requests = atomic_load(&mutable_sink->requests);
    counts->messages = atomic_load(&mutable_sink->messages);
    counts->body_bytes = atomic_load(&mutable_sink->body_bytes);
    counts->bad_requests = atomic_load(&mutable_sink->bad_requests);
    counts->last_message_ns = atomic_load(&mutable_sink->last_message_ns);
}

const uint64_t *sink_latencies(const sink *s, size_t *count)
{
    sink *mutable_sink = (sink *)s;

    *count = atomic_load_explicit(&mutable_sink->latency_count, memory_order_acquire);
    return s->latencies;
}

void sink_measure_latency(sink *s, int on)
{
    if (on)
        atomic_store(&s->latency_count, 0);
    atomic_store(&s->measuring, on);
}

const char *sink_first_body(const sink *s, size_t *length)
{
    sink *mutable_sink = (sink *)s;

    if (!atomic_load(&mutable_sink->first_body_ready)) {
        *length = 0;
        return NULL;
    }
    *length = s->first_body_length;
    return s->first_body;
}

void sink_free(sink *s)
{
    if (s == NULL)
        return;
    uv_async_send(&s->stop);
    pthread_join(s->thread, NULL);
    uv_loop_close(&s->loop);
    release(s);
}
