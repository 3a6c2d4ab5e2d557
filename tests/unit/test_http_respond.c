/* Unit tests of http_respond() with bytes that the request itself owns. A
 * handler may respond with the request's body, path or a header value, so
 * the response must be built before the request is freed. The client is
 * one end of a socketpair served through http_connection_open(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server_internal.h"

/* Loop turns to wait for a response. Each turn sleeps 10 ms when no
 * response bytes have arrived. */
#define MAX_TURNS 500

typedef struct fixture {
    uv_loop_t loop;
    http_server *server;
    int client;
} fixture;

/* Echo what the path names, straight from the request's own memory. */
static void echo_handler(http_request *request, void *user_data)
{
    const char *path = http_request_path(request);
    size_t body_size;
    const char *body = http_request_body(request, &body_size);

    (void)user_data;
    if (strcmp(path, "/body") == 0) {
        http_respond(request, 200, "text/plain", body, body_size);
    } else if (strcmp(path, "/content-type") == 0) {
        http_respond(request, 200, http_request_header(request, "X-Type"), "ok", 2);
    } else {
        http_respond(request, 200, "text/plain", path, strlen(path));
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    int sockets[2];
    char error[256];

    if (f == NULL || uv_loop_init(&f->loop) != 0)
        return -1;
    if (http_server_start(&f->server, &f->loop, "127.0.0.1", 0, NULL, echo_handler, NULL, error,
                          sizeof(error)) != 0) {
        fprintf(stderr, "http_server_start failed: %s\n", error);
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
        return -1;
    if (http_connection_open(f->server, sockets[0]) != 0)
        return -1;
    f->client = sockets[1];
    *state = f;
    return 0;
}

static void on_stopped(void *argument)
{
    *(int *)argument = 1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int stopped = 0;

    close(f->client);
    http_server_stop(f->server, on_stopped, &stopped);
    while (!stopped)
        uv_run(&f->loop, UV_RUN_ONCE);
    if (uv_loop_close(&f->loop) != 0)
        return -1;
    free(f);
    return 0;
}

/* Send request and return the whole response, NUL-terminated, for free().
 * Every request here carries "Connection: close", so the response ends
 * when the server closes the connection. */
static char *exchange(fixture *f, const char *request)
{
    size_t capacity = 4096;
    size_t length = 0;
    char *response = malloc(capacity);

    assert_non_null(response);
    assert_int_equal(send(f->client, request, strlen(request), MSG_NOSIGNAL),
                     (ssize_t)strlen(request));

    for (int turn = 0; turn < MAX_TURNS; turn++) {
        ssize_t received;

        uv_run(&f->loop, UV_RUN_NOWAIT);
        received = recv(f->client, response + length, capacity - length - 1, MSG_DONTWAIT);
        if (received == 0)
            break;
        if (received > 0) {
            length += (size_t)received;
            assert_true(length < capacity - 1);
            continue;
        }
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        usleep(10000);
    }
    response[length] = '\0';
    return response;
}

/* The response body: what follows the blank line after the headers. */
static const char *body_of(const char *response)
{
    const char *end = strstr(response, "\r\n\r\n");

    if (end == NULL)
        fail_msg("no end of headers in response: %s", response);
    return end + 4;
}

static void respond_with_request_body(void **state)
{
    char *response = exchange(*state, "POST /body HTTP/1.1\r\nConnection: close\r\n"
                                      "Content-Length: 11\r\n\r\nhello world");

    assert_non_null(strstr(response, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(response, "Content-Length: 11\r\n"));
    assert_string_equal(body_of(response), "hello world");
    free(response);
}

static void respond_with_request_path(void **state)
{
    char *response = exchange(*state, "GET /a/longer/path/than/sixteen/bytes HTTP/1.1\r\n"
                                      "Connection: close\r\n\r\n");

    assert_non_null(strstr(response, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body_of(response), "/a/longer/path/than/sixteen/bytes");
    free(response);
}

static void respond_with_request_header(void **state)
{
    char *response = exchange(*state, "GET /content-type HTTP/1.1\r\nConnection: close\r\n"
                                      "X-Type: application/vnd.wharf.test+json\r\n\r\n");

    assert_non_null(strstr(response, "Content-Type: application/vnd.wharf.test+json\r\n"));
    assert_string_equal(body_of(response), "ok");
    free(response);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(respond_with_request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(respond_with_request_path, setup, teardown),
        cmocka_unit_test_setup_teardown(respond_with_request_header, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
