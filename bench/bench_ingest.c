/*
 * bench_ingest measures the ingest path of a real wharfd end to end:
 * Segment /v1/batch requests of identify calls with 20 traits each, over
 * loopback, into the SQLite store. wharfd responds to a request only after
 * its transaction committed, so messages per second are durable writes.
 *
 * Throughput: --runs times, a fresh wharfd (new data directory) takes
 * --messages messages over --connections keep-alive connections; the
 * program reports messages per second (and the median over the runs),
 * request latency percentiles and the CPU time that wharfd and the
 * client used. The request bodies are built before the clock starts.
 *
 * Memory: a fresh wharfd takes --memory-users users, and the program
 * reports the growth of wharfd's resident memory per user, with SQLite's
 * page cache (which wharfd logs when it stops) taken out.
 *
 * Usage: bench_ingest --source ProspectiveBuyer.csv [--wharfd PATH]
 *        [--messages N] [--batch N] [--connections N] [--runs N]
 *        [--memory-users N] [--seed N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_ingest_body.h"
#include "bench_ingest_client.h"
#include "bench_ingest_server.h"
#include "percentile.h"
#include "user_generator.h"

#define WRITE_KEY "bench-ingest-write-key"
#define MAX_RUNS 25
/* The line that wharfd's store writes when it closes (store_sqlite.c). */
#define SQLITE_MEMORY_MARKER "SQLite memory at close:"

#ifndef WHARF_BENCH_WHARFD
#define WHARF_BENCH_WHARFD "wharfd"
#endif

typedef struct options {
    const char *source;
    const char *wharfd;
    uint64_t messages;
    unsigned batch;
    unsigned connections;
    int runs;
    uint64_t memory_users;
    uint64_t seed;
} options;

typedef struct run_figures {
    double messages_per_second;
    double seconds;
    double p50_ms;
    double p99_ms;
    double max_ms;
    double server_cpu_seconds;
    double loop_cpu_seconds;
    double client_cpu_seconds;
    double machine_busy_seconds;
} run_figures;

typedef struct sqlite_memory {
    long long used;       /* sqlite3_status64(SQLITE_STATUS_MEMORY_USED) */
    long long page_cache; /* sqlite3_db_status(SQLITE_DBSTATUS_CACHE_USED) */
} sqlite_memory;

static int compare_runs(const void *a, const void *b)
{
    double x = ((const run_figures *)a)->messages_per_second;
    double y = ((const run_figures *)b)->messages_per_second;

    return x < y ? -1 : x > y;
}

static void latency_figures(const load_report *report, size_t count, run_figures *figures)
{
    uint64_t *sorted = malloc((count > 0 ? count : 1) * sizeof(uint64_t));

    if (sorted == NULL)
        return;
    memcpy(sorted, report->latency_ns, count * sizeof(uint64_t));
    percentile_sort(sorted, count);
    figures->p50_ms = percentile_ms(sorted, count, 0.50);
    figures->p99_ms = percentile_ms(sorted, count, 0.99);
    figures->max_ms = count > 0 ? (double)sorted[count - 1] / 1e6 : 0;
    free(sorted);
}

/* Check through the API that the first and the last user were stored. */
static int check_users(int port, uint64_t first, uint64_t last, char *error, size_t error_size)
{
    uint64_t numbers[2] = {first, last};
    char path[128];
    char body[8192];
    int status;

    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "/api/v1/users?external_id=user-%llu",
                 (unsigned long long)numbers[i]);
        if (http_get(port, path, &status, body, sizeof(body), error, error_size) != 0)
            return -1;
        if (status != 200 || strstr(body, "\"yearly_income\"") == NULL) {
            snprintf(error, error_size, "GET %s returned %d without the user's traits: %.300s",
                     path, status, body);
            return -1;
        }
    }
    return 0;
}

