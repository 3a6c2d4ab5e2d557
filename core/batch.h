/*
 * A batch: messages handed to one connector instance, and the result of
 * each. batch_run() takes it through the plugin's filter (loop thread),
 * encode (worker thread) and send, then calls done with every message
 * holding a result.
 */
#ifndef WHARF_CORE_BATCH_H
#define WHARF_CORE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/host.h"

struct json_object;
struct wharf_connector;

typedef struct batch_result {
    wharf_result_kind kind; /* 0 until set */
    int status_code;
    int64_t retry_after_ms; /* -1 when none */
    char *reason;
} batch_result;

typedef void (*batch_done_fn)(wharf_batch *batch, void *user_data);

/* A batch of count messages (references are taken) for instance. */
wharf_batch *batch_create(struct wharf_connector *instance,
                          struct json_object *const *messages, size_t count);

/* A batch of count messages given as JSON texts, such as
 * message_build_text() returns. The texts are borrowed: the caller keeps
 * them alive and unchanged until done has returned (batch_run), or until
 * batch_free() for a batch that never runs. Plugins read them through
 * batch_message_text; batch_message parses a text into a json-c object
 * the first time it is asked for, once per message. */
wharf_batch *batch_create_texts(struct wharf_connector *instance, char *const *texts,
                                const size_t *lengths, size_t count);

/* Run filter, encode and send; done runs on the loop thread when every
 * message has a result. The batch holds a reference on the instance until
 * then. done owns the batch and frees it with batch_free(). */
void batch_run(wharf_batch *batch, batch_done_fn done, void *user_data);

size_t batch_total(const wharf_batch *batch);
/* The message at index of the whole batch (not the plugin's view); a text
 * batch parses it on first use. NULL when out of range. */
struct json_object *batch_message_at(const wharf_batch *batch, size_t index);
const batch_result *batch_result_at(const wharf_batch *batch, size_t index);
const char *batch_result_kind_name(wharf_result_kind kind);
const char *batch_connector_id(const wharf_batch *batch);

void batch_free(wharf_batch *batch);

/* Host table entry points (see wharf/host.h). */
size_t batch_host_count(const wharf_batch *batch);
const struct json_object *batch_host_message(const wharf_batch *batch, size_t index);
const char *batch_host_message_text(const wharf_batch *batch, size_t index, size_t *length);
void batch_host_set_result(wharf_batch *batch, size_t index, wharf_result_kind kind,
                           int status_code, int64_t retry_after_ms, const char *reason);
int batch_host_has_result(const wharf_batch *batch, size_t index);
void batch_host_set_encoded(wharf_batch *batch, void *encoded, wharf_release_fn release);
void *batch_host_encoded(const wharf_batch *batch);
void batch_host_complete(wharf_batch *batch);

#endif
