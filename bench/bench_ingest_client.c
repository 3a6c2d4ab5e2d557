#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_ingest_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* No request of the benchmark should take this long; a socket that waits
 * longer fails the run instead of hanging it. */
#define SOCKET_TIMEOUT_SECONDS 120
#define MAX_CONNECTIONS 256

typedef struct http_response {
    char *data; /* headers and body */
    size_t length;
    size_t capacity;
    size_t body_offset;
    size_t body_length;
    int status;
} http_response;

typedef struct load_shared {
    int port;
    const bench_request_set *set;
    load_report *report;
    atomic_size_t next;
    atomic_size_t completed;
    atomic_size_t failed;
    pthread_mutex_t failure_lock;
} load_shared;

typedef struct load_worker {
    load_shared *shared;
    pthread_t thread;
    char error[256]; /* "" unless the connection itself failed */
} load_worker;

static uint64_t now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage usage;

    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static int connect_loopback(int port, char *error, size_t error_size)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval timeout = {SOCKET_TIMEOUT_SECONDS, 0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        snprintf(error, error_size, "cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    return fd;
}

static int write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t written = write(fd, data, size);

        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return -1;
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

/* Read more bytes into response; returns the count, 0 at end of stream or
 * -1 on error or timeout. */
static ssize_t read_more(int fd, http_response *response)
{
    ssize_t got;

    if (response->capacity - response->length < 4096) {
        size_t capacity = response->capacity == 0 ? 65536 : response->capacity * 2;
        char *grown = realloc(response->data, capacity);

        if (grown == NULL)
            return -1;
        response->data = grown;
        response->capacity = capacity;
    }
    do {
        got = read(fd, response->data + response->length,
                   response->capacity - response->length - 1);
    } while (got < 0 && errno == EINTR);
    if (got > 0) {
        response->length += (size_t)got;
        response->data[response->length] = '\0';
    }
    return got;
}

/* Read one response with a Content-Length body (wharfd always sends one). */
static int read_response(int fd, http_response *response, char *error, size_t error_size)
{
    const char *header_end;
    const char *length_header;

    response->length = 0;
    response->status = 0;
    for (;;) {
        if (response->length > 0 &&
            (header_end = strstr(response->data, "\r\n\r\n")) != NULL)
            break;
        if (read_more(fd, response) <= 0) {
            snprintf(error, error_size, "connection closed or timed out before a response: %s",
                     strerror(errno));
            return -1;
        }
    }
    response->body_offset = (size_t)(header_end + 4 - response->data);
    if (sscanf(response->data, "HTTP/1.%*d %d", &response->status) != 1) {
        snprintf(error, error_size, "malformed status line in the response");
        return -1;
    }
    length_header = strcasestr(response->data, "\r\nContent-Length:");
    if (length_header == NULL || length_header > header_end) {
        snprintf(error, error_size, "response without Content-Length");
        return -1;
    }
    response->body_length = strtoul(length_header + 17, NULL, 10);
    while (response->length < response->body_offset + response->body_length) {
        if (read_more(fd, response) <= 0) {
            snprintf(error, error_size, "connection closed or timed out inside a response body");
            return -1;
        }
    }
    return 0;
}

/* A full success: 200 and {"success": true} without a "rejected" list. */
static int accepted_everything(const http_response *response)
{
    json_object *body;
    json_object *success = NULL;
    int ok;

    if (response->status != 200)
        return 0;
    body = json_tokener_parse(response->data + response->body_offset);
    ok = json_object_object_get_ex(body, "success", &success) &&
         json_object_get_boolean(success) && !json_object_object_get_ex(body, "rejected", NULL);
    json_object_put(body);
    return ok;
}

static void note_failure(load_shared *shared, size_t index, const http_response *response)
{
    load_report *report = shared->report;

    atomic_fetch_add(&shared->failed, 1);
    pthread_mutex_lock(&shared->failure_lock);
    if (report->failure[0] == '\0')
        snprintf(report->failure, sizeof(report->failure), "request %zu: status %d: %.400s",
                 index, response->status, response->data + response->body_offset);
    pthread_mutex_unlock(&shared->failure_lock);
}

static void *run_connection(void *argument)
{
    load_worker *worker = argument;
    load_shared *shared = worker->shared;
    http_response response = {0};
    int fd = connect_loopback(shared->port, worker->error, sizeof(worker->error));

    if (fd < 0)
        return NULL;
    for (;;) {
        size_t index = atomic_fetch_add(&shared->next, 1);
        const bench_request *request;
        uint64_t started;

        if (index >= shared->set->count)
            break;
        request = &shared->set->requests[index];
        started = now_ns();
        if (write_all(fd, request->data, request->size) != 0) {
            snprintf(worker->error, sizeof(worker->error), "cannot send request %zu: %s",
                     index, strerror(errno));
            break;
        }
        if (read_response(fd, &response, worker->error, sizeof(worker->error)) != 0)
            break;
        shared->report->latency_ns[index] = now_ns() - started;
        if (accepted_everything(&response))
            atomic_fetch_add(&shared->completed, 1);
        else
            note_failure(shared, index, &response);
    }
    close(fd);
    free(response.data);
    return NULL;
}

int load_run(int port, const bench_request_set *set, unsigned connections,
             load_report *report, char *error, size_t error_size)
{
    load_worker workers[MAX_CONNECTIONS];
    load_shared shared = {.port = port, .set = set, .report = report};
    uint64_t started;
    double cpu_before;
    unsigned running = 0;
    int rc = 0;

    memset(report, 0, sizeof(*report));
    if (connections == 0 || connections > MAX_CONNECTIONS) {
        snprintf(error, error_size, "connections must be 1 to %d, got %u", MAX_CONNECTIONS,
                 connections);
        return -1;
    }
    report->latency_ns = calloc(set->count > 0 ? set->count : 1, sizeof(uint64_t));
    if (report->latency_ns == NULL) {
        snprintf(error, error_size, "out of memory for %zu latencies", set->count);
        return -1;
    }
    atomic_init(&shared.next, 0);
    atomic_init(&shared.completed, 0);
    atomic_init(&shared.failed, 0);
    pthread_mutex_init(&shared.failure_lock, NULL);

    cpu_before = cpu_seconds();
    started = now_ns();
    for (; running < connections; running++) {
        workers[running].shared = &shared;
        workers[running].error[0] = '\0';
        if (pthread_create(&workers[running].thread, NULL, run_connection, &workers[running]) !=
            0) {
            snprintf(error, error_size, "cannot start client thread %u", running + 1);
            rc = -1;
            /* Stop the threads already running after their current request. */
            atomic_store(&shared.next, set->count);
            break;
        }
    }
    for (unsigned i = 0; i < running; i++)
        pthread_join(workers[i].thread, NULL);
    report->seconds = (double)(now_ns() - started) / 1e9;
    report->client_cpu_seconds = cpu_seconds() - cpu_before;
    report->completed = atomic_load(&shared.completed);
    report->failed = atomic_load(&shared.failed);
    pthread_mutex_destroy(&shared.failure_lock);

    for (unsigned i = 0; i < running && rc == 0; i++) {
        if (workers[i].error[0] != '\0') {
            snprintf(error, error_size, "connection %u: %s", i + 1, workers[i].error);
            rc = -1;
        }
    }
    if (rc == 0 && report->completed + report->failed != set->count) {
        snprintf(error, error_size, "only %zu of %zu requests were answered",
                 report->completed + report->failed, set->count);
        rc = -1;
    }
    return rc;
}

void load_report_free(load_report *report)
{
    free(report->latency_ns);
    memset(report, 0, sizeof(*report));
}

int http_get(int port, const char *path, int *status, char *body, size_t body_size,
             char *error, size_t error_size)
{
    http_response response = {0};
    char request[1024];
    int length = snprintf(request, sizeof(request),
                          "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    int fd = connect_loopback(port, error, error_size);
    int rc = -1;

    if (fd < 0)
        return -1;
    if (length < 0 || (size_t)length >= sizeof(request) ||
        write_all(fd, request, (size_t)length) != 0) {
        snprintf(error, error_size, "cannot send GET %s", path);
        goto out;
    }
    if (read_response(fd, &response, error, error_size) != 0)
        goto out;
    *status = response.status;
    snprintf(body, body_size, "%.*s", (int)response.body_length,
             response.data + response.body_offset);
    rc = 0;

out:
    close(fd);
    free(response.data);
    return rc;
}
