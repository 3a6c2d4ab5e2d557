/*
 * The message a connector receives for one user or account (see
 * docs/api.md "Messages"): the entity, its account and its segments, and
 * for automatic sync the changes and new events. A manual batch's messages
 * are marked "is_export": true and carry neither.
 *
 * Also a JSON text builder for the fields that log lines store (claims,
 * data), which writes them without building json-c objects.
 */
#ifndef WHARF_CORE_MESSAGE_H
#define WHARF_CORE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "entities.h"

struct json_object;

/* A message for the entity at index. update is NULL for an export (manual
 * batch); otherwise its changes and events go in. Returns a new object.
 * Loop thread only. */
struct json_object *message_build(entities *e, store_entity_kind kind, uint32_t index,
                                  const entity_update *update);

/* The text of message_build() for the same arguments, written without
 * building json-c objects: the same keys in the same order with the same
 * values, and a message_id of its own. Returns a malloc'ed NUL-terminated
 * text and its length in *length, or NULL when out of memory. Loop thread
 * only. */
char *message_build_text(entities *e, store_entity_kind kind, uint32_t index,
                         const entity_update *update, size_t *length);

/* Growing JSON text. failed sticks once an allocation failed, so a caller
 * checks once at the end (message_text_finish). */
typedef struct message_text {
    char *data;
    size_t length;
    size_t capacity;
    int failed;
} message_text;

/* Write the text of message_build_text() into text, replacing what it
 * contains and reusing its buffer, which stays the caller's. Returns 0, or
 * -ENOMEM. Loop thread only. */
int message_write_text(message_text *text, entities *e, store_entity_kind kind, uint32_t index,
                       const entity_update *update);

void message_text_append(message_text *text, const char *bytes, size_t length);
void message_text_append_literal(message_text *text, const char *literal);
/* A JSON string literal (quotes included), or null for NULL. */
void message_text_append_string(message_text *text, const char *value);
void message_text_append_integer(message_text *text, int64_t value);

/* The NUL-terminated text (the caller frees it), or NULL when an
 * allocation failed (the buffer is then freed). */
char *message_text_finish(message_text *text);

/* NUL-terminate the text, keeping the buffer. Returns 0, or -ENOMEM when
 * an allocation failed. */
int message_text_terminate(message_text *text);

/* Append the entity's claims as {"external_id", "email" | "domain",
 * "anonymous_ids"}, the claims of its log lines. */
void message_text_append_claims(message_text *text, entities *e, store_entity_kind kind,
                                uint32_t index);

#endif
