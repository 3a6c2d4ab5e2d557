/*
 * Segment queries: compiling the JSON query language into an evaluation
 * tree, and evaluating it for one entity.
 *
 * Language (see docs/segments.md): {"all": [Q...]}, {"any": [Q...]},
 * {"not": Q}; attribute leaves {"attribute": NAME, "op": OP, "value": V,
 * "case_insensitive": BOOL} with OP one of eq neq in nin contains
 * starts_with ends_with exists missing gt gte lt lte between before after
 * within_last; "account.NAME" reads the user's account (user segments
 * only); event leaves {"event": NAME, "op": "count_gte"|"count_lte",
 * "value": N, "within": "30d"} (user segments only).
 */
#ifndef WHARF_CORE_SEGMENT_QUERY_H
#define WHARF_CORE_SEGMENT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "attr_table.h"
#include "event_index.h"

struct json_object;

typedef enum segment_type {
    SEGMENT_USERS = 1,
    SEGMENT_ACCOUNTS = 2
} segment_type;

typedef struct segment_query segment_query;

/* What a query is evaluated against. */
typedef struct segment_subject {
    const attr_table *table; /* users or accounts, per the segment type */
    uint32_t index;
    const attr_table *account_table; /* user segments: the accounts table */
    uint32_t account_index;          /* ATTR_NO_ENTITY when the user has none */
    const event_index *events;       /* user segments: the users' events */
    int64_t now_ms;                  /* for relative dates and event windows */
} segment_subject;

/* Compile query for a segment of type. Attribute and event names are
 * interned into the given tables (account_table and events may be NULL for
 * account segments). On error returns -1 and writes a message that starts
 * with the JSON path of the fault, such as "$.all[1].op: unknown operator
 * \"equals\"; use one of eq, neq, ...". Nesting deeper than 32 levels is an
 * error. */
int segment_query_compile(const struct json_object *query, segment_type type,
                          attr_table *table, attr_table *account_table,
                          event_index *events, segment_query **compiled,
                          char *error, size_t error_size);

/* 1 when the subject matches, else 0. Thread-safe for concurrent callers
 * that hold the tables' read locks (or run on the loop thread). */
int segment_query_matches(const segment_query *query, const segment_subject *subject);

/* Non-zero when the result can change with time alone (within_last,
 * before/after relative to now, event windows), so the segment needs
 * re-evaluation on a timer. */
int segment_query_is_time_relative(const segment_query *query);

void segment_query_free(segment_query *query);

#endif
