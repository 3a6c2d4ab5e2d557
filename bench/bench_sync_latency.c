#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_sync_latency.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_sync_http.h"
#include "bench_sync_setup.h"

#define MAX_CONNECTIONS 64
#define LATE_NS 1000000u

typedef struct latency_shared {
    const latency_plan *plan;
    latency_outcome *outcome;
    uint64_t start_ns;
    uint64_t period_ns;
    uint64_t total;
    char authorization[256];
    atomic_uint_fast64_t sent;
    atomic_uint_fast64_t failed;
    atomic_uint_fast64_t late;
    atomic_uint_fast64_t last_answer_ns;
    pthread_mutex_t failure_lock;
} latency_shared;

typedef struct latency_worker {
    latency_shared *shared;
    unsigned number;
    pthread_t thread;
    char error[256]; /* "" unless the connection failed */
} latency_worker;

static uint64_t now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void sleep_until_ns(uint64_t deadline)
{
    struct timespec at = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
        continue;
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

static void note_failure(latency_shared *shared, const char *text)
{
    pthread_mutex_lock(&shared->failure_lock);
    if (shared->outcome->failure[0] == '\0')
        snprintf(shared->outcome->failure, sizeof(shared->outcome->failure), "%s", text);
    pthread_mutex_unlock(&shared->failure_lock);
}

static void *run_connection(void *argument)
{
    latency_worker *worker = argument;
    latency_shared *shared = worker->shared;
    const latency_plan *plan = shared->plan;
    http_client client = {.fd = -1};
    char headers[400];

    snprintf(headers, sizeof(headers),
             "Authorization: Basic %s\r\nContent-Type: application/json\r\n",
             shared->authorization);
    if (http_client_open(&client, plan->port, worker->error, sizeof(worker->error)) != 0)
        return NULL;

    for (uint64_t i = worker->number; i < shared->total; i += plan->connections) {
        uint64_t scheduled = shared->start_ns + i * shared->period_ns;
        char body[256];
        const char *response;
        uint64_t sent_ns;
        int length;
        int status;

        sleep_until_ns(scheduled);
        sent_ns = now_ns();
        if (sent_ns - scheduled > LATE_NS)
            atomic_fetch_add(&shared->late, 1);
        length = snprintf(body, sizeof(body),
                          "{\"userId\":\"user-%llu\",\"traits\":{\"" BENCH_SYNC_SENT_TRAIT
                          "\":%llu}}",
                          (unsigned long long)(i % plan->users), (unsigned long long)sent_ns);
        if (http_client_request(&client, "POST", "/v1/identify", headers, body, (size_t)length,
                                &status, &response, worker->error,
                                sizeof(worker->error)) != 0)
            break;
        shared->outcome->request_ns[i] = now_ns() - sent_ns;
        atomic_store(&shared->last_answer_ns, now_ns());
        if (status == 200) {
            atomic_fetch_add(&shared->sent, 1);
        } else {
            char failure[256];

            snprintf(failure, sizeof(failure), "identify %llu returned %d: %.150s",
                     (unsigned long long)i, status, response);
            note_failure(shared, failure);
            atomic_fetch_add(&shared->failed, 1);
        }
    }
    http_client_close(&client);
    return NULL;
}

int latency_send(const latency_plan *plan, latency_outcome *outcome, char *error,
                 size_t error_size)
{
    latency_shared shared = {.plan = plan, .outcome = outcome};
    latency_worker workers[MAX_CONNECTIONS];
    char credentials[128];
    unsigned started = 0;
    int rc = 0;

    memset(outcome, 0, sizeof(*outcome));
    if (plan->connections == 0 || plan->connections > MAX_CONNECTIONS || plan->rate == 0 ||
        plan->users == 0) {
        snprintf(error, error_size, "latency plan needs 1 to %d connections, a rate and users",
                 MAX_CONNECTIONS);
        return -1;
    }
    shared.total = (uint64_t)plan->rate * plan->seconds;
    shared.period_ns = 1000000000u / plan->rate;
    outcome->request_ns = calloc(shared.total > 0 ? shared.total : 1, sizeof(uint64_t));
    if (outcome->request_ns == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    /* Segment libraries send the write key as the Basic user name with an
     * empty password. */
    snprintf(credentials, sizeof(credentials), "%s:", BENCH_SYNC_WRITE_KEY);
    base64_encode(credentials, shared.authorization, sizeof(shared.authorization));
    pthread_mutex_init(&shared.failure_lock, NULL);
    /* Give every thread time to connect before the first call is due. */
    shared.start_ns = now_ns() + 100000000u;

    for (unsigned i = 0; i < plan->connections; i++) {
        workers[i].shared = &shared;
        workers[i].number = i;
        workers[i].error[0] = '\0';
        if (pthread_create(&workers[i].thread, NULL, run_connection, &workers[i]) != 0) {
            snprintf(error, error_size, "cannot start sender thread %u", i);
            rc = -1;
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        if (workers[i].error[0] != '\0' && rc == 0) {
            snprintf(error, error_size, "sender connection %u: %s", i, workers[i].error);
            rc = -1;
        }
    }
    pthread_mutex_destroy(&shared.failure_lock);

    outcome->sent = atomic_load(&shared.sent);
    outcome->failed = atomic_load(&shared.failed);
    outcome->late = atomic_load(&shared.late);
    outcome->seconds = (double)(atomic_load(&shared.last_answer_ns) - shared.start_ns) / 1e9;
    return rc;
}

void latency_outcome_free(latency_outcome *outcome)
{
    free(outcome->request_ns);
    outcome->request_ns = NULL;
}
