/* Unit tests of batches built from message texts (batch_create_texts): the
 * host accessors and the lazy parse shared by threads. The bundled webhook
 * plugin, loaded from the build tree, sends such batches to a recording
 * HTTP server on 127.0.0.1, a thread of this process on a port the kernel
 * picks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "batch.h"
#include "connector_instance.h"
#include "host_api.h"
#include "http_client.h"
#include "plugin_loader.h"
#include "service.h"

#define WEBHOOK_PLUGIN WHARF_TEST_FIXTURES_DIR "/../plugins/webhook.so"
#define MAX_BODIES 16
#define POLL_MS 50
#define WAIT_MS 10000 /* upper bound for a batch to complete */
#define PARSE_THREADS 4

/* Recording server: one connection at a time (the connector allows one),
 * keep-alive, a 200 "ok" for every request, every body kept. */
typedef struct recorder {
    int listen_fd;
    int port;
    atomic_int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    char *bodies[MAX_BODIES]; /* guarded by lock */
    size_t lengths[MAX_BODIES];
    size_t body_count;
} recorder;

typedef struct fixture {
    uv_loop_t loop;
    uv_timer_t tick;
    service svc;
    plugin *webhook;
    connector_instance *instance;
    recorder server;
    int done;
    wharf_batch *finished; /* the batch that done received */
} fixture;

/* Message texts as message_build_text() writes them, plus spaces and an
 * escaped slash that json-c's serialiser would not keep, so a body shows
 * whether the texts went into it unchanged. */
static char *const texts[] = {
    "{\"type\":\"user\", \"message_id\":\"m-1\",\"user\":{\"id\":\"u-1\",\"attributes\":"
    "{\"name\":\"Zo\xc3\xab \\\"Z\\\" a\\/b\",\"age\":41}},\"is_export\":true}",
    "{\"type\":\"user\", \"message_id\":\"m-2\",\"user\":{\"id\":\"u-2\",\"attributes\":"
    "{\"tags\":[\"x\",2,null],\"score\":4.5}},\"is_export\":true}",
    "{\"type\":\"account\", \"message_id\":\"m-3\",\"account\":{\"id\":\"a-1\","
    "\"attributes\":{\"emoji\":\"\xf0\x9f\x98\x80\\n\"}},\"is_export\":true}",
    "{\"type\":\"user\", \"message_id\":\"m-4\",\"user\":{\"id\":\"u-4\",\"attributes\":{}},"
    "\"is_export\":false}",
    "{\"type\":\"user\", \"message_id\":\"m-5\",\"user\":{\"id\":\"u-5\",\"attributes\":"
    "{\"nested\":{\"deep\":[{\"a\":1}]}}},\"is_export\":true}",
};
#define TEXT_COUNT (sizeof(texts) / sizeof(texts[0]))

static size_t text_lengths[TEXT_COUNT];

/* Recorder. */

static int read_some(int fd, char *buffer, size_t capacity, size_t *length, atomic_int *stop)
{
    struct pollfd ready = {fd, POLLIN, 0};
    ssize_t got;

    while (!atomic_load(stop)) {
        int rc = poll(&ready, 1, POLL_MS);

        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc <= 0)
            continue;
        got = recv(fd, buffer + *length, capacity - *length, 0);
        if (got <= 0)
            return -1;
        *length += (size_t)got;
        return 0;
    }
    return -1;
}

/* The value of Content-Length in the header block, or 0. */
static size_t content_length(const char *headers, size_t header_length)
{
    const char *at = headers;
    const char *end = headers + header_length;

    while (at < end) {
        const char *line_end = memchr(at, '\n', (size_t)(end - at));

        if (line_end == NULL)
            break;
        if (strncasecmp(at, "Content-Length:", 15) == 0)
            return (size_t)strtoull(at + 15, NULL, 10);
        at = line_end + 1;
    }
    return 0;
}