static int read_sqlite_memory(const wharfd_process *process, sqlite_memory *memory)
{
    char line[4096];
    const char *at;

    if (wharfd_log_find(process, SQLITE_MEMORY_MARKER, line, sizeof(line)) != 0)
        return -1;
    at = strstr(line, SQLITE_MEMORY_MARKER) + strlen(SQLITE_MEMORY_MARKER);
    if (sscanf(at, " %lld bytes in use, page cache %lld bytes", &memory->used,
               &memory->page_cache) != 2)
        return -1;
    return 0;
}

/* One throughput run against a fresh wharfd. */
static int run_throughput(const options *options, const bench_request_set *set, int run,
                          run_figures *figures)
{
    wharfd_process process;
    load_report report;
    double cpu_before = 0;
    double cpu_after = 0;
    double loop_before = 0;
    double loop_after = 0;
    double machine_before = 0;
    double machine_after = 0;
    char error[1024];
    char stop_error[1024];
    int rc;

    memset(figures, 0, sizeof(*figures));
    if (wharfd_start(&process, options->wharfd, WRITE_KEY, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_ingest: %s\n", error);
        return -1;
    }
    wharfd_cpu_seconds(&process, &cpu_before, &loop_before);
    machine_busy_seconds(&machine_before);
    rc = load_run(process.port, set, options->connections, &report, error, sizeof(error));
    wharfd_cpu_seconds(&process, &cpu_after, &loop_after);
    machine_busy_seconds(&machine_after);
    if (rc == 0 && report.failed > 0) {
        snprintf(error, sizeof(error), "%zu requests were not a full success; first: %s",
                 report.failed, report.failure);
        rc = -1;
    }
    if (rc == 0)
        rc = check_users(process.port, 0, set->messages - 1, error, sizeof(error));

    if (wharfd_stop(&process, stop_error, sizeof(stop_error)) != 0 && rc == 0) {
        snprintf(error, sizeof(error), "%s", stop_error);
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_ingest: run %d: %s (data kept in %s)\n", run, error,
                process.directory);
        load_report_free(&report);
        return -1;
    }
    wharfd_remove(&process);

    figures->seconds = report.seconds;
    figures->messages_per_second = (double)set->messages / report.seconds;
    figures->server_cpu_seconds = cpu_after - cpu_before;
    figures->loop_cpu_seconds = loop_after - loop_before;
    figures->machine_busy_seconds = machine_after - machine_before;
    figures->client_cpu_seconds = report.client_cpu_seconds;
    latency_figures(&report, set->count, figures);
    load_report_free(&report);

    printf("run %d: %llu messages in %zu requests over %u connections: %.2f s, %.0f messages/s; "
           "request latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU: wharfd %.2f s "
           "(%.2f cores, %.1f us per message; loop thread %.1f us per message), client %.2f "
           "s, whole machine busy %.2f cores\n",
           run, (unsigned long long)set->messages, set->count, options->connections,
           figures->seconds, figures->messages_per_second, figures->p50_ms, figures->p99_ms,
           figures->max_ms, figures->server_cpu_seconds,
           figures->server_cpu_seconds / figures->seconds,
           figures->server_cpu_seconds * 1e6 / (double)set->messages,
           figures->loop_cpu_seconds * 1e6 / (double)set->messages, figures->client_cpu_seconds,
           figures->machine_busy_seconds / figures->seconds);
    fflush(stdout);
    return 0;
}

static int build_requests(const options *options, uint64_t messages, bench_request_set *set)
{
    user_generator *generator;
    char error[1024];
    struct timespec started;
    struct timespec ended;
    int rc;

    generator = user_generator_create(options->source, options->seed, error, sizeof(error));
    if (generator == NULL) {
        fprintf(stderr, "bench_ingest: %s\n", error);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &started);
    rc = bench_requests_build(generator, 0, messages, options->batch, WRITE_KEY, set, error,
                              sizeof(error));
    clock_gettime(CLOCK_MONOTONIC, &ended);
    if (rc != 0)
        fprintf(stderr, "bench_ingest: %s\n", error);
    else
        printf("built %zu requests of up to %u identify messages with 20 traits (%llu users, "
               "seed %llu, %zu source rows): %.1f MB of JSON, %.0f bytes per message, in %.1f s\n",
               set->count, options->batch, (unsigned long long)set->messages,
               (unsigned long long)options->seed, user_generator_source_rows(generator),
               (double)set->body_bytes / 1e6, (double)set->body_bytes / (double)set->messages,
               (double)(ended.tv_sec - started.tv_sec) +
                   (double)(ended.tv_nsec - started.tv_nsec) / 1e9);
    fflush(stdout);
    user_generator_free(generator);
    return rc;
}

