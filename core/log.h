/*
 * Service log: one line per event on stderr, with a UTC timestamp and a
 * level. Callers name the ids involved (connector, plugin file, batch) in the
 * message itself and never pass a secret.
 */
#ifndef WHARF_CORE_LOG_H
#define WHARF_CORE_LOG_H

#include <stdarg.h>

#include "wharf/host.h"

/* Set the lowest level written; lines below it are dropped. Default INFO. */
void log_set_level(wharf_log_level level);

/* Parse "debug", "info", "warn" or "error". Returns 0, or -1 when unknown. */
int log_parse_level(const char *name, wharf_log_level *level);

/* Thread-safe: each line is written with one write(2). */
void log_write(wharf_log_level level, const char *format, ...) WHARF_PRINTF_LIKE(2, 3);
void log_writev(wharf_log_level level, const char *format, va_list args);

#define log_debug(...) log_write(WHARF_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(WHARF_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(WHARF_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(WHARF_LOG_ERROR, __VA_ARGS__)

#endif
