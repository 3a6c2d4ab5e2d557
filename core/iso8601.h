/*
 * ISO 8601 dates and times as attribute values and segment conditions
 * carry them, parsed to Unix epoch milliseconds for comparison.
 */
#ifndef WHARF_CORE_ISO8601_H
#define WHARF_CORE_ISO8601_H

#include <stddef.h>
#include <stdint.h>

/* Parse a calendar date or date-time in extended format. The date is
 * YYYY-MM-DD. A time may follow after "T" (or "t" or a space, as RFC 3339
 * and SQL write it): HH:MM, HH:MM:SS or HH:MM:SS.fraction, with a dot
 * or a comma before the fraction. An offset may follow the time: "Z",
 * +HH:MM, +HHMM or +HH. A value without an offset is UTC.
 * Fractions beyond milliseconds are truncated. Years run from 0000 to
 * 9999; leap seconds (second 60), hour 24, week dates and ordinal dates
 * are invalid. Returns 0 and sets *epoch_ms, or -EINVAL. */
int iso8601_parse(const char *text, size_t length, int64_t *epoch_ms);

#endif
