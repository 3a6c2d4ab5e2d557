/*
 * The outcome of parsing one ingest request (Segment Tracking API or the
 * native API): the valid changes in input order, and per-item rejections
 * and warnings that the response reports by index.
 */
#ifndef WHARF_CORE_INGEST_RESULT_H
#define WHARF_CORE_INGEST_RESULT_H

#include <stddef.h>

#include "entity_change.h"

struct json_object;

typedef struct ingest_result {
    entity_change *changes; /* valid changes, in input order */
    size_t *indexes;        /* indexes[i]: position in the input of changes[i] */
    size_t count;
    size_t capacity;
    /* Messages or entities in the body, including rejected and ignored ones. */
    size_t input_count;
    /* Items the body held but wharfd has no use for (Segment page, screen,
     * alias): accepted, but they produce no change. */
    size_t ignored_count;
    /* Array of {"index": i, "error": "..."}, plus "messageId" when the
     * rejected Segment message had one. Never NULL after init. */
    struct json_object *rejected;
    /* Array of {"index": i, "warning": "..."} for kept items with a part
     * that was dropped, such as a malformed domain. Never NULL after init. */
    struct json_object *warnings;
    /* The body's top-level "writeKey" string (Segment), or NULL. Set even
     * when the body is otherwise invalid, so that a request can be
     * authenticated before its errors are reported. */
    char *write_key;
} ingest_result;

/* Start an empty result. Returns 0 or -ENOMEM. */
int ingest_result_init(ingest_result *result);

/* Make result ready for a parser: a zeroed result (= {0}) is initialized,
 * and one already initialized is left as it is. Returns 0 or -ENOMEM. */
int ingest_result_prepare(ingest_result *result);

/* Free everything the result owns and zero it. */
void ingest_result_clear(ingest_result *result);

/* Append *change, taking over what it owns (it is zeroed on success).
 * Returns 0 or -ENOMEM (then *change is left to the caller). */
int ingest_result_add_change(ingest_result *result, size_t index, entity_change *change);

/* Record that the item at index was rejected. message_id may be NULL. */
int ingest_result_reject(ingest_result *result, size_t index, const char *message_id,
                         const char *error);

/* Record a warning on the kept item at index. */
int ingest_result_warn(ingest_result *result, size_t index, const char *warning);

/* Number of rejected items. */
size_t ingest_result_rejected_count(const ingest_result *result);

#endif
