#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_sync_wrk.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"

static double now_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *text, size_t length)
{
    FILE *file = fopen(path, "wb");
    int rc = 0;

    if (file == NULL)
        return -1;
    if (fwrite(text, 1, length, file) != length)
        rc = -1;
    if (fclose(file) != 0)
        rc = -1;
    return rc;
}

/* A Lua script for wrk that posts the body file on every request. */
static int write_script(const char *script_path, const char *body_path)
{
    char script[PATH_MAX + 256];
    int length = snprintf(script, sizeof(script),
                          "local file = assert(io.open(\"%s\", \"rb\"))\n"
                          "wrk.body = file:read(\"*a\")\n"
                          "file:close()\n"
                          "wrk.method = \"POST\"\n"
                          "wrk.headers[\"Content-Type\"] = \"application/json\"\n",
                          body_path);

    return write_file(script_path, script, (size_t)length);
}

int wrk_measure_ceiling(const char *wrk_path, sink *s, const char *body, size_t length,
                        unsigned seconds, unsigned threads, unsigned connections,
                        wrk_ceiling *result, char *error, size_t error_size)
{
    const char *temporary = getenv("TMPDIR");
    char directory[PATH_MAX - 64];
    char body_path[PATH_MAX];
    char script_path[PATH_MAX];
    char url[64];
    char duration[32];
    char thread_text[16];
    char connection_text[16];
    char output[8192];
    size_t output_length = 0;
    sink_counts before;
    sink_counts after;
    double started;
    int pipe_fds[2] = {-1, -1};
    int status = 0;
    pid_t pid;
    int rc = -1;
    const char *at;

    memset(result, 0, sizeof(*result));
    snprintf(directory, sizeof(directory), "%s/bench-sync-wrk-XXXXXX",
             temporary != NULL && temporary[0] != '\0' ? temporary : "/tmp");
    if (mkdtemp(directory) == NULL) {
        snprintf(error, error_size, "cannot create a directory for wrk's script: %s",
                 strerror(errno));
        return -1;
    }
    snprintf(body_path, sizeof(body_path), "%s/body.json", directory);
    snprintf(script_path, sizeof(script_path), "%s/post.lua", directory);
    if (write_file(body_path, body, length) != 0 || write_script(script_path, body_path) != 0) {
        snprintf(error, error_size, "cannot write wrk's script in %s: %s", directory,
                 strerror(errno));
        goto out;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", sink_port(s));
    snprintf(duration, sizeof(duration), "%us", seconds);
    snprintf(thread_text, sizeof(thread_text), "%u", threads);
    snprintf(connection_text, sizeof(connection_text), "%u", connections);
    if (pipe(pipe_fds) != 0) {
        snprintf(error, error_size, "cannot create a pipe for wrk: %s", strerror(errno));
        goto out;
    }

    sink_read_counts(s, &before);
    started = now_seconds();
    pid = fork();
    if (pid == 0) {
        dup2(pipe_fds[1], STDOUT_FILENO);
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        execl(wrk_path, wrk_path, "-t", thread_text, "-c", connection_text, "-d", duration,
              "--timeout", "10s", "-s", script_path, url, (char *)NULL);
        _exit(127);
    }
    close(pipe_fds[1]);
    pipe_fds[1] = -1;
    if (pid < 0) {
        snprintf(error, error_size, "cannot start %s: %s", wrk_path, strerror(errno));
        goto out;
    }
    /* wrk stops by itself after the duration; its output is small. */
    for (;;) {
        ssize_t got = read(pipe_fds[0], output + output_length,
                           sizeof(output) - 1 - output_length);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        output_length += (size_t)got;
        if (output_length == sizeof(output) - 1)
            break;
    }
    output[output_length] = '\0';
    waitpid(pid, &status, 0);
    result->seconds = now_seconds() - started;
    sink_read_counts(s, &after);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(error, error_size, "%s failed (status %d): %.500s", wrk_path,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
        goto out;
    }
    at = strstr(output, "Requests/sec:");
    if (at != NULL)
        result->wrk_requests_per_second = strtod(at + 13, NULL);
    result->requests = after.requests - before.requests;
    result->messages = after.messages - before.messages;
    if (result->requests == 0) {
        snprintf(error, error_size, "the sink counted no request from wrk: %.500s", output);
        goto out;
    }
    rc = 0;
out:
    if (pipe_fds[0] >= 0)
        close(pipe_fds[0]);
    if (pipe_fds[1] >= 0)
        close(pipe_fds[1]);
    unlink(body_path);
    unlink(script_path);
    rmdir(directory);
    return rc;
}
