/* The values that wharfctl logs accepts for --message and --since, checked
 * before any request so that a typo is a usage error (exit code 2) rather
 * than an empty result or the API's 400. */
#ifndef WHARFCTL_LOG_FILTERS_H
#define WHARFCTL_LOG_FILTERS_H

#include <stddef.h>

/* The maximum age --since takes, in days. It equals the maximum of wharfd's
 * log_retention_days, so no line is older. */
#define LOG_FILTERS_MAX_AGE_DAYS 3650

/* Returns 1 when message is the name of a connector log line, such as
 * outgoing.user.skip, else 0. */
int log_filters_message_known(const char *message);

/* Every message name, comma-separated, for error messages. */
const char *log_filters_message_names(void);

/* Check a --since value and turn it into the ISO 8601 UTC time that
 * GET /api/v1/connectors/{id}/logs?since= takes.
 *
 * Accepts such a time from 1970 on: YYYY-MM-DDTHH:MM:SS with an optional
 * fraction and an optional "Z". wharfd reads a time without "Z" as UTC
 * too. Also accepts an age counted back from now: N followed by s, m, h or
 * d, of at most LOG_FILTERS_MAX_AGE_DAYS. Writes the time to since (size
 * bytes) and returns 0, or returns -1 for any other value. */
int log_filters_since(const char *text, char *since, size_t size);

#endif
