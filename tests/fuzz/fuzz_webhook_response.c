/*
 * Fuzz target: what the webhook plugin does with a destination's response.
 * The input is the raw bytes (status line, headers, body) that a loopback
 * destination sends back to each of the plugin's requests. The plugin is
 * build/plugins/webhook.so, loaded and driven through the SDK harness as a
 * connector author tests it. The harness sends with libcurl, so the plugin
 * receives the status, headers and body that libcurl parses from the bytes.
 *
 * Every input sends three messages with batch_size 2, so two requests and
 * two responses. The destination is a thread in this process that listens
 * on 127.0.0.1 with a port picked by the kernel, reads each request whole,
 * writes the input and closes the connection.
 *
 * Checks beyond the sanitizers: the harness records no breach of the
 * plugin contract, and every result follows the webhook's rules. A non-2xx
 * status or a transport error gives the result of the SDK's rules
 * (wharf/sdk/http_result.h). A 2xx status may give any result, read from
 * the body (plugins/webhook/webhook_results.h), but SUCCESS needs a 2xx
 * status. Every result other than SUCCESS has a one-line reason that names
 * the status or the transport error, and only RETRY has a Retry-After
 * delay.
 *
 * The harness writes each plugin log line to stderr, so the ctest command
 * runs this target with -close_fd_mask=2; rerun a crash input without it to
 * read the message of the failed check.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wharf/sdk/harness.h"

#define FUZZ_MESSAGE_COUNT 3
/* Maximum bytes of one request that the destination reads. */
#define FUZZ_REQUEST_MAX (64 * 1024)
/* How long the destination waits for request bytes before it gives up. */
#define FUZZ_READ_TIMEOUT_MS 5000

static wharf_harness_plugin *plugin;
static char settings[256];
static char *messages[FUZZ_MESSAGE_COUNT];

/* The response the destination sends, set before each harness send. */
static pthread_mutex_t response_lock = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *response_bytes;
static size_t response_size;

static void fail(const char *message, const char *detail)
{
    fprintf(stderr, "fuzz_webhook_response: %s%s%s\n", message, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

/* Receive into buffer with a timeout. Returns the byte count, or 0 at EOF,
 * timeout or error. */
static size_t receive_some(int socket, char *buffer, size_t size)
{
    struct pollfd poll_entry = {.fd = socket, .events = POLLIN};
    ssize_t length;

    if (poll(&poll_entry, 1, FUZZ_READ_TIMEOUT_MS) <= 0)
        return 0;
    length = recv(socket, buffer, size, 0);
    return length > 0 ? (size_t)length : 0;
}

/* Value of Content-Length in the request head, or 0. */
static size_t content_length(const char *head)
{
    const char *at = head;

    while ((at = strchr(at, '\n')) != NULL) {
        at++;
        if (strncasecmp(at, "Content-Length:", 15) == 0)
            return (size_t)strtoul(at + 15, NULL, 10);
    }
    return 0;
}

/* Read one whole request, so that closing the socket afterwards sends FIN
 * and not a reset that could destroy the response. */
static void read_request(int socket)
{
    static char request[FUZZ_REQUEST_MAX + 1];
    size_t length = 0;
    char *head_end = NULL;
    size_t expected_length;

    while (head_end == NULL && length < FUZZ_REQUEST_MAX) {
        size_t received = receive_some(socket, request + length, FUZZ_REQUEST_MAX - length);

        if (received == 0)
            return;
        length += received;
        request[length] = '\0';
        head_end = strstr(request, "\r\n\r\n");
    }
    if (head_end == NULL)
        return;

    expected_length = (size_t)(head_end + 4 - request) + content_length(request);
    while (length < expected_length && length < FUZZ_REQUEST_MAX) {
        size_t received = receive_some(socket, request + length, FUZZ_REQUEST_MAX - length);

        if (received == 0)
            return;
        length += received;
    }
}

static void send_response(int socket)
{
    size_t sent = 0;

    pthread_mutex_lock(&response_lock);
    while (sent < response_size) {
        ssize_t written = send(socket, response_bytes + sent, response_size - sent, MSG_NOSIGNAL);

        if (written <= 0)
            break;
        sent += (size_t)written;
    }
    pthread_mutex_unlock(&response_lock);
}

static void *destination_thread(void *argument)
{
    int listener = (int)(intptr_t)argument;

    for (;;) {
        int client = accept(listener, NULL, NULL);

        if (client < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fail("accept failed", strerror(errno));
        }
        read_request(client);
        send_response(client);
        shutdown(client, SHUT_WR);
        close(client);
    }
    return NULL;
}

/* Listen on 127.0.0.1 with a kernel-picked port and serve from a thread.
 * Returns the port. */
static unsigned start_destination(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t address_length = sizeof(address);
    pthread_t thread;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &address_length) != 0)
        fail("cannot listen on 127.0.0.1", strerror(errno));
    if (pthread_create(&thread, NULL, destination_thread, (void *)(intptr_t)listener) != 0)
        fail("cannot start the destination thread", NULL);
    pthread_detach(thread);
    return ntohs(address.sin_port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char error[512];

    (void)argc;
    (void)argv;
    /* The destination is on loopback, so no proxy from the environment may
     * stand in between. */
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);

    if (wharf_harness_plugin_open(WHARF_FUZZ_WEBHOOK_PLUGIN, &plugin, error, sizeof(error)) != 0)
        fail("cannot load the webhook plugin", error);
    snprintf(settings, sizeof(settings),
             "{\"url\": \"http://127.0.0.1:%u/hook\", \"batch_size\": 2, \"timeout_ms\": 5000}",
             start_destination());

    for (int i = 0; i < FUZZ_MESSAGE_COUNT; i++) {
        char user_id[16];

        snprintf(user_id, sizeof(user_id), "user-%d", i);
        messages[i] = wharf_harness_sample_user_message(user_id, "zoe@example.com");
        if (messages[i] == NULL)
            fail("out of memory", NULL);
    }
    return 0;
}