/* Serve requests on one connection until it closes or the server stops. */
static void serve_connection(recorder *server, int fd)
{
    static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    size_t capacity = 1 << 20;
    char *buffer = malloc(capacity + 1);
    size_t length = 0;

    while (buffer != NULL) {
        char *header_end;
        size_t header_length;
        size_t body_length;

        buffer[length] = '\0';
        header_end = strstr(buffer, "\r\n\r\n");
        if (header_end == NULL) {
            if (length == capacity || read_some(fd, buffer, capacity, &length, &server->stop) != 0)
                break;
            continue;
        }
        header_length = (size_t)(header_end - buffer) + 4;
        body_length = content_length(buffer, header_length);
        if (header_length + body_length > capacity)
            break;
        if (length < header_length + body_length) {
            if (read_some(fd, buffer, capacity, &length, &server->stop) != 0)
                break;
            continue;
        }

        pthread_mutex_lock(&server->lock);
        if (server->body_count < MAX_BODIES) {
            char *body = malloc(body_length + 1);

            if (body != NULL) {
                memcpy(body, buffer + header_length, body_length);
                body[body_length] = '\0';
                server->bodies[server->body_count] = body;
                server->lengths[server->body_count] = body_length;
                server->body_count++;
            }
        }
        pthread_mutex_unlock(&server->lock);
        if (send(fd, response, sizeof(response) - 1, MSG_NOSIGNAL) < 0)
            break;

        memmove(buffer, buffer + header_length + body_length,
                length - header_length - body_length);
        length -= header_length + body_length;
    }
    free(buffer);
    close(fd);
}

static void *recorder_main(void *argument)
{
    recorder *server = argument;
    struct pollfd ready = {server->listen_fd, POLLIN, 0};

    while (!atomic_load(&server->stop)) {
        int fd;

        if (poll(&ready, 1, POLL_MS) <= 0)
            continue;
        fd = accept(server->listen_fd, NULL, NULL);
        if (fd >= 0)
            serve_connection(server, fd);
    }
    return NULL;
}

static int recorder_start(recorder *server)
{
    struct sockaddr_in address = {0};
    socklen_t address_length = sizeof(address);

    pthread_mutex_init(&server->lock, NULL);
    server->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (server->listen_fd < 0)
        return -1;
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(server->listen_fd, 16) != 0 ||
        getsockname(server->listen_fd, (struct sockaddr *)&address, &address_length) != 0)
        return -1;
    server->port = ntohs(address.sin_port);
    return pthread_create(&server->thread, NULL, recorder_main, server) == 0 ? 0 : -1;
}

static void recorder_stop(recorder *server)
{
    atomic_store(&server->stop, 1);
    pthread_join(server->thread, NULL);
    close(server->listen_fd);
    for (size_t i = 0; i < server->body_count; i++)
        free(server->bodies[i]);
    pthread_mutex_destroy(&server->lock);
}

/* Fixture. */

static void on_tick(uv_timer_t *timer)
{
    (void)timer;
}

static void on_batch_done(wharf_batch *batch, void *user_data)
{
    fixture *f = user_data;

    f->done++;
    f->finished = batch;
}

/* Run the loop until the batch is done, for at most WAIT_MS. */
static void run_until_done(fixture *f)
{
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;

    while (!f->done && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->done, 1);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char error[512] = "";
    char settings_text[256];
    json_object *settings;

    if (f == NULL || uv_loop_init(&f->loop) != 0)
        return -1;
    for (size_t i = 0; i < TEXT_COUNT; i++)
        text_lengths[i] = strlen(texts[i]);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, POLL_MS, POLL_MS);
    f->svc.loop = &f->loop;
    if (recorder_start(&f->server) != 0 || http_client_init(&f->svc.http, &f->loop) != 0)
        return -1;
    if (plugin_load(WEBHOOK_PLUGIN, &f->webhook, error, sizeof(error)) != PLUGIN_LOADED) {
        fprintf(stderr, "cannot load %s: %s\n", WEBHOOK_PLUGIN, error);
        return -1;
    }

    /* Two messages per request, so five messages make three requests. */
    snprintf(settings_text, sizeof(settings_text),
             "{\"url\": \"http://127.0.0.1:%d/hook\", \"batch_size\": 2, \"headers\": {},"
             " \"timeout_ms\": 5000}",
             f->server.port);
    settings = json_tokener_parse(settings_text);
    if (settings == NULL ||
        connector_instance_create(&f->svc, f->webhook, "c-text", "text hook", settings, 1,
                                  &f->instance, error, sizeof(error)) != 0) {
        fprintf(stderr, "cannot create the webhook connector: %s\n", error);
        json_object_put(settings);
        return -1;
    }
    json_object_put(settings);
    *state = f;
    return 0;
}

