#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_sync_load.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_sync_http.h"
#include "user_generator.h"

#define USERS_PER_REQUEST 500
#define CONNECTIONS 4

typedef struct body {
    char *data;
    size_t length;
} body;

typedef struct load_shared {
    int port;
    const body *bodies;
    size_t count;
    const char *headers;
    atomic_size_t next;
} load_shared;

typedef struct load_worker {
    load_shared *shared;
    pthread_t thread;
    char error[512]; /* "" unless a request failed */
} load_worker;

static double now_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void base64_encode(const char *input, char *output, size_t output_size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t length = strlen(input);
    size_t used = 0;

    for (size_t i = 0; i < length && used + 5 <= output_size; i += 3) {
        uint32_t group = (uint32_t)(unsigned char)input[i] << 16;

        if (i + 1 < length)
            group |= (uint32_t)(unsigned char)input[i + 1] << 8;
        if (i + 2 < length)
            group |= (uint32_t)(unsigned char)input[i + 2];
        output[used++] = alphabet[(group >> 18) & 63];
        output[used++] = alphabet[(group >> 12) & 63];
        output[used++] = i + 1 < length ? alphabet[(group >> 6) & 63] : '=';
        output[used++] = i + 2 < length ? alphabet[group & 63] : '=';
    }
    output[used] = '\0';
}

/* One /v1/batch body of the users first to first+count-1. */
static int build_body(user_generator *generator, uint64_t first, uint64_t count, body *out)
{
    size_t capacity = 1024 * (size_t)count + 64;
    size_t length = 0;
    char *data = malloc(capacity);

    if (data == NULL)
        return -1;
    length += (size_t)snprintf(data, capacity, "{\"batch\":[");
    for (uint64_t i = 0; i < count; i++) {
        json_object *traits = user_generator_next(generator, first + i);
        const char *text;
        size_t needed;

        if (traits == NULL) {
            free(data);
            return -1;
        }
        text = json_object_to_json_string_ext(traits, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
        needed = strlen(text) + 128;
        if (length + needed + 16 > capacity) {
            char *grown;

            capacity = (length + needed + 16) * 2;
            grown = realloc(data, capacity);
            if (grown == NULL) {
                json_object_put(traits);
                free(data);
                return -1;
            }
            data = grown;
        }
        length += (size_t)snprintf(data + length, capacity - length,
                                   "%s{\"type\":\"identify\",\"userId\":\"user-%llu\","
                                   "\"traits\":%s}",
                                   i > 0 ? "," : "", (unsigned long long)(first + i), text);
        json_object_put(traits);
    }
    length += (size_t)snprintf(data + length, capacity - length, "]}");
    out->data = data;
    out->length = length;
    return 0;
}

static void *run_connection(void *argument)
{
    load_worker *worker = argument;
    load_shared *shared = worker->shared;
    http_client client = {.fd = -1, .port = shared->port};

    for (;;) {
        size_t index = atomic_fetch_add(&shared->next, 1);
        const char *response;
        int status;

        if (index >= shared->count)
            break;
        if (http_client_request(&client, "POST", "/v1/batch", shared->headers,
                                shared->bodies[index].data, shared->bodies[index].length,
                                &status, &response, worker->error,
                                sizeof(worker->error)) != 0)
            break;
        if (status != 200) {
            snprintf(worker->error, sizeof(worker->error),
                     "POST /v1/batch (request %zu) returned %d: %.300s", index, status,
                     response);
            break;
        }
    }
    http_client_close(&client);
    return NULL;
}

int bench_sync_load_users(int port, const char *write_key, const char *source, uint64_t seed,
                          uint64_t count, char *error, size_t error_size)
{
    user_generator *generator = user_generator_create(source, seed, error, error_size);
    size_t requests = (size_t)((count + USERS_PER_REQUEST - 1) / USERS_PER_REQUEST);
    load_shared shared = {.port = port, .count = requests};
    load_worker workers[CONNECTIONS];
    body *bodies;
    char credentials[256];
    char authorization[400];
    char headers[512];
    size_t bytes = 0;
    double built;
    double started;
    int rc = 0;

    if (generator == NULL)
        return -1;
    bodies = calloc(requests > 0 ? requests : 1, sizeof(*bodies));
    if (bodies == NULL) {
        user_generator_free(generator);
        snprintf(error, error_size, "out of memory for %zu request bodies", requests);
        return -1;
    }
    built = now_seconds();
    for (size_t i = 0; i < requests && rc == 0; i++) {
        uint64_t first = (uint64_t)i * USERS_PER_REQUEST;
        uint64_t users = count - first < USERS_PER_REQUEST ? count - first : USERS_PER_REQUEST;

        rc = build_body(generator, first, users, &bodies[i]);
        bytes += bodies[i].length;
    }
    user_generator_free(generator);
    built = now_seconds() - built;
    if (rc != 0) {
        snprintf(error, error_size, "out of memory building the load requests");
        goto out;
    }

    /* Segment libraries send the write key as the Basic user name with an
     * empty password. */
    snprintf(credentials, sizeof(credentials), "%s:", write_key);
    base64_encode(credentials, authorization, sizeof(authorization));
    snprintf(headers, sizeof(headers),
             "Authorization: Basic %s\r\nContent-Type: application/json\r\n", authorization);
    shared.bodies = bodies;
    shared.headers = headers;

    started = now_seconds();
    for (int i = 0; i < CONNECTIONS; i++) {
        workers[i].shared = &shared;
        workers[i].error[0] = '\0';
        pthread_create(&workers[i].thread, NULL, run_connection, &workers[i]);
    }
    for (int i = 0; i < CONNECTIONS; i++) {
        pthread_join(workers[i].thread, NULL);
        if (workers[i].error[0] != '\0' && rc == 0) {
            snprintf(error, error_size, "%s", workers[i].error);
            rc = -1;
        }
    }
    if (rc == 0)
        printf("load: %llu users with 20 attributes through /v1/batch (%.1f MB of JSON, built "
               "in %.1f s): %.1f s, %.0f users/s\n",
               (unsigned long long)count, (double)bytes / 1e6, built, now_seconds() - started,
               (double)count / (now_seconds() - started));
    fflush(stdout);
out:
    for (size_t i = 0; i < requests; i++)
        free(bodies[i].data);
    free(bodies);
    return rc;
}
