/*
 * The batch half of the host table: messages, per-message results, the
 * encoded payload and completion. Results are recorded the way wharfd
 * records them, and every breach of the contract is reported as a
 * violation.
 */
#include "harness_internal.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Write each message's text the way wharfd does: compact, and without
 * escaping slashes. */
static int make_texts(wharf_batch *batch)
{
    batch->texts = calloc(batch->count > 0 ? batch->count : 1, sizeof(*batch->texts));
    batch->text_lengths = calloc(batch->count > 0 ? batch->count : 1,
                                 sizeof(*batch->text_lengths));
    if (batch->texts == NULL || batch->text_lengths == NULL)
        return -1;
    for (size_t i = 0; i < batch->count; i++) {
        size_t length = 0;
        const char *text = json_object_to_json_string_length(
            batch->messages[i], JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
            &length);

        if (text == NULL || (batch->texts[i] = malloc(length + 1)) == NULL)
            return -1;
        memcpy(batch->texts[i], text, length + 1);
        batch->text_lengths[i] = length;
    }
    return 0;
}

wharf_batch *harness_batch_create(wharf_harness *harness, struct json_object **messages,
                                  size_t count)
{
    wharf_batch *batch = calloc(1, sizeof(*batch));
    size_t slots = count > 0 ? count : 1;

    if (batch == NULL)
        return NULL;

    batch->slots = calloc(slots, sizeof(*batch->slots));
    batch->view = calloc(slots, sizeof(*batch->view));
    if (batch->slots == NULL || batch->view == NULL ||
        pthread_mutex_init(&batch->lock, NULL) != 0) {
        free(batch->slots);
        free(batch->view);
        free(batch);
        return NULL;
    }

    batch->harness = harness;
    batch->messages = messages;
    batch->count = count;
    if (harness->offer_texts && make_texts(batch) != 0) {
        harness_batch_free(batch);
        return NULL;
    }
    return batch;
}

void harness_batch_free(wharf_batch *batch)
{
    size_t i;

    if (batch == NULL)
        return;
    if (batch->release_encoded != NULL)
        batch->release_encoded(batch->encoded);
    for (i = 0; i < batch->count; i++) {
        free(batch->slots[i].reason);
        if (batch->texts != NULL)
            free(batch->texts[i]);
    }
    free(batch->texts);
    free(batch->text_lengths);
    free(batch->slots);
    free(batch->view);
    pthread_mutex_destroy(&batch->lock);
    free(batch);
}

void harness_batch_record(wharf_batch *batch, size_t message_index, wharf_result_kind kind,
                          int status_code, int64_t retry_after_ms, const char *reason)
{
    harness_slot *slot = &batch->slots[message_index];
    char *reason_copy = NULL;

    /* wharfd keeps a reason only for SKIP, RETRY and ERROR, and a delay only
     * for RETRY. */
    if (kind != WHARF_RESULT_SUCCESS && reason != NULL) {
        reason_copy = strdup(reason);
        if (reason_copy == NULL) {
            harness_violation(batch->harness, "out of memory while copying a result reason");
            return;
        }
    }

    pthread_mutex_lock(&batch->lock);
    free(slot->reason);
    slot->has_result = 1;
    slot->kind = kind;
    slot->status_code = status_code;
    slot->retry_after_ms = kind == WHARF_RESULT_RETRY ? retry_after_ms : -1;
    slot->reason = reason_copy;
    pthread_mutex_unlock(&batch->lock);
}

static size_t batch_count(const wharf_batch *batch)
{
    return batch->view_count;
}

static const struct json_object *batch_message(const wharf_batch *batch, size_t index)
{
    if (index >= batch->view_count)
        return NULL;
    return batch->messages[batch->view[index]];
}

static const char *batch_message_text(const wharf_batch *batch, size_t index, size_t *length)
{
    size_t message;

    if (index >= batch->view_count || batch->texts == NULL)
        return NULL;
    message = batch->view[index];
    if (length != NULL)
        *length = batch->text_lengths[message];
    return batch->texts[message];
}

