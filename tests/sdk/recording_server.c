#include "recording_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bounds that keep a broken client from stalling a test. */
#define MAX_REQUEST_SIZE (16 * 1024 * 1024)
#define IO_TIMEOUT_MS 5000

typedef struct scripted_response {
    struct scripted_response *next;
    int status;
    char *extra_headers;
    char *body;
    unsigned delay_ms;
} scripted_response;

struct recording_server {
    int listen_fd;
    unsigned port;
    pthread_t thread;
    int stopping;
    pthread_mutex_t lock;
    scripted_response *script_head;
    scripted_response *script_tail;
    recorded_request *requests;
    size_t request_count;
};

static void sleep_ms(unsigned milliseconds)
{
    struct timespec delay = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};

    nanosleep(&delay, NULL);
}

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd entry = {fd, POLLIN, 0};

    return poll(&entry, 1, timeout_ms) > 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static size_t content_length(const char *head)
{
    const char *line = head;

    while ((line = strstr(line, "\r\n")) != NULL) {
        line += 2;
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            return (size_t)strtoul(line + 15, NULL, 10);
    }
    return 0;
}

/* Read one request. Returns 0 and fills request, or -1. */
static int read_request(int fd, recorded_request *request)
{
    size_t capacity = 65536;
    size_t used = 0;
    char *data = malloc(capacity + 1);
    char *head = NULL;
    size_t head_size = 0;
    size_t body_size = 0;

    if (data == NULL)
        return -1;

    while (head == NULL || used < head_size + 4 + body_size) {
        ssize_t received;

        if (used == capacity) {
            char *grown;

            if (capacity >= MAX_REQUEST_SIZE)
                goto fail;
            capacity *= 2;
            grown = realloc(data, capacity + 1);
            if (grown == NULL)
                goto fail;
            data = grown;
        }
        if (!wait_readable(fd, IO_TIMEOUT_MS))
            goto fail;
        received = recv(fd, data + used, capacity - used, 0);
        if (received <= 0)
            goto fail;
        used += (size_t)received;
        data[used] = '\0';

        if (head == NULL) {
            char *head_end = strstr(data, "\r\n\r\n");

            if (head_end == NULL)
                continue;
            head_size = (size_t)(head_end - data);
            head = strndup(data, head_size);
            if (head == NULL)
                goto fail;
            body_size = content_length(head);
        }
    }

    memset(request, 0, sizeof(*request));
    sscanf(head, "%15s %511s", request->method, request->target);
    request->head = head;
    request->body = malloc(body_size + 1);
    if (request->body == NULL)
        goto fail;
    memcpy(request->body, data + head_size + 4, body_size);
    request->body[body_size] = '\0';
    request->body_size = body_size;
    free(data);
    return 0;

fail:
    free(head);
    free(data);
    return -1;
}

static scripted_response *next_response(recording_server *server)
{
    scripted_response *response;

    pthread_mutex_lock(&server->lock);
    response = server->script_head;
    if (response != NULL) {
        server->script_head = response->next;
        if (server->script_head == NULL)
            server->script_tail = NULL;
    }
    pthread_mutex_unlock(&server->lock);
    return response;
}

static void send_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);

        if (sent <= 0)
            return;
        data += sent;
        size -= (size_t)sent;
    }
}

static void answer(recording_server *server, int fd)
{
    scripted_response *scripted = next_response(server);
    int status = scripted != NULL ? scripted->status : 200;
    const char *extra = scripted != NULL ? scripted->extra_headers : "";
    const char *body = scripted != NULL ? scripted->body : "{}";
    char head[1024];
    int head_size;

    if (scripted != NULL && scripted->delay_ms > 0)
        sleep_ms(scripted->delay_ms);

    head_size = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
                         "Content-Type: text/plain\r\nConnection: close\r\n%s\r\n",
                         status, status_text(status), strlen(body), extra);
    send_all(fd, head, (size_t)head_size);
    send_all(fd, body, strlen(body));

    if (scripted != NULL) {
        free(scripted->extra_headers);
        free(scripted->body);
        free(scripted);
    }
}

