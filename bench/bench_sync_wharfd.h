/*
 * The wharfd under test for bench_sync. It runs as a child process on
 * 127.0.0.1 with a port it picks itself, a fresh data directory, an empty
 * plugins directory and a write key. Its CPU time is read from /proc, and
 * SIGTERM stops it.
 */
#ifndef WHARF_BENCH_SYNC_WHARFD_H
#define WHARF_BENCH_SYNC_WHARFD_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct bench_wharfd {
    pid_t pid;
    int port;
    char directory[PATH_MAX - 64]; /* temporary: data/, plugins/ and wharfd.log */
    char log_path[PATH_MAX];
} bench_wharfd;

/* Start wharfd_path in a new directory under TMPDIR (or /tmp) and wait up
 * to 60 s for its "listening" line. Returns 0, or -1 with a message in
 * error (the process, if any, is then stopped). */
int bench_wharfd_start(bench_wharfd *process, const char *wharfd_path, const char *write_key,
                       char *error, size_t error_size);

/* CPU time used so far in seconds: by all threads in *total, by the main
 * thread (wharfd's event loop) in *loop. */
int bench_wharfd_cpu(const bench_wharfd *process, double *total, double *loop);

/* Send SIGTERM and wait up to 120 s for the exit (SIGKILL after that).
 * Returns 0 when wharfd exited with status 0, else -1 with a message. */
int bench_wharfd_stop(bench_wharfd *process, char *error, size_t error_size);

/* Delete the process's directory with its store and log. */
void bench_wharfd_remove(bench_wharfd *process);

#endif
