/*
 * The wharfd under test for bench_ingest. It runs as a child process on
 * 127.0.0.1, with a port it picks itself, a fresh data directory and a
 * write key, is measured through /proc and is stopped with SIGTERM.
 */
#ifndef WHARF_BENCH_INGEST_SERVER_H
#define WHARF_BENCH_INGEST_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct wharfd_process {
    pid_t pid;
    int port;
    char directory[PATH_MAX - 64]; /* temporary: data/, plugins/ and wharfd.log */
    char log_path[PATH_MAX];
} wharfd_process;

/* Resident memory of a process in bytes, from /proc/PID/status. anonymous
 * is heap and stacks; file is mapped files (SQLite maps the database
 * with PRAGMA mmap_size); shared is shared memory (the WAL index). */
typedef struct wharfd_memory {
    size_t resident;
    size_t anonymous;
    size_t file;
    size_t shared;
} wharfd_memory;

/* Start wharfd_path in a new directory under TMPDIR (or /tmp) and wait up
 * to 60 s for its "listening" line. Returns 0, or -1 with a message in
 * error (the process, if any, is then stopped and its directory removed). */
int wharfd_start(wharfd_process *process, const char *wharfd_path, const char *write_key,
                 char *error, size_t error_size);

/* CPU time the process used so far, user plus system, in seconds: all
 * threads in *seconds, and in *loop_seconds the main thread's, which runs
 * wharfd's event loop. */
int wharfd_cpu_seconds(const wharfd_process *process, double *seconds, double *loop_seconds);

int wharfd_read_memory(const wharfd_process *process, wharfd_memory *memory);

/* CPU time that the whole machine spent busy so far (user, nice, system,
 * interrupts and steal, from /proc/stat), in seconds over all CPUs, so
 * that a run can show how much of the machine other programs took. */
int machine_busy_seconds(double *seconds);

/* Send SIGTERM and wait up to 120 s for the exit (SIGKILL after that).
 * Returns 0 when wharfd exited with status 0, else -1 with a message. */
int wharfd_stop(wharfd_process *process, char *error, size_t error_size);

/* Copy the last line of wharfd's log that contains marker into line.
 * Returns 0, or -1 when no line has it. Valid until wharfd_remove(). */
int wharfd_log_find(const wharfd_process *process, const char *marker, char *line,
                    size_t line_size);

/* Delete the process's directory with its store and log. */
void wharfd_remove(wharfd_process *process);

#endif
