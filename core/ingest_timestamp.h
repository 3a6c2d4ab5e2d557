/*
 * ISO 8601 date-times in ingest bodies (Segment "timestamp", "sentAt",
 * "receivedAt"), read into Unix epoch milliseconds.
 */
#ifndef WHARF_CORE_INGEST_TIMESTAMP_H
#define WHARF_CORE_INGEST_TIMESTAMP_H

#include <stdint.h>

/* Parse the extended ISO 8601 forms that Segment libraries send (RFC 3339
 * and its relatives):
 *   2024-03-05T14:30:00Z        2024-03-05T14:30:00.123456+02:00
 *   2024-03-05 14:30:00+0200    2024-03-05T14:30Z      2024-03-05
 * A date alone means midnight UTC; a time without an offset is taken as UTC
 * because the server cannot know the client's zone. Fractions beyond
 * milliseconds are truncated. Years 0000 to 9999 only. Returns 0 and
 * *epoch_ms, or -EINVAL for anything else, including impossible dates such
 * as 2023-02-29. */
int ingest_timestamp_parse(const char *text, int64_t *epoch_ms);

#endif