static int throughput(const options *options)
{
    bench_request_set set;
    run_figures runs[MAX_RUNS];
    run_figures *median;
    int rc = 0;

    if (build_requests(options, options->messages, &set) != 0)
        return -1;
    for (int run = 0; run < options->runs; run++) {
        rc = run_throughput(options, &set, run + 1, &runs[run]);
        if (rc != 0)
            break;
    }
    bench_requests_free(&set);
    if (rc != 0)
        return rc;

    qsort(runs, (size_t)options->runs, sizeof(run_figures), compare_runs);
    median = &runs[options->runs / 2];
    printf("throughput: median of %d runs %.0f messages/s (range %.0f to %.0f); that run: "
           "p50 %.1f ms, p99 %.1f ms, wharfd CPU %.2f s for %.2f s (%.2f cores), client CPU "
           "%.2f s\n",
           options->runs, median->messages_per_second, runs[0].messages_per_second,
           runs[options->runs - 1].messages_per_second, median->p50_ms, median->p99_ms,
           median->server_cpu_seconds, median->seconds,
           median->server_cpu_seconds / median->seconds, median->client_cpu_seconds);
    return 0;
}

/* Read wharfd's memory once it settles: freed memory may go back to the
 * system shortly after the last response (wharfd trims malloc's arenas
 * when ingest goes idle). Samples every 200 ms until two in a row differ
 * by less than 1 MB, for at most 10 s. */
static int read_settled_memory(const wharfd_process *process, wharfd_memory *memory)
{
    struct timespec pause = {0, 200000000L};
    wharfd_memory previous;

    if (wharfd_read_memory(process, &previous) != 0)
        return -1;
    for (int sample = 0; sample < 50; sample++) {
        long long change;

        nanosleep(&pause, NULL);
        if (wharfd_read_memory(process, memory) != 0)
            return -1;
        change = (long long)memory->resident - (long long)previous.resident;
        if (change < 1000000 && change > -1000000)
            return 0;
        previous = *memory;
    }
    return 0;
}

static double per_user(long long bytes, uint64_t users)
{
    return (double)bytes / (double)users;
}

