#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_ingest_server.h"

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

void wharfd_remove(wharfd_process *process)
{
    if (process->directory[0] != '\0')
        nftw(process->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    process->directory[0] = '\0';
}

int wharfd_log_find(const wharfd_process *process, const char *marker, char *line,
                    size_t line_size)
{
    FILE *log = fopen(process->log_path, "r");
    char buffer[4096];
    int found = -1;

    if (log == NULL)
        return -1;
    while (fgets(buffer, sizeof(buffer), log) != NULL) {
        if (strstr(buffer, marker) == NULL)
            continue;
        buffer[strcspn(buffer, "\n")] = '\0';
        snprintf(line, line_size, "%s", buffer);
        found = 0;
    }
    fclose(log);
    return found;
}

/* The port from the "listening" line, or 0 while there is none. */
static int listening_port(const wharfd_process *process)
{
    char line[4096];
    const char *at;

    if (wharfd_log_find(process, listening_marker, line, sizeof(line)) != 0)
        return 0;
    at = strstr(line, listening_marker) + sizeof(listening_marker) - 1;
    return atoi(at);
}

static pid_t spawn(const char *wharfd_path, const wharfd_process *process,
                   const char *write_key)
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

int wharfd_start(wharfd_process *process, const char *wharfd_path, const char *write_key,
                 char *error, size_t error_size)
{
    const char *temporary = getenv("TMPDIR");
    double deadline;
    int status;

    memset(process, 0, sizeof(*process));
    process->pid = -1;
    snprintf(process->directory, sizeof(process->directory), "%s/bench-wharfd-XXXXXX",
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
        wharfd_remove(process);
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

/* User plus system CPU seconds from a /proc stat file. */
static int read_cpu_seconds(const char *path, double *seconds)
{
    char text[2048];
    FILE *stat_file;
    const char *after_name;
    unsigned long user_ticks = 0;
    unsigned long system_ticks = 0;
    size_t length;

    stat_file = fopen(path, "r");
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

int wharfd_cpu_seconds(const wharfd_process *process, double *seconds, double *loop_seconds)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)process->pid);
    if (read_cpu_seconds(path, seconds) != 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)process->pid,
             (int)process->pid);
    return read_cpu_seconds(path, loop_seconds);
}

int machine_busy_seconds(double *seconds)
{
    FILE *stat_file = fopen("/proc/stat", "r");
    unsigned long long user = 0;
    unsigned long long nice = 0;
    unsigned long long system = 0;
    unsigned long long idle = 0;
    unsigned long long iowait = 0;
    unsigned long long irq = 0;
    unsigned long long softirq = 0;
    unsigned long long steal = 0;
    int fields;

    if (stat_file == NULL)
        return -1;
    /* The first line sums all CPUs: "cpu user nice system idle iowait irq
     * softirq steal ...", in clock ticks (proc(5)). */
    fields = fscanf(stat_file, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
                    &system, &idle, &iowait, &irq, &softirq, &steal);
    fclose(stat_file);
    if (fields < 8)
        return -1;
    *seconds = (double)(user + nice + system + irq + softirq + steal) /
               (double)sysconf(_SC_CLK_TCK);
    return 0;
}

int wharfd_read_memory(const wharfd_process *process, wharfd_memory *memory)
{
    char path[64];
    char line[256];
    FILE *status;
    int found = 0;

    memset(memory, 0, sizeof(*memory));
    snprintf(path, sizeof(path), "/proc/%d/status", (int)process->pid);
    status = fopen(path, "r");
    if (status == NULL)
        return -1;
    while (fgets(line, sizeof(line), status) != NULL) {
        unsigned long kib;

        if (sscanf(line, "VmRSS: %lu kB", &kib) == 1) {
            memory->resident = kib * 1024;
            found++;
        } else if (sscanf(line, "RssAnon: %lu kB", &kib) == 1) {
            memory->anonymous = kib * 1024;
            found++;
        } else if (sscanf(line, "RssFile: %lu kB", &kib) == 1) {
            memory->file = kib * 1024;
            found++;
        } else if (sscanf(line, "RssShmem: %lu kB", &kib) == 1) {
            memory->shared = kib * 1024;
            found++;
        }
    }
    fclose(status);
    return found == 4 ? 0 : -1;
}

int wharfd_stop(wharfd_process *process, char *error, size_t error_size)
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