static bool status_is_retryable(int status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static void check_result(const wharf_harness_result *result)
{
    char prefix[32];

    if (!result->has_result)
        fail("a message got no result", NULL);
    if (result->kind == WHARF_RESULT_SUCCESS) {
        if (result->status_code < 200 || result->status_code > 299)
            fail("SUCCESS with a status outside 2xx", NULL);
        if (result->retry_after_ms != -1)
            fail("SUCCESS with a Retry-After delay", NULL);
        return;
    }

    if (result->reason == NULL || result->reason[0] == '\0')
        fail("a result other than SUCCESS has no reason", NULL);
    for (const char *at = result->reason; *at != '\0'; at++) {
        if ((unsigned char)*at < 0x20 || *at == 0x7f)
            fail("a reason contains a control character", result->reason);
    }
    if (result->retry_after_ms < -1 ||
        (result->kind != WHARF_RESULT_RETRY && result->retry_after_ms != -1))
        fail("a Retry-After delay on a result other than RETRY", result->reason);

    if (strncmp(result->reason, "transport error: ", 17) == 0) {
        if (result->kind != WHARF_RESULT_RETRY)
            fail("a transport error that is not RETRY", result->reason);
        return;
    }
    /* "HTTP 400: ...", or from a 2xx body "HTTP 200: result 1 of 2: ..."
     * and "HTTP 200 with an error payload ...". */
    snprintf(prefix, sizeof(prefix), "HTTP %d", result->status_code);
    if (strncmp(result->reason, prefix, strlen(prefix)) != 0 ||
        (result->reason[strlen(prefix)] != ':' && result->reason[strlen(prefix)] != ' '))
        fail("a reason that names neither the status nor a transport error", result->reason);
    if (result->status_code >= 200 && result->status_code <= 299)
        return;
    if (result->kind == WHARF_RESULT_SKIP)
        fail("SKIP for a status outside 2xx", result->reason);
    if ((result->kind == WHARF_RESULT_RETRY) != status_is_retryable(result->status_code))
        fail("RETRY and ERROR do not follow the status", result->reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wharf_harness *harness = NULL;
    char error[512];
    int rc;

    pthread_mutex_lock(&response_lock);
    response_bytes = data;
    response_size = size;
    pthread_mutex_unlock(&response_lock);

    /* A new harness for every input, so that no log line or connection of
     * one input reaches the next. */
    if (wharf_harness_create(wharf_harness_plugin_descriptor(plugin), settings, &harness, error,
                             sizeof(error)) != 0)
        fail("cannot create the webhook connector", error);
    wharf_harness_set_send_timeout_ms(harness, 20000);

    rc = wharf_harness_send(harness, (const char *const *)messages, FUZZ_MESSAGE_COUNT);
    if (rc == -EPROTO)
        fail("the plugin broke the contract", wharf_harness_violations(harness));
    if (rc != 0)
        fail("the send did not complete", strerror(-rc));
    if (wharf_harness_result_count(harness) != FUZZ_MESSAGE_COUNT)
        fail("the harness has another number of results than messages", NULL);
    for (size_t i = 0; i < FUZZ_MESSAGE_COUNT; i++)
        check_result(wharf_harness_result_at(harness, i));

    wharf_harness_destroy(harness);

    /* The destination thread reads the input only while a send runs. */
    pthread_mutex_lock(&response_lock);
    response_bytes = NULL;
    response_size = 0;
    pthread_mutex_unlock(&response_lock);
    return 0;
}
