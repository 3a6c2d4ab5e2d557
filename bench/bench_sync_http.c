#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_sync_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* No request of the benchmark should take this long; a socket that waits
 * longer fails the run instead of hanging it. */
#define SOCKET_TIMEOUT_SECONDS 60

int http_client_open(http_client *client, int port, char *error, size_t error_size)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval timeout = {SOCKET_TIMEOUT_SECONDS, 0};
    int one = 1;

    client->port = port;
    client->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (client->fd < 0 ||
        connect(client->fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        snprintf(error, error_size, "cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
        if (client->fd >= 0)
            close(client->fd);
        client->fd = -1;
        return -1;
    }
    setsockopt(client->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(client->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(client->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    return 0;
}

void http_client_close(http_client *client)
{
    if (client->fd >= 0)
        close(client->fd);
    client->fd = -1;
    free(client->data);
    client->data = NULL;
    client->length = 0;
    client->capacity = 0;
}

static int write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);

        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return -1;
        data += sent;
        size -= (size_t)sent;
    }
    return 0;
}

static int read_more(http_client *client)
{
    ssize_t got;

    if (client->capacity - client->length < 4096) {
        size_t capacity = client->capacity > 0 ? client->capacity * 2 : 65536;
        char *grown = realloc(client->data, capacity);

        if (grown == NULL)
            return -1;
        client->data = grown;
        client->capacity = capacity;
    }
    do {
        got = recv(client->fd, client->data + client->length,
                   client->capacity - client->length - 1, 0);
    } while (got < 0 && errno == EINTR);
    if (got <= 0)
        return -1;
    client->length += (size_t)got;
    client->data[client->length] = '\0';
    return 0;
}

/* Read one response with a Content-Length body. */
static int read_response(http_client *client, int *status, char *error, size_t error_size)
{
    char *end = NULL;
    const char *header;

    client->length = 0;
    while (end == NULL) {
        if (read_more(client) != 0) {
            snprintf(error, error_size, "connection to 127.0.0.1:%d closed before a response",
                     client->port);
            return -1;
        }
        end = strstr(client->data, "\r\n\r\n");
    }
    if (sscanf(client->data, "HTTP/1.%*d %d", status) != 1) {
        snprintf(error, error_size, "malformed status line: %.80s", client->data);
        return -1;
    }
    client->body_offset = (size_t)(end - client->data) + 4;
    client->body_length = 0;
    header = strcasestr(client->data, "\r\nContent-Length:");
    if (header != NULL && header < end)
        client->body_length = strtoull(header + 17, NULL, 10);
    while (client->length < client->body_offset + client->body_length) {
        if (read_more(client) != 0) {
            snprintf(error, error_size, "connection to 127.0.0.1:%d closed inside a response body",
                     client->port);
            return -1;
        }
    }
    /* The NUL after the body replaces nothing: one response at a time. */
    client->data[client->body_offset + client->body_length] = '\0';
    return 0;
}

int http_client_request(http_client *client, const char *method, const char *path,
                        const char *extra_headers, const char *body, size_t body_length,
                        int *status, const char **response_body, char *error,
                        size_t error_size)
{
    char head[1024];
    int head_length;

    if (client->fd < 0 && http_client_open(client, client->port, error, error_size) != 0)
        return -1;
    head_length = snprintf(head, sizeof(head),
                           "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n",
                           method, path, extra_headers, body_length);
    if (head_length < 0 || (size_t)head_length >= sizeof(head)) {
        snprintf(error, error_size, "request head for %s %s is too long", method, path);
        return -1;
    }
    if (write_all(client->fd, head, (size_t)head_length) != 0 ||
        (body_length > 0 && write_all(client->fd, body, body_length) != 0)) {
        snprintf(error, error_size, "cannot send %s %s: %s", method, path, strerror(errno));
        close(client->fd);
        client->fd = -1;
        return -1;
    }
    if (read_response(client, status, error, error_size) != 0) {
        close(client->fd);
        client->fd = -1;
        return -1;
    }
    *response_body = client->data + client->body_offset;
    return 0;
}

json_object *http_client_json(http_client *client, const char *method, const char *path,
                              const char *body, int expected_status, char *error,
                              size_t error_size)
{
    const char *response;
    json_object *parsed;
    int status;

    if (http_client_request(client, method, path,
                            body != NULL ? "Content-Type: application/json\r\n" : "", body,
                            body != NULL ? strlen(body) : 0, &status, &response, error,
                            error_size) != 0)
        return NULL;
    if (status != expected_status) {
        snprintf(error, error_size, "%s %s returned %d, expected %d: %.400s", method, path,
                 status, expected_status, response);
        return NULL;
    }
    parsed = json_tokener_parse(response);
    if (parsed == NULL)
        snprintf(error, error_size, "%s %s returned a body that is not JSON: %.200s", method,
                 path, response);
    return parsed;
}
