#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_sync_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#define PLUGIN_WAIT_SECONDS 30
#define SEGMENT_WAIT_SECONDS 300

double bench_sync_now_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void sleep_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};

    nanosleep(&pause, NULL);
}

/* Copy under a temporary name and rename, so that wharfd's plugin scan
 * never loads a half-written file. */
static int copy_plugin(const char *from, const char *directory, char *error, size_t error_size)
{
    char temporary[PATH_MAX];
    char target[PATH_MAX];
    char buffer[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = -1;
    ssize_t got;
    int rc = -1;

    snprintf(temporary, sizeof(temporary), "%s/webhook.so.part", directory);
    snprintf(target, sizeof(target), "%s/plugins/webhook.so", directory);
    if (in < 0) {
        snprintf(error, error_size, "cannot open %s: %s; build the plugins first", from,
                 strerror(errno));
        return -1;
    }
    out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0)
        goto out;
    while ((got = read(in, buffer, sizeof(buffer))) > 0) {
        if (write(out, buffer, (size_t)got) != got)
            goto out;
    }
    if (got < 0 || close(out) != 0) {
        out = -1;
        goto out;
    }
    out = -1;
    if (rename(temporary, target) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        snprintf(error, error_size, "cannot copy %s to %s: %s", from, target, strerror(errno));
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

int bench_sync_start(wharfd_process *process, const char *wharfd_path, const char *plugins_dir,
                     char *error, size_t error_size)
{
    char plugin[PATH_MAX];
    char stop_error[256];
    http_client api = {.fd = -1};
    double deadline;
    int rc = -1;

    if (wharfd_start(process, wharfd_path, BENCH_SYNC_WRITE_KEY, error, error_size) != 0)
        return -1;
    snprintf(plugin, sizeof(plugin), "%s/webhook.so", plugins_dir);
    if (copy_plugin(plugin, process->directory, error, error_size) != 0)
        goto out;

    api.port = process->port;
    deadline = bench_sync_now_seconds() + PLUGIN_WAIT_SECONDS;
    while (bench_sync_now_seconds() < deadline) {
        const char *body;
        int status;

        if (http_client_request(&api, "GET", "/api/v1/plugins", "", NULL, 0, &status, &body,
                                error, error_size) != 0)
            goto out;
        if (status == 200 && strstr(body, "\"webhook\"") != NULL) {
            rc = 0;
            goto out;
        }
        sleep_ms(50);
    }
    snprintf(error, error_size, "wharfd did not load the webhook plugin within %d s; its log is %s",
             PLUGIN_WAIT_SECONDS, process->log_path);
out:
    http_client_close(&api);
    if (rc != 0)
        wharfd_stop(process, stop_error, sizeof(stop_error));
    return rc;
}

static int copy_id(json_object *object, char id[BENCH_SYNC_ID_SIZE], char *error,
                   size_t error_size)
{
    json_object *value;

    if (!json_object_object_get_ex(object, "id", &value) ||
        !json_object_is_type(value, json_type_string)) {
        snprintf(error, error_size, "response has no \"id\": %.200s",
                 json_object_to_json_string(object));
        return -1;
    }
    snprintf(id, BENCH_SYNC_ID_SIZE, "%s", json_object_get_string(value));
    return 0;
}

int bench_sync_create_segment(http_client *api, const char *name, const char *query_text,
                              uint64_t expected_size, char id[BENCH_SYNC_ID_SIZE], char *error,
                              size_t error_size)
{
    char body[1024];
    char path[128];
    json_object *created;
    double started = bench_sync_now_seconds();
    double deadline = started + SEGMENT_WAIT_SECONDS;

    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"type\":\"users\",\"query\":%s}", name,
             query_text);
    created = http_client_json(api, "POST", "/api/v1/segments", body, 201, error, error_size);
    if (created == NULL)
        return -1;
    if (copy_id(created, id, error, error_size) != 0) {
        json_object_put(created);
        return -1;
    }
    json_object_put(created);

    snprintf(path, sizeof(path), "/api/v1/segments/%s", id);
    while (bench_sync_now_seconds() < deadline) {
        json_object *view = http_client_json(api, "GET", path, NULL, 200, error, error_size);
        json_object *status;
        json_object *size;
        int ready;

        if (view == NULL)
            return -1;
        ready = json_object_object_get_ex(view, "status", &status) &&
                strcmp(json_object_get_string(status), "ready") == 0 &&
                json_object_object_get_ex(view, "size", &size);
        if (ready && (uint64_t)json_object_get_int64(size) != expected_size) {
            snprintf(error, error_size, "segment \"%s\" is ready with %lld members, expected %llu",
                     name, (long long)json_object_get_int64(size),
                     (unsigned long long)expected_size);
            json_object_put(view);
            return -1;
        }
        json_object_put(view);
        if (ready) {
            printf("segment \"%s\": %llu members, ready in %.2f s\n", name,
                   (unsigned long long)expected_size, bench_sync_now_seconds() - started);
            return 0;
        }
        sleep_ms(20);
    }
    snprintf(error, error_size, "segment \"%s\" was not ready within %d s", name,
             SEGMENT_WAIT_SECONDS);
    return -1;
}

int bench_sync_create_connector(http_client *api, int sink_port, unsigned batch_size,
                                unsigned max_connections, const char *whitelist_segment_id,
                                char id[BENCH_SYNC_ID_SIZE], char *error, size_t error_size)
{
    char body[1024];
    json_object *created;
    int rc;

    snprintf(body, sizeof(body),
             "{\"name\":\"bench webhook\",\"plugin\":\"webhook\","
             "\"settings\":{\"url\":\"http://127.0.0.1:%d/hook\",\"batch_size\":%u},"
             "\"max_connections\":%u,\"synchronized_user_segments\":[%s%s%s]}",
             sink_port, batch_size, max_connections, whitelist_segment_id != NULL ? "\"" : "",
             whitelist_segment_id != NULL ? whitelist_segment_id : "",
             whitelist_segment_id != NULL ? "\"" : "");
    created = http_client_json(api, "POST", "/api/v1/connectors", body, 201, error, error_size);
    if (created == NULL)
        return -1;
    rc = copy_id(created, id, error, error_size);
    json_object_put(created);
    return rc;
}
