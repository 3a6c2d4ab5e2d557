/*
 * bench_sync measures delivery by a real wharfd end to end, into the
 * recording sink of sink.c (a thread of this program) through the bundled
 * webhook plugin:
 *
 * 1. Manual batch. --users users with 20 attributes are loaded through
 *    /v1/batch, a segment of all of them is created, and a webhook
 *    connector (--batch-size messages per request, --max-connections
 *    requests at once) sends the segment --runs times. Each run is timed
 *    from the POST of the batch to its state "done"; the sink must have
 *    counted every member.
 * 2. Automatic sync. The batch connector is deleted and one whose
 *    whitelist is that segment takes its place. For --seconds seconds,
 *    --rate identify calls per second change a trait of existing users.
 *    Each call carries its send time, so the sink records, per message, the
 *    time from the send to the moment its request body was complete.
 * 3. Ceiling. wharfd is stopped, and wrk posts the first body the sink
 *    received, over and over, for --wrk-seconds: the messages per second
 *    the sink itself can take.
 *
 * Usage: bench_sync --source ProspectiveBuyer.csv [--wharfd PATH]
 *        [--plugins-dir DIR] [--users N] [--runs N] [--batch-size N]
 *        [--max-connections N] [--rate N] [--seconds N] [--connections N]
 *        [--wrk PATH] [--wrk-seconds N] [--wrk-threads N]
 *        [--wrk-connections N] [--seed N]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_sync_http.h"
#include "bench_sync_latency.h"
#include "bench_sync_load.h"
#include "bench_sync_setup.h"
#include "bench_ingest_server.h"
#include "bench_sync_wrk.h"
#include "percentile.h"
#include "sink.h"

#ifndef WHARF_BENCH_WHARFD
#define WHARF_BENCH_WHARFD "wharfd"
#endif
#ifndef WHARF_BENCH_PLUGINS_DIR
#define WHARF_BENCH_PLUGINS_DIR "plugins"
#endif

#define MAX_RUNS 25
#define BATCH_WAIT_SECONDS 600
#define DELIVERY_WAIT_SECONDS 60
#define POLL_MS 10
/* Every user of the generator has an email, so this segment contains all. */
#define ALL_USERS_QUERY "{\"attribute\":\"email\",\"op\":\"exists\"}"

typedef struct options {
    const char *source;
    const char *wharfd;
    const char *plugins_dir;
    const char *wrk;
    uint64_t users;
    uint64_t seed;
    unsigned runs;
    unsigned batch_size;
    unsigned max_connections;
    unsigned rate;
    unsigned seconds;
    unsigned connections;
    unsigned wrk_seconds;
    unsigned wrk_threads;
    unsigned wrk_connections;
    int keep; /* keep wharfd's directory (store and log) after a good run */
} options;

typedef struct batch_figures {
    double seconds;          /* POST to state "done" */
    double delivery_seconds; /* POST to the sink's last message */
    double cpu_seconds;      /* wharfd's CPU time over the run */
    double loop_cpu_seconds; /* that of its event loop thread */
} batch_figures;

static void sleep_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};

    nanosleep(&pause, NULL);
}

static uint64_t now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int compare_batch(const void *a, const void *b)
{
    double x = ((const batch_figures *)a)->seconds;
    double y = ((const batch_figures *)b)->seconds;

    return x < y ? -1 : x > y;
}