static int kind_is_valid(wharf_result_kind kind)
{
    return kind == WHARF_RESULT_SUCCESS || kind == WHARF_RESULT_SKIP ||
           kind == WHARF_RESULT_RETRY || kind == WHARF_RESULT_ERROR;
}

static void batch_set_result(wharf_batch *batch, size_t index, wharf_result_kind kind,
                             int status_code, int64_t retry_after_ms, const char *reason)
{
    wharf_harness *harness = batch->harness;
    int completed;

    if (index >= batch->view_count) {
        harness_violation(harness, "batch_set_result: index %zu is out of range; the batch "
                                   "has %zu messages",
                          index, batch->view_count);
        return;
    }

    pthread_mutex_lock(&batch->lock);
    completed = batch->complete_calls > 0;
    pthread_mutex_unlock(&batch->lock);
    if (completed) {
        harness_violation(harness, "batch_set_result: message %zu: called after "
                                   "batch_complete()",
                          index);
        return;
    }

    if (!kind_is_valid(kind)) {
        harness_violation(harness, "batch_set_result: message %zu: %d is not a "
                                   "wharf_result_kind",
                          index, (int)kind);
        harness_batch_record(batch, batch->view[index], WHARF_RESULT_ERROR, status_code, -1,
                             "plugin set an unknown result kind");
        return;
    }
    if (kind != WHARF_RESULT_SUCCESS && (reason == NULL || reason[0] == '\0')) {
        harness_violation(harness, "batch_set_result: message %zu: %s needs a reason",
                          index, wharf_harness_result_kind_name(kind));
        reason = "plugin gave no reason";
    }
    if (kind == WHARF_RESULT_RETRY && retry_after_ms < -1)
        harness_violation(harness, "batch_set_result: message %zu: retry_after_ms %lld; "
                                   "pass a delay >= 0, or -1 for wharfd's backoff",
                          index, (long long)retry_after_ms);

    harness_batch_record(batch, batch->view[index], kind, status_code, retry_after_ms, reason);
}

static int batch_has_result(const wharf_batch *batch, size_t index)
{
    wharf_batch *mutable_batch = (wharf_batch *)batch;
    int has_result;

    if (index >= batch->view_count)
        return 0;
    pthread_mutex_lock(&mutable_batch->lock);
    has_result = batch->slots[batch->view[index]].has_result;
    pthread_mutex_unlock(&mutable_batch->lock);
    return has_result;
}

static void batch_set_encoded(wharf_batch *batch, void *encoded, wharf_release_fn release)
{
    wharf_release_fn old_release;
    void *old_encoded;

    pthread_mutex_lock(&batch->lock);
    old_release = batch->release_encoded;
    old_encoded = batch->encoded;
    batch->encoded = encoded;
    batch->release_encoded = release;
    pthread_mutex_unlock(&batch->lock);

    if (old_release != NULL && old_encoded != encoded)
        old_release(old_encoded);
}

static void *batch_encoded(const wharf_batch *batch)
{
    wharf_batch *mutable_batch = (wharf_batch *)batch;
    void *encoded;

    pthread_mutex_lock(&mutable_batch->lock);
    encoded = batch->encoded;
    pthread_mutex_unlock(&mutable_batch->lock);
    return encoded;
}

static void batch_complete(wharf_batch *batch)
{
    int calls;

    if (!batch->harness->blocking_send_running)
        harness_on_loop_thread(batch->harness, "batch_complete");

    pthread_mutex_lock(&batch->lock);
    calls = ++batch->complete_calls;
    pthread_mutex_unlock(&batch->lock);

    if (calls > 1)
        harness_violation(batch->harness, "batch_complete: called %d times for one send; "
                                          "call it exactly once",
                          calls);
}

void harness_batch_install(wharf_host *host)
{
    host->batch_count = batch_count;
    host->batch_message = batch_message;
    host->batch_set_result = batch_set_result;
    host->batch_has_result = batch_has_result;
    host->batch_set_encoded = batch_set_encoded;
    host->batch_encoded = batch_encoded;
    host->batch_complete = batch_complete;
    host->batch_message_text = batch_message_text;
}
