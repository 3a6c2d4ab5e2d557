#include "log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static wharf_log_level minimum_level = WHARF_LOG_INFO;

void log_set_level(wharf_log_level level)
{
    minimum_level = level;
}

int log_parse_level(const char *name, wharf_log_level *level)
{
    static const struct {
        const char *name;
        wharf_log_level level;
    } levels[] = {
        {"debug", WHARF_LOG_DEBUG},
        {"info", WHARF_LOG_INFO},
        {"warn", WHARF_LOG_WARN},
        {"error", WHARF_LOG_ERROR},
    };

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strcmp(name, levels[i].name) == 0) {
            *level = levels[i].level;
            return 0;
        }
    }
    return -1;
}

static const char *level_name(wharf_log_level level)
{
    if (level >= WHARF_LOG_ERROR)
        return "ERROR";
    if (level >= WHARF_LOG_WARN)
        return "WARN";
    if (level >= WHARF_LOG_INFO)
        return "INFO";
    return "DEBUG";
}

void log_writev(wharf_log_level level, const char *format, va_list args)
{
    char line[4096];
    struct timeval now;
    struct tm utc;
    size_t length;
    int written;

    if (level < minimum_level)
        return;

    gettimeofday(&now, NULL);
    gmtime_r(&now.tv_sec, &utc);
    length = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc);
    written = snprintf(line + length, sizeof(line) - length, ".%03dZ %-5s ",
                       (int)(now.tv_usec / 1000), level_name(level));
    length += (size_t)written;

    written = vsnprintf(line + length, sizeof(line) - length, format, args);
    if (written < 0)
        written = 0;
    length += (size_t)written;

    /* A line longer than the buffer is cut, and marked so. */
    if (length >= sizeof(line) - 1) {
        length = sizeof(line) - 5;
        memcpy(line + length, "...", 3);
        length += 3;
    }
    line[length++] = '\n';

    /* One write(2) per line keeps lines whole when threads log at once. */
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
}

void log_write(wharf_log_level level, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    log_writev(level, format, args);
    va_end(args);
}
