/*
 * Fuzz target: the bytes one client sends on a connection to wharfd's HTTP
 * server (http_connection.c reading and parsing with http-parser,
 * http_request.c building each request, http_server.c writing responses).
 *
 * Input layout: byte 0 is a control byte, the rest is the client's stream.
 *   bits 0-2  size of the pieces the stream is written in (all at once, or
 *             1 to 512 bytes, so that http-parser's callbacks get split
 *             names, values and bodies)
 *   bit 3     respond to each request on a later loop turn instead of from
 *             the handler
 *
 * The server runs on its own libuv loop with a small body limit, so that
 * the 413 paths are reachable with short inputs. The connection is one end
 * of a socketpair handed to http_connection_open(). The only socket bound
 * to an address is the listener that http_server_start() opens on
 * 127.0.0.1 with port 0, and nothing connects to it.
 *
 * Checks beyond the sanitizers: the accessors keep their documented
 * contracts, what the server sends starts with "HTTP/1.1 ", and the
 * connection is freed once the client has closed its side.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_server_internal.h"
#include "log.h"

#define FUZZ_MAX_BODY_SIZE 512
#define FUZZ_PENDING_MAX 8

static uv_loop_t loop;
static http_server *server;

static bool respond_later;
static http_request *pending[FUZZ_PENDING_MAX];
static size_t pending_count;

/* The first bytes that the client end received in this run. */
static const char response_start[] = "HTTP/1.1 ";
static char received[sizeof(response_start) - 1];
static size_t received_length;

static void fail(const char *message)
{
    fprintf(stderr, "fuzz_http_request: %s\n", message);
    abort();
}

static void check_query_param(const http_request *request, const char *name,
                              size_t buffer_size)
{
    char buffer[256];
    const char *value = http_request_query_param(request, name, buffer, buffer_size);

    if (value == NULL)
        return;
    if (value != buffer)
        fail("http_request_query_param returned a pointer outside the buffer");
    if (strlen(value) >= buffer_size)
        fail("http_request_query_param wrote past buffer_size");
}

/* Read the request the way API handlers do and check the accessors. */
static void inspect(const http_request *request)
{
    static const char *const headers[] = {"Host", "Content-Type", "Content-Length",
                                          "Authorization", "Expect", "Content-Encoding",
                                          "Transfer-Encoding", "X-Absent"};
    const char *path = http_request_path(request);
    size_t body_size;
    const char *body = http_request_body(request, &body_size);

    if (http_request_method(request) == NULL || http_request_query(request) == NULL)
        fail("method or query is NULL");
    if (strchr(path, '?') != NULL)
        fail("the path contains the query string");
    if (body[body_size] != '\0')
        fail("the body is not NUL-terminated");
    if (body_size > FUZZ_MAX_BODY_SIZE)
        fail("a body over max_body_size reached the handler");

    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        const char *value = http_request_header(request, headers[i]);

        if (value != NULL)
            (void)strlen(value);
    }

    check_query_param(request, "limit", 1);
    check_query_param(request, "limit", 8);
    check_query_param(request, "cursor", 256);
    check_query_param(request, "a b", 16);
}

/* Respond with one of several statuses, picked by the path length, so that
 * the statuses without a body (204, 304) and error bodies are formatted
 * too. The body is the request's own, which must stay readable until
 * http_respond() has copied it. Invalid statuses are left out because each
 * one writes an error line to the service log. */
static void respond(http_request *request)
{
    static const int statuses[] = {200, 204, 304, 404, 413, 301, 500, 201};
    const char *path = http_request_path(request);
    int status = statuses[strlen(path) % (sizeof(statuses) / sizeof(statuses[0]))];
    size_t body_size;
    const char *body = http_request_body(request, &body_size);

    if (status == 404) {
        http_respond_error(request, status, "no such endpoint: %s %s",
                           http_request_method(request), path);
        return;
    }
    http_respond(request, status, "text/plain", body, body_size);
}

static void handle(http_request *request, void *user_data)
{
    (void)user_data;

    inspect(request);
    if (!respond_later) {
        respond(request);
        return;
    }
    if (pending_count == FUZZ_PENDING_MAX)
        fail("more requests waiting than one connection can have");
    pending[pending_count++] = request;
}

static void respond_pending(void)
{
    while (pending_count > 0)
        respond(pending[--pending_count]);
}

/* Read what the server wrote, and check that the stream starts as a
 * response. */
static void drain_client(int client)
{
    char buffer[4096];
    ssize_t length;

    while ((length = recv(client, buffer, sizeof(buffer), MSG_DONTWAIT)) > 0) {
        size_t copy = sizeof(received) - received_length;

        if (copy > (size_t)length)
            copy = (size_t)length;
        memcpy(received + received_length, buffer, copy);
        received_length += copy;
        if (memcmp(received, response_start, received_length) != 0)
            fail("the server sent bytes that do not start an HTTP/1.1 response");
    }
}

/* Let the server read, parse and write until it has nothing left to do
 * without new input. The first turn reads and parses, and writes a response
 * given from the handler. The second runs the write callbacks, which parse
 * pipelined requests, and writes the responses given on a later turn. */
static void run_server(int client)
{
    for (int turn = 0; turn < 2; turn++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        respond_pending();
    }
    drain_client(client);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    http_server_limits limits;
    char error[256];

    (void)argc;
    (void)argv;
    log_set_level(WHARF_LOG_ERROR);
    if (uv_loop_init(&loop) != 0)
        fail("uv_loop_init failed");

    http_server_limits_default(&limits);
    limits.max_body_size = FUZZ_MAX_BODY_SIZE;
    if (http_server_start(&server, &loop, "127.0.0.1", 0, &limits, handle, NULL, error,
                          sizeof(error)) != 0)
        fail(error);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t piece_sizes[] = {SIZE_MAX, 1, 2, 3, 7, 16, 64, 512};
    int sockets[2];
    size_t piece_size;
    size_t offset = 1;

    if (size < 1)
        return 0;
    piece_size = piece_sizes[data[0] & 7];
    respond_later = (data[0] & 8) != 0;
    received_length = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
        fail("socketpair failed");
    if (http_connection_open(server, sockets[0]) != 0)
        fail("http_connection_open failed");

    /* Writes do not block, so a full socket buffer (inputs far over
     * -max_len's default) lets the server read before the next try. */
    while (offset < size) {
        size_t length = size - offset < piece_size ? size - offset : piece_size;
        ssize_t written = send(sockets[1], data + offset, length, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            break; /* the server closed the connection after an error */
        if (written > 0)
            offset += (size_t)written;
        run_server(sockets[1]);
    }

    /* End of the client's stream: the server responds to what it can read,
     * sees EOF and frees the connection. */
    shutdown(sockets[1], SHUT_WR);
    /* Each run answers at least one pipelined request, and a request takes
     * more than one byte, so the input size bounds the runs needed. */
    for (size_t run = 0; run < size + 16 && server->connections != NULL; run++)
        run_server(sockets[1]);
    close(sockets[1]);
    if (server->connections != NULL)
        fail("the connection was not freed after the client closed");
    if (pending_count != 0)
        fail("a request is still waiting for a response");
    return 0;
}
