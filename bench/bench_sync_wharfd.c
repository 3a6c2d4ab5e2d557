#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_sync_wharfd.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 120000
#define POLL_INTERVAL_MS 20

static const char listening_marker[] = "wharfd listening on http://127.0.0.1:";

static double now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}

static void sleep_ms(long milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};

    nanosleep(&pause, NULL);
}

static int remove_entry(const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

void bench_wharfd_remove(bench_wharfd *process)
{
    if (process->directory[0] != '\0')
        nftw(process->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    process->directory[0] = '\0';
}

/* The port from the "listening" line of the log, or 0 while there is none. */
static int listening_port(const bench_wharfd *process)
{
    FILE *log = fopen(process->log_path, "r");
    char line[4096];
    int port = 0;

    if (log == NULL)
        return 0;
    while (port == 0 && fgets(line, sizeof(line), log) != NULL) {
        const char *at = strstr(line, listening_marker);

        if (at != NULL)
            port = atoi(at + sizeof(listening_marker) - 1);
    }
    fclose(log);
    return port;
}

static pid_t spawn(const char *wharfd_path, const bench_wharfd *process, const char *write_key)
{
    char data_dir[PATH_MAX + 16];
    char plugins_dir[PATH_MAX + 16];
    pid_t pid;

    snprintf(data_dir, sizeof(data_dir), "%s/data", process->directory);
    snprintf(plugins_dir, sizeof(plugins_dir), "%s/plugins", process->directory);
    if (mkdir(plugins_dir, 0700) != 0)
        return -1;

    pid = fork();
    if (pid != 0)
        return pid;

    /* Child: stderr (the service log) goes to a file, so that a full pipe
     * can never stall wharfd. */
    int log_fd = open(process->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null_fd = open("/dev/null", O_RDWR);

    if (log_fd < 0 || null_fd < 0)
        _exit(127);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execl(wharfd_path, wharfd_path, "--listen", "127.0.0.1:0", "--data-dir", data_dir,
          "--plugins-dir", plugins_dir, "--write-key", write_key, "--log-level", "info",
          (char *)NULL);
    _exit(127);
}

int bench_wharfd_start(bench_wharfd *process, const char *wharfd_path, const char *write_key,
                       char *error, size_t error_size)
{
    const char *temporary = getenv("TMPDIR");
    double deadline;
    int status;

    memset(process, 0, sizeof(*process));
    process->pid = -1;
    snprintf(process->directory, sizeof(process->directory), "%s/bench-sync-XXXXXX",
             temporary != NULL && temporary[0] != '\0' ? temporary : "/tmp");
    if (mkdtemp(process->directory) == NULL) {
        snprintf(error, error_size, "cannot create a directory for wharfd (%s): %s",
                 process->directory, strerror(errno));
        process->directory[0] = '\0';
        return -1;
    }
    snprintf(process->log_path, sizeof(process->log_path), "%s/wharfd.log",
             process->directory);

    process->pid = spawn(wharfd_path, process, write_key);
    if (process->pid < 0) {
        snprintf(error, error_size, "cannot start %s: %s", wharfd_path, strerror(errno));
        bench_wharfd_remove(process);
        return -1;
    }

    deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        process->port = listening_port(process);
        if (process->port > 0)
            return 0;
        if (waitpid(process->pid, &status, WNOHANG) == process->pid) {
            snprintf(error, error_size, "%s exited at start (status %d); its log is %s",
                     wharfd_path, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     process->log_path);
            process->pid = -1;
            return -1;
        }
        sleep_ms(POLL_INTERVAL_MS);
    }
    snprintf(error, error_size, "%s did not log \"listening\" within %d s; its log is %s",
             wharfd_path, START_TIMEOUT_MS / 1000, process->log_path);
    kill(process->pid, SIGKILL);
    waitpid(process->pid, &status, 0);
    process->pid = -1;
    return -1;
}

/* utime plus stime of a /proc stat file, in seconds. */
static int read_cpu(const char *path, double *seconds)
{
    char text[2048];
    FILE *stat_file = fopen(path, "r");
    const char *after_name;
    unsigned long user_ticks = 0;
    unsigned long system_ticks = 0;
    size_t length;

    if (stat_file == NULL)
        return -1;
    length = fread(text, 1, sizeof(text) - 1, stat_file);
    fclose(stat_file);
    text[length] = '\0';

    /* The command name in parentheses may contain spaces; the fields after
     * it are state (3), ..., utime (14) and stime (15), per proc(5). */
    after_name = strrchr(text, ')');
    if (after_name == NULL ||
        sscanf(after_name + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &user_ticks, &system_ticks) != 2)
        return -1;
    *seconds = (double)(user_ticks + system_ticks) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

int bench_wharfd_cpu(const bench_wharfd *process, double *total, double *loop)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)process->pid);
    if (read_cpu(path, total) != 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)process->pid, (int)process->pid);
    return read_cpu(path, loop);
}

int bench_wharfd_stop(bench_wharfd *process, char *error, size_t error_size)
{
    double deadline = now_ms() + STOP_TIMEOUT_MS;
    int status = 0;

    if (process->pid <= 0)
        return 0;
    kill(process->pid, SIGTERM);
    while (now_ms() < deadline) {
        if (waitpid(process->pid, &status, WNOHANG) == process->pid) {
            process->pid = -1;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
            snprintf(error, error_size, "wharfd exited with status %d (signal %d); its log is %s",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     WIFSIGNALED(status) ? WTERMSIG(status) : 0, process->log_path);
            return -1;
        }
        sleep_ms(POLL_INTERVAL_MS);
    }
    kill(process->pid, SIGKILL);
    waitpid(process->pid, &status, 0);
    process->pid = -1;
    snprintf(error, error_size, "wharfd did not stop within %d s of SIGTERM and was killed",
             STOP_TIMEOUT_MS / 1000);
    return -1;
}