static void record(recording_server *server, recorded_request *request)
{
    recorded_request *grown;

    pthread_mutex_lock(&server->lock);
    grown = realloc(server->requests, (server->request_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        server->requests = grown;
        server->requests[server->request_count++] = *request;
    } else {
        recorded_request_free(request);
    }
    pthread_mutex_unlock(&server->lock);
}

static void *serve(void *argument)
{
    recording_server *server = argument;

    while (!__atomic_load_n(&server->stopping, __ATOMIC_ACQUIRE)) {
        recorded_request request;
        int fd;

        if (!wait_readable(server->listen_fd, 50))
            continue;
        fd = accept(server->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;

        if (read_request(fd, &request) == 0) {
            record(server, &request);
            answer(server, fd);
        }
        close(fd);
    }
    return NULL;
}

recording_server *recording_server_start(void)
{
    recording_server *server = calloc(1, sizeof(*server));
    struct sockaddr_in address;
    socklen_t address_size = sizeof(address);

    if (server == NULL)
        return NULL;
    pthread_mutex_init(&server->lock, NULL);

    server->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (server->listen_fd < 0)
        goto fail;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(server->listen_fd, 16) != 0 ||
        getsockname(server->listen_fd, (struct sockaddr *)&address, &address_size) != 0)
        goto fail;
    server->port = ntohs(address.sin_port);

    if (pthread_create(&server->thread, NULL, serve, server) != 0)
        goto fail;
    return server;

fail:
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    pthread_mutex_destroy(&server->lock);
    free(server);
    return NULL;
}

void recording_server_stop(recording_server *server)
{
    scripted_response *scripted;
    size_t i;

    if (server == NULL)
        return;
    __atomic_store_n(&server->stopping, 1, __ATOMIC_RELEASE);
    pthread_join(server->thread, NULL);
    close(server->listen_fd);

    while ((scripted = next_response(server)) != NULL) {
        free(scripted->extra_headers);
        free(scripted->body);
        free(scripted);
    }
    for (i = 0; i < server->request_count; i++)
        recorded_request_free(&server->requests[i]);
    free(server->requests);
    pthread_mutex_destroy(&server->lock);
    free(server);
}

unsigned recording_server_port(const recording_server *server)
{
    return server->port;
}

void recording_server_push(recording_server *server, int status, const char *extra_headers,
                           const char *body, unsigned delay_ms)
{
    scripted_response *scripted = calloc(1, sizeof(*scripted));

    if (scripted == NULL)
        abort();
    scripted->status = status;
    scripted->extra_headers = strdup(extra_headers);
    scripted->body = strdup(body);
    scripted->delay_ms = delay_ms;
    if (scripted->extra_headers == NULL || scripted->body == NULL)
        abort();

    pthread_mutex_lock(&server->lock);
    if (server->script_tail != NULL)
        server->script_tail->next = scripted;
    else
        server->script_head = scripted;
    server->script_tail = scripted;
    pthread_mutex_unlock(&server->lock);
}

size_t recording_server_request_count(recording_server *server)
{
    size_t count;

    pthread_mutex_lock(&server->lock);
    count = server->request_count;
    pthread_mutex_unlock(&server->lock);
    return count;
}

int recording_server_request(recording_server *server, size_t index,
                             recorded_request *request)
{
    int rc = -1;

    pthread_mutex_lock(&server->lock);
    if (index < server->request_count) {
        *request = server->requests[index];
        request->head = strdup(server->requests[index].head);
        request->body = malloc(request->body_size + 1);
        if (request->head != NULL && request->body != NULL) {
            memcpy(request->body, server->requests[index].body, request->body_size + 1);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&server->lock);
    return rc;
}

void recorded_request_free(recorded_request *request)
{
    free(request->head);
    free(request->body);
    request->head = NULL;
    request->body = NULL;
}

const char *recorded_request_header(const recorded_request *request, const char *name)
{
    static char value[4096];
    size_t name_length = strlen(name);
    const char *line = request->head;

    while ((line = strstr(line, "\r\n")) != NULL) {
        const char *end;
        size_t length;

        line += 2;
        if (strncasecmp(line, name, name_length) != 0 || line[name_length] != ':')
            continue;

        line += name_length + 1;
        while (*line == ' ')
            line++;
        end = strstr(line, "\r\n");
        length = end != NULL ? (size_t)(end - line) : strlen(line);
        if (length >= sizeof(value))
            length = sizeof(value) - 1;
        memcpy(value, line, length);
        value[length] = '\0';
        return value;
    }
    return NULL;
}