static const char *string_member(json_object *object, const char *key)
{
    json_object *value;

    if (!json_object_object_get_ex(object, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return "";
    return json_object_get_string(value);
}

static int64_t int_member(json_object *object, const char *key)
{
    json_object *value;

    return json_object_object_get_ex(object, key, &value) ? json_object_get_int64(value) : -1;
}

/* Wait until the sink has counted at least messages messages. */
static int wait_for_sink(sink *s, uint64_t messages, char *error, size_t error_size)
{
    double deadline = bench_sync_now_seconds() + DELIVERY_WAIT_SECONDS;
    sink_counts counts;

    for (;;) {
        sink_read_counts(s, &counts);
        if (counts.messages >= messages)
            return 0;
        if (bench_sync_now_seconds() > deadline)
            break;
        sleep_ms(POLL_MS);
    }
    snprintf(error, error_size, "the sink counted %llu messages, expected %llu, after waiting %d s",
             (unsigned long long)counts.messages, (unsigned long long)messages,
             DELIVERY_WAIT_SECONDS);
    return -1;
}

/* One manual batch of the segment, timed to its state "done". */
static int run_batch(const options *options, const wharfd_process *process, http_client *api,
                     sink *s, const char *connector_id, const char *segment_id, unsigned run,
                     batch_figures *figures, char *error, size_t error_size)
{
    char path[160];
    char body[160];
    char batch_path[160];
    sink_counts before;
    sink_counts after;
    json_object *view;
    double cpu_before = 0;
    double cpu_after = 0;
    double loop_before = 0;
    double loop_after = 0;
    double deadline;
    uint64_t started_ns;
    int64_t sent = -1;
    int rc = -1;

    sink_read_counts(s, &before);
    wharfd_cpu_seconds(process, &cpu_before, &loop_before);
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/batches", connector_id);
    snprintf(body, sizeof(body), "{\"segment_id\":\"%s\"}", segment_id);
    started_ns = now_ns();
    view = http_client_json(api, "POST", path, body, 202, error, error_size);
    if (view == NULL)
        return -1;
    snprintf(batch_path, sizeof(batch_path), "/api/v1/batches/%s", string_member(view, "id"));
    json_object_put(view);

    deadline = bench_sync_now_seconds() + BATCH_WAIT_SECONDS;
    while (bench_sync_now_seconds() < deadline) {
        const char *state;

        view = http_client_json(api, "GET", batch_path, NULL, 200, error, error_size);
        if (view == NULL)
            return -1;
        state = string_member(view, "state");
        if (strcmp(state, "sending") != 0 && strcmp(state, "waiting_for_segment") != 0) {
            figures->seconds = (double)(now_ns() - started_ns) / 1e9;
            sent = int_member(view, "sent");
            if (strcmp(state, "done") != 0 || (uint64_t)sent != options->users)
                snprintf(error, error_size, "batch ended %s: %s", state,
                         json_object_to_json_string(view));
            else
                rc = 0;
            json_object_put(view);
            break;
        }
        json_object_put(view);
        sleep_ms(POLL_MS);
    }
    if (sent < 0)
        snprintf(error, error_size, "batch did not finish within %d s", BATCH_WAIT_SECONDS);
    if (rc != 0)
        return -1;
    wharfd_cpu_seconds(process, &cpu_after, &loop_after);
    if (wait_for_sink(s, before.messages + options->users, error, error_size) != 0)
        return -1;
    sink_read_counts(s, &after);

    figures->delivery_seconds = (double)(after.last_message_ns - started_ns) / 1e9;
    figures->cpu_seconds = cpu_after - cpu_before;
    figures->loop_cpu_seconds = loop_after - loop_before;
    printf("batch run %u: %llu users in %llu requests: done in %.2f s (%.0f users/s), last "
           "message at the sink after %.2f s; wharfd CPU %.2f s (%.2f cores), of which the "
           "event loop %.2f s; per user %.2f us of wharfd CPU, %.2f us on the event loop\n",
           run, (unsigned long long)options->users,
           (unsigned long long)(after.requests - before.requests), figures->seconds,
           (double)options->users / figures->seconds, figures->delivery_seconds,
           figures->cpu_seconds, figures->cpu_seconds / figures->seconds,
           figures->loop_cpu_seconds, figures->cpu_seconds * 1e6 / (double)options->users,
           figures->loop_cpu_seconds * 1e6 / (double)options->users);
    fflush(stdout);
    return 0;
}

static int batch_phase(const options *options, const wharfd_process *process, http_client *api,
                       sink *s, const char *connector_id, const char *segment_id, char *error,
                       size_t error_size)
{
    batch_figures runs[MAX_RUNS];
    batch_figures *median;

    for (unsigned run = 0; run < options->runs; run++) {
        if (run_batch(options, process, api, s, connector_id, segment_id, run + 1, &runs[run],
                      error, error_size) != 0)
            return -1;
    }
    if (options->runs == 0)
        return 0;
    qsort(runs, options->runs, sizeof(runs[0]), compare_batch);
    median = &runs[options->runs / 2];
    printf("batch: median of %u runs %.0f users/s (range %.0f to %.0f), %.2f s, wharfd CPU "
           "%.2f s, of which the event loop %.2f s; per user %.2f us of wharfd CPU, %.2f us "
           "on the event loop\n",
           options->runs, (double)options->users / median->seconds,
           (double)options->users / runs[options->runs - 1].seconds,
           (double)options->users / runs[0].seconds, median->seconds, median->cpu_seconds,
           median->loop_cpu_seconds, median->cpu_seconds * 1e6 / (double)options->users,
           median->loop_cpu_seconds * 1e6 / (double)options->users);
    fflush(stdout);
    return 0;
}

static int latency_phase(const options *options, const wharfd_process *process,
                         http_client *api, sink *s, const char *segment_id, char *error,
                         size_t error_size)
{
    char connector_id[BENCH_SYNC_ID_SIZE];
    latency_plan plan = {
        .port = process->port,
        .users = options->users,
        .rate = options->rate,
        .seconds = options->seconds,
        .connections = options->connections,
    };
    latency_outcome outcome;
    const uint64_t *latencies;
    uint64_t *sorted;
    uint64_t *request_sorted;
    size_t count = 0;
    double deadline;
    double cpu_before = 0;
    double cpu_after = 0;
    double loop_before = 0;
    double loop_after = 0;
    int rc;

    if (bench_sync_create_connector(api, sink_port(s), options->batch_size,
                                    options->max_connections, segment_id, connector_id, error,
                                    error_size) != 0)
        return -1;
    sink_measure_latency(s, 1);

    wharfd_cpu_seconds(process, &cpu_before, &loop_before);
    rc = latency_send(&plan, &outcome, error, error_size);
    wharfd_cpu_seconds(process, &cpu_after, &loop_after);
    if (rc == 0 && outcome.failed > 0) {
        snprintf(error, error_size, "%llu identify calls failed; first: %s",
                 (unsigned long long)outcome.failed, outcome.failure);
        rc = -1;
    }
    if (rc != 0) {
        latency_outcome_free(&outcome);
        return -1;
    }

    deadline = bench_sync_now_seconds() + DELIVERY_WAIT_SECONDS;
    latencies = sink_latencies(s, &count);
    while (count < outcome.sent && bench_sync_now_seconds() < deadline) {
        sleep_ms(POLL_MS);
        latencies = sink_latencies(s, &count);
    }
    sink_measure_latency(s, 0);
    if (count != outcome.sent) {
        snprintf(error, error_size, "the sink measured %zu changes, %llu were sent", count,
                 (unsigned long long)outcome.sent);
        latency_outcome_free(&outcome);
        return -1;
    }

    sorted = malloc((count > 0 ? count : 1) * sizeof(uint64_t));
    request_sorted = malloc((outcome.sent > 0 ? outcome.sent : 1) * sizeof(uint64_t));
    if (sorted == NULL || request_sorted == NULL) {
        free(sorted);
        free(request_sorted);
        latency_outcome_free(&outcome);
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    memcpy(sorted, latencies, count * sizeof(uint64_t));
    percentile_sort(sorted, count);
    memcpy(request_sorted, outcome.request_ns, outcome.sent * sizeof(uint64_t));
    percentile_sort(request_sorted, outcome.sent);

    printf("sync: %llu identify calls at %u/s over %u connections in %.2f s (%llu sent more "
           "than 1 ms late); wharfd CPU %.2f s (%.2f cores), of which the event loop %.2f s\n",
           (unsigned long long)outcome.sent, options->rate, options->connections,
           outcome.seconds, (unsigned long long)outcome.late, cpu_after - cpu_before,
           (cpu_after - cpu_before) / outcome.seconds, loop_after - loop_before);
    printf("sync: identify response p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           percentile_ms(request_sorted, outcome.sent, 0.50),
           percentile_ms(request_sorted, outcome.sent, 0.99),
           (double)request_sorted[outcome.sent > 0 ? outcome.sent - 1 : 0] / 1e6);
    printf("sync: ingest-to-delivery latency over %zu changes: p50 %.2f ms, p99 %.2f ms, "
           "p99.9 %.2f ms, max %.2f ms\n",
           count, percentile_ms(sorted, count, 0.50), percentile_ms(sorted, count, 0.99),
           percentile_ms(sorted, count, 0.999), (double)sorted[count > 0 ? count - 1 : 0] / 1e6);
    fflush(stdout);
    free(sorted);
    free(request_sorted);
    latency_outcome_free(&outcome);
    return 0;
}

static int ceiling_phase(const options *options, sink *s, char *error, size_t error_size)
{
    size_t length;
    const char *body = sink_first_body(s, &length);
    uint64_t per_body;
    wrk_ceiling ceiling;

    if (body == NULL) {
        snprintf(error, error_size, "the sink kept no body to replay");
        return -1;
    }
    per_body = sink_count_messages(body, length, NULL, NULL, NULL);
    if (wrk_measure_ceiling(options->wrk, s, body, length, options->wrk_seconds,
                            options->wrk_threads, options->wrk_connections, &ceiling, error,
                            error_size) != 0)
        return -1;
    printf("ceiling: wrk -t%u -c%u posting one recorded body (%llu messages, %zu bytes) for "
           "%.1f s: %.0f requests/s (wrk: %.0f), %.0f messages/s counted by the sink\n",
           options->wrk_threads, options->wrk_connections, (unsigned long long)per_body, length,
           ceiling.seconds, (double)ceiling.requests / ceiling.seconds,
           ceiling.wrk_requests_per_second, (double)ceiling.messages / ceiling.seconds);
    fflush(stdout);
    return 0;
}

static int run(const options *options)
{
    sink_options sink_settings = {
        .latency_key = BENCH_SYNC_SENT_TRAIT,
        .latency_capacity = (size_t)options->rate * options->seconds,
        .keep_first_body = 1,
    };
    wharfd_process process;
    http_client api = {.fd = -1};
    char segment_id[BENCH_SYNC_ID_SIZE];
    char connector_id[BENCH_SYNC_ID_SIZE];
    char path[160];
    char error[2048] = "";
    char stop_error[512];
    sink *s;
    int rc = -1;

    if (sink_start(&sink_settings, &s, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_sync: %s\n", error);
        return -1;
    }
    printf("wharfd: %s; sink on 127.0.0.1:%d\n", options->wharfd, sink_port(s));
    if (bench_sync_start(&process, options->wharfd, options->plugins_dir, error,
                         sizeof(error)) != 0) {
        fprintf(stderr, "bench_sync: %s\n", error);
        sink_free(s);
        return -1;
    }
    if (http_client_open(&api, process.port, error, sizeof(error)) != 0)
        goto out;
    if (bench_sync_load_users(process.port, BENCH_SYNC_WRITE_KEY, options->source, options->seed,
                              options->users, error, sizeof(error)) != 0)
        goto out;
    if (bench_sync_create_segment(&api, "bench all users", ALL_USERS_QUERY, options->users,
                                  segment_id, error, sizeof(error)) != 0)
        goto out;

    if (options->runs > 0) {
        if (bench_sync_create_connector(&api, sink_port(s), options->batch_size,
                                        options->max_connections, NULL, connector_id, error,
                                        sizeof(error)) != 0)
            goto out;
        if (batch_phase(options, &process, &api, s, connector_id, segment_id, error,
                        sizeof(error)) != 0)
            goto out;
        snprintf(path, sizeof(path), "/api/v1/connectors/%s", connector_id);
        {
            const char *response;
            int status;

            if (http_client_request(&api, "DELETE", path, "", NULL, 0, &status, &response,
                                    error, sizeof(error)) != 0)
                goto out;
            if (status != 204) {
                snprintf(error, sizeof(error), "DELETE %s returned %d: %.200s", path, status,
                         response);
                goto out;
            }
        }
    }
    if (options->seconds > 0 &&
        latency_phase(options, &process, &api, s, segment_id, error, sizeof(error)) != 0)
        goto out;
    rc = 0;
out:
    http_client_close(&api);
    if (wharfd_stop(&process, stop_error, sizeof(stop_error)) != 0 && rc == 0) {
        snprintf(error, sizeof(error), "%s", stop_error);
        rc = -1;
    }
    if (rc == 0 && options->wrk_seconds > 0)
        rc = ceiling_phase(options, s, error, sizeof(error));
    if (rc != 0)
        fprintf(stderr, "bench_sync: %s (wharfd's directory kept: %s)\n", error,
                process.directory);
    else if (options->keep)
        printf("wharfd's directory kept: %s\n", process.directory);
    else
        wharfd_remove(&process);
    sink_free(s);
    return rc;
}

static int parse_count(const char *text, uint64_t max, uint64_t *value)
{
    char *end;
    unsigned long long parsed;

    errno = 0;
    parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || parsed > max)
        return -1;
    *value = parsed;
    return 0;
}

int main(int argc, char **argv)
{
    options options = {
        .wharfd = WHARF_BENCH_WHARFD,
        .plugins_dir = WHARF_BENCH_PLUGINS_DIR,
        .wrk = "/usr/bin/wrk",
        .users = 1000000,
        .seed = 42,
        .runs = 3,
        .batch_size = 100,
        .max_connections = 4,
        .rate = 1000,
        .seconds = 10,
        .connections = 8,
        .wrk_seconds = 5,
        .wrk_threads = 1,
        .wrk_connections = 4,
    };
    static const struct {
        const char *name;
        uint64_t max;
    } numbers[] = {
        {"--users", 10000000}, {"--seed", UINT64_MAX},     {"--runs", MAX_RUNS},
        {"--batch-size", 1000}, {"--max-connections", 64}, {"--rate", 100000},
        {"--seconds", 3600},   {"--connections", 64},     {"--wrk-seconds", 600},
        {"--wrk-threads", 64}, {"--wrk-connections", 1000},
    };
    uint64_t values[sizeof(numbers) / sizeof(numbers[0])];
    int given[sizeof(numbers) / sizeof(numbers[0])] = {0};

    /* Progress lines show up at once when the output goes to a file. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (int i = 1; i < argc; i += 2) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        size_t n;

        if (next == NULL)
            goto usage;
        if (strcmp(argv[i], "--source") == 0) {
            options.source = next;
            continue;
        }
        if (strcmp(argv[i], "--wharfd") == 0) {
            options.wharfd = next;
            continue;
        }
        if (strcmp(argv[i], "--plugins-dir") == 0) {
            options.plugins_dir = next;
            continue;
        }
        if (strcmp(argv[i], "--wrk") == 0) {
            options.wrk = next;
            continue;
        }
        if (strcmp(argv[i], "--keep") == 0 && (strcmp(next, "yes") == 0 || strcmp(next, "no") == 0)) {
            options.keep = strcmp(next, "yes") == 0;
            continue;
        }
        for (n = 0; n < sizeof(numbers) / sizeof(numbers[0]); n++) {
            if (strcmp(argv[i], numbers[n].name) == 0)
                break;
        }
        if (n == sizeof(numbers) / sizeof(numbers[0]) ||
            parse_count(next, numbers[n].max, &values[n]) != 0)
            goto usage;
        given[n] = 1;
    }
    if (given[0])
        options.users = values[0];
    if (given[1])
        options.seed = values[1];
    if (given[2])
        options.runs = (unsigned)values[2];
    if (given[3])
        options.batch_size = (unsigned)values[3];
    if (given[4])
        options.max_connections = (unsigned)values[4];
    if (given[5])
        options.rate = (unsigned)values[5];
    if (given[6])
        options.seconds = (unsigned)values[6];
    if (given[7])
        options.connections = (unsigned)values[7];
    if (given[8])
        options.wrk_seconds = (unsigned)values[8];
    if (given[9])
        options.wrk_threads = (unsigned)values[9];
    if (given[10])
        options.wrk_connections = (unsigned)values[10];
    if (options.source == NULL || options.users == 0 || options.batch_size == 0 ||
        options.max_connections == 0 || options.rate == 0 || options.connections == 0 ||
        options.wrk_threads == 0 || options.wrk_connections < options.wrk_threads)
        goto usage;

    return run(&options) == 0 ? 0 : 1;

usage:
    fprintf(stderr,
            "usage: bench_sync --source FILE [--wharfd PATH] [--plugins-dir DIR] [--users N]\n"
            "       [--runs N (0 skips the manual batch)] [--batch-size N (1 to 1000)]\n"
            "       [--max-connections N (1 to 64)] [--rate N (identify calls per second)]\n"
            "       [--seconds N (0 skips the sync run)] [--connections N (1 to 64)]\n"
            "       [--wrk PATH] [--wrk-seconds N (0 skips the ceiling)] [--wrk-threads N]\n"
            "       [--wrk-connections N] [--seed N] [--keep yes|no (keep wharfd's data and\n"
            "       log after a good run)]\n"
            "FILE is AdventureWorks' ProspectiveBuyer.csv; PATH defaults to %s\n",
            WHARF_BENCH_WHARFD);
    return 2;
}