static int memory(const options *options)
{
    bench_request_set set;
    wharfd_process process;
    wharfd_memory before;
    wharfd_memory after;
    sqlite_memory sqlite = {0, 0};
    load_report report;
    char error[1024] = "";
    long long anonymous_growth;
    int rc;

    memset(&report, 0, sizeof(report));
    if (build_requests(options, options->memory_users, &set) != 0)
        return -1;
    if (wharfd_start(&process, options->wharfd, WRITE_KEY, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_ingest: %s\n", error);
        bench_requests_free(&set);
        return -1;
    }

    rc = wharfd_read_memory(&process, &before);
    if (rc == 0)
        rc = load_run(process.port, &set, options->connections, &report, error, sizeof(error));
    else
        snprintf(error, sizeof(error), "cannot read /proc/%d/status", (int)process.pid);
    if (rc == 0 && report.failed > 0) {
        snprintf(error, sizeof(error), "%zu requests were not a full success; first: %s",
                 report.failed, report.failure);
        rc = -1;
    }
    if (rc == 0 && read_settled_memory(&process, &after) != 0) {
        snprintf(error, sizeof(error), "cannot read /proc/%d/status", (int)process.pid);
        rc = -1;
    }
    if (rc == 0)
        rc = check_users(process.port, 0, set.messages - 1, error, sizeof(error));
    if (wharfd_stop(&process, error + strlen(error), sizeof(error) - strlen(error)) != 0)
        rc = -1;
    if (rc == 0 && read_sqlite_memory(&process, &sqlite) != 0) {
        snprintf(error, sizeof(error), "wharfd's log has no \"%s\" line",
                 SQLITE_MEMORY_MARKER);
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_ingest: memory run: %s (data kept in %s)\n", error,
                process.directory);
        load_report_free(&report);
        bench_requests_free(&set);
        return -1;
    }
    wharfd_remove(&process);

    anonymous_growth = (long long)after.anonymous - (long long)before.anonymous;
    printf("memory: %llu users loaded in %.1f s (%.0f messages/s)\n",
           (unsigned long long)set.messages, report.seconds,
           (double)set.messages / report.seconds);
    printf("memory: wharfd RSS %.1f MB before, %.1f MB after: anonymous %.1f -> %.1f MB, "
           "file-backed %.1f -> %.1f MB, shared %.1f -> %.1f MB\n",
           (double)before.resident / 1e6, (double)after.resident / 1e6,
           (double)before.anonymous / 1e6, (double)after.anonymous / 1e6,
           (double)before.file / 1e6, (double)after.file / 1e6, (double)before.shared / 1e6,
           (double)after.shared / 1e6);
    printf("memory: SQLite at close: %.1f MB in use, of which page cache %.1f MB\n",
           (double)sqlite.used / 1e6, (double)sqlite.page_cache / 1e6);
    printf("memory per user: RSS growth %.0f bytes; anonymous growth %.0f bytes; anonymous "
           "growth net of the page cache %.0f bytes; net of all SQLite memory %.0f bytes\n",
           per_user((long long)after.resident - (long long)before.resident, set.messages),
           per_user(anonymous_growth, set.messages),
           per_user(anonymous_growth - sqlite.page_cache, set.messages),
           per_user(anonymous_growth - sqlite.used, set.messages));
    load_report_free(&report);
    bench_requests_free(&set);
    return 0;
}

static int parse_count(const char *text, uint64_t *value)
{
    char *end;
    unsigned long long parsed;

    errno = 0;
    parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        return -1;
    *value = parsed;
    return 0;
}

int main(int argc, char **argv)
{
    options options = {
        .wharfd = WHARF_BENCH_WHARFD,
        .messages = 200000,
        .batch = 500,
        .connections = 4,
        .runs = 3,
        .memory_users = 1000000,
        .seed = 42,
    };

    for (int i = 1; i < argc; i++) {
        uint64_t value = 0;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--source") == 0 && next != NULL) {
            options.source = next;
        } else if (strcmp(argv[i], "--wharfd") == 0 && next != NULL) {
            options.wharfd = next;
        } else if (next != NULL && parse_count(next, &value) == 0) {
            if (strcmp(argv[i], "--messages") == 0 && value > 0)
                options.messages = value;
            else if (strcmp(argv[i], "--batch") == 0 && value > 0 && value <= 2500)
                options.batch = (unsigned)value;
            else if (strcmp(argv[i], "--connections") == 0 && value > 0 && value <= 256)
                options.connections = (unsigned)value;
            else if (strcmp(argv[i], "--runs") == 0 && value <= MAX_RUNS)
                options.runs = (int)value;
            else if (strcmp(argv[i], "--memory-users") == 0)
                options.memory_users = value;
            else if (strcmp(argv[i], "--seed") == 0)
                options.seed = value;
            else
                goto usage;
        } else {
            goto usage;
        }
        i++;
    }
    if (options.source == NULL)
        goto usage;

    printf("wharfd: %s\n", options.wharfd);
    if (options.runs > 0 && throughput(&options) != 0)
        return 1;
    if (options.memory_users > 0 && memory(&options) != 0)
        return 1;
    return 0;

usage:
    fprintf(stderr,
            "usage: bench_ingest --source FILE [--wharfd PATH] [--messages N] [--batch N (1 to "
            "2500)] [--connections N (1 to 256)] [--runs N (0 to %d, 0 skips throughput)] "
            "[--memory-users N (0 skips the memory run)] [--seed N]\n"
            "FILE is AdventureWorks' ProspectiveBuyer.csv; PATH defaults to %s\n",
            MAX_RUNS, WHARF_BENCH_WHARFD);
    return 2;
}