static void on_client_closed(void *argument)
{
    int *closed = argument;

    *closed = 1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int closed = 0;
    uint64_t deadline;

    connector_instance_retire(f->instance, 1);
    http_client_close(f->svc.http, on_client_closed, &closed);
    deadline = uv_now(&f->loop) + WAIT_MS;
    while (!closed && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    plugin_unload(f->webhook);
    recorder_stop(&f->server);
    if (uv_loop_close(&f->loop) != 0 || !closed)
        return -1;
    free(f);
    return 0;
}

/* Parse a whole text, and fail the test when it is not JSON. */
static json_object *parse_text(const char *text, size_t length)
{
    json_tokener *tokener = json_tokener_new();
    json_object *parsed = json_tokener_parse_ex(tokener, text, (int)length);

    if (json_tokener_get_error(tokener) != json_tokener_success)
        fail_msg("not JSON: %s", text);
    json_tokener_free(tokener);
    return parsed;
}

/* Tests. */

static void text_accessor_returns_texts(void **state)
{
    fixture *f = *state;
    wharf_batch *batch = batch_create_texts(f->instance, texts, text_lengths, TEXT_COUNT);
    size_t length = 99;

    assert_non_null(batch);
    assert_int_equal(batch_total(batch), TEXT_COUNT);
    /* The plugin's view is empty until batch_run() filtered the batch. */
    assert_null(batch_host_message_text(batch, 0, &length));
    assert_int_equal(length, 0);

    batch_run(batch, on_batch_done, f);
    run_until_done(f);
    assert_ptr_equal(f->finished, batch);
    for (size_t i = 0; i < TEXT_COUNT; i++) {
        assert_ptr_equal(batch_host_message_text(batch, i, &length), texts[i]);
        assert_int_equal(length, text_lengths[i]);
    }
    assert_null(batch_host_message_text(batch, TEXT_COUNT, &length));
    assert_int_equal(length, 0);
    assert_null(batch_host_message(batch, TEXT_COUNT));
    batch_free(batch);
}

static void object_batch_has_no_text(void **state)
{
    fixture *f = *state;
    json_object *message = parse_text(texts[0], text_lengths[0]);
    wharf_batch *batch = batch_create(f->instance, &message, 1);
    size_t length = 99;

    json_object_put(message);
    assert_non_null(batch);
    batch_run(batch, on_batch_done, f);
    run_until_done(f);
    assert_null(batch_host_message_text(batch, 0, &length));
    assert_int_equal(length, 0);
    assert_non_null(batch_host_message(batch, 0));
    batch_free(batch);
}

static void lazy_parse_matches_text(void **state)
{
    fixture *f = *state;
    wharf_batch *batch = batch_create_texts(f->instance, texts, text_lengths, TEXT_COUNT);

    assert_non_null(batch);
    for (size_t i = 0; i < TEXT_COUNT; i++) {
        json_object *expected = parse_text(texts[i], text_lengths[i]);
        json_object *first = batch_message_at(batch, i);

        assert_non_null(first);
        assert_true(json_object_equal(first, expected));
        /* Parsed once: the same object every time. */
        assert_ptr_equal(batch_message_at(batch, i), first);
        json_object_put(expected);
    }
    assert_null(batch_message_at(batch, TEXT_COUNT));
    batch_free(batch);
}

typedef struct parse_job {
    wharf_batch *batch;
    json_object *seen[TEXT_COUNT];
} parse_job;

static void *parse_all(void *argument)
{
    parse_job *job = argument;

    for (size_t i = 0; i < TEXT_COUNT; i++)
        job->seen[i] = batch_message_at(job->batch, i);
    return NULL;
}

static void lazy_parse_shared_by_threads(void **state)
{
    fixture *f = *state;
    parse_job jobs[PARSE_THREADS];
    pthread_t threads[PARSE_THREADS];

    /* Several rounds, each on a fresh batch, so that the threads race on
     * the first parse of each message. */
    for (int round = 0; round < 50; round++) {
        wharf_batch *batch = batch_create_texts(f->instance, texts, text_lengths, TEXT_COUNT);

        assert_non_null(batch);
        for (int t = 0; t < PARSE_THREADS; t++) {
            jobs[t].batch = batch;
            assert_int_equal(pthread_create(&threads[t], NULL, parse_all, &jobs[t]), 0);
        }
        for (int t = 0; t < PARSE_THREADS; t++)
            assert_int_equal(pthread_join(threads[t], NULL), 0);
        for (size_t i = 0; i < TEXT_COUNT; i++) {
            assert_non_null(jobs[0].seen[i]);
            for (int t = 1; t < PARSE_THREADS; t++)
                assert_ptr_equal(jobs[t].seen[i], jobs[0].seen[i]);
        }
        batch_free(batch);
    }
}

static void invalid_text_has_no_object(void **state)
{
    fixture *f = *state;
    char *const broken[] = {"{\"type\":\"user\",", "[1,2]"};
    const size_t lengths[] = {strlen(broken[0]), strlen(broken[1])};
    wharf_batch *batch = batch_create_texts(f->instance, broken, lengths, 2);

    assert_non_null(batch);
    assert_null(batch_message_at(batch, 0));
    /* Asking again gives NULL again, and the neighbour still parses. */
    assert_null(batch_message_at(batch, 0));
    assert_non_null(batch_message_at(batch, 1));
    batch_free(batch);
}

static void empty_text_batch(void **state)
{
    fixture *f = *state;
    wharf_batch *batch = batch_create_texts(f->instance, NULL, NULL, 0);

    assert_non_null(batch);
    assert_int_equal(batch_total(batch), 0);
    batch_run(batch, on_batch_done, f);
    run_until_done(f);
    batch_free(batch);
}

/* The bodies the server recorded, joined, must be the texts in arrays of
 * two, byte for byte. */
static void webhook_sends_texts_verbatim(void **state)
{
    fixture *f = *state;
    wharf_batch *batch = batch_create_texts(f->instance, texts, text_lengths, TEXT_COUNT);
    char expected[4096];

    assert_non_null(batch);
    batch_run(batch, on_batch_done, f);
    run_until_done(f);

    for (size_t i = 0; i < TEXT_COUNT; i++) {
        const batch_result *result = batch_result_at(batch, i);

        assert_int_equal(result->kind, WHARF_RESULT_SUCCESS);
        assert_int_equal(result->status_code, 200);
    }
    pthread_mutex_lock(&f->server.lock);
    assert_int_equal(f->server.body_count, 3);
    for (size_t body = 0; body < 3; body++) {
        size_t first = body * 2;

        if (first + 1 < TEXT_COUNT)
            snprintf(expected, sizeof(expected), "[%s,%s]", texts[first], texts[first + 1]);
        else
            snprintf(expected, sizeof(expected), "[%s]", texts[first]);
        assert_string_equal(f->server.bodies[body], expected);
        assert_int_equal(f->server.lengths[body], strlen(expected));
    }
    pthread_mutex_unlock(&f->server.lock);
    batch_free(batch);
}

/* Object batches still go through json-c: the same messages, serialised
 * again (so without the texts' spaces). */
static void webhook_serialises_objects(void **state)
{
    fixture *f = *state;
    json_object *messages[TEXT_COUNT];
    wharf_batch *batch;
    size_t seen = 0;

    for (size_t i = 0; i < TEXT_COUNT; i++)
        messages[i] = parse_text(texts[i], text_lengths[i]);
    batch = batch_create(f->instance, messages, TEXT_COUNT);
    assert_non_null(batch);
    batch_run(batch, on_batch_done, f);
    run_until_done(f);

    pthread_mutex_lock(&f->server.lock);
    assert_int_equal(f->server.body_count, 3);
    for (size_t body = 0; body < 3; body++) {
        json_object *array = parse_text(f->server.bodies[body], f->server.lengths[body]);

        assert_null(strstr(f->server.bodies[body], "\"type\":\"user\", "));
        for (size_t j = 0; j < json_object_array_length(array); j++)
            assert_true(json_object_equal(json_object_array_get_idx(array, j), messages[seen++]));
        json_object_put(array);
    }
    pthread_mutex_unlock(&f->server.lock);
    assert_int_equal(seen, TEXT_COUNT);
    for (size_t i = 0; i < TEXT_COUNT; i++)
        json_object_put(messages[i]);
    batch_free(batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(text_accessor_returns_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(object_batch_has_no_text, setup, teardown),
        cmocka_unit_test_setup_teardown(lazy_parse_matches_text, setup, teardown),
        cmocka_unit_test_setup_teardown(lazy_parse_shared_by_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_text_has_no_object, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_text_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_sends_texts_verbatim, setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_serialises_objects, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
