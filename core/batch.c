#include "batch.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "connector_instance.h"
#include "log.h"
#include "plugin_loader.h"
#include "service.h"

struct wharf_batch {
    connector_instance *instance;
    /* A batch keeps its messages either as json-c objects (batch_create)
     * or as JSON texts that the caller owns (batch_create_texts). A text
     * batch parses a message into parsed[] the first time a caller needs
     * its object, on whichever thread that caller runs. */
    json_object **messages; /* NULL for a text batch */
    const char **texts;     /* NULL for an object batch */
    size_t *lengths;
    _Atomic(json_object *) *parsed;
    pthread_mutex_t parse_lock; /* serialises parsing in a text batch */
    size_t total;
    batch_result *results;
    /* Indices of the messages the plugin sees (those its filter kept);
     * host calls index this view, not messages[]. */
    size_t *view;
    size_t view_count;
    void *encoded;
    wharf_release_fn release_encoded;
    batch_done_fn done;
    void *user_data;
    int in_send;   /* inside the plugin's send() on the loop thread */
    int completed; /* batch_complete() was called */
    int finished;  /* done has been called */
    uv_work_t work;
};

/* A batch of count messages without its messages: results, view and the
 * instance reference. */
static wharf_batch *batch_new(connector_instance *instance, size_t count)
{
    wharf_batch *batch = calloc(1, sizeof(*batch));

    if (batch == NULL)
        return NULL;
    batch->results = calloc(count > 0 ? count : 1, sizeof(*batch->results));
    batch->view = calloc(count > 0 ? count : 1, sizeof(*batch->view));
    if (batch->results == NULL || batch->view == NULL) {
        free(batch->results);
        free(batch->view);
        free(batch);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        batch->results[i].retry_after_ms = -1;
    batch->total = count;
    batch->instance = instance;
    connector_instance_ref(instance);
    return batch;
}

wharf_batch *batch_create(connector_instance *instance, json_object *const *messages,
                          size_t count)
{
    wharf_batch *batch = batch_new(instance, count);

    if (batch == NULL)
        return NULL;
    batch->messages = calloc(count > 0 ? count : 1, sizeof(*batch->messages));
    if (batch->messages == NULL) {
        batch_free(batch);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        batch->messages[i] = json_object_get(messages[i]);
    return batch;
}

wharf_batch *batch_create_texts(connector_instance *instance, char *const *texts,
                                const size_t *lengths, size_t count)
{
    wharf_batch *batch = batch_new(instance, count);
    size_t slots = count > 0 ? count : 1;

    if (batch == NULL)
        return NULL;
    batch->texts = malloc(slots * sizeof(*batch->texts));
    batch->lengths = malloc(slots * sizeof(*batch->lengths));
    batch->parsed = malloc(slots * sizeof(*batch->parsed));
    if (batch->texts == NULL || batch->lengths == NULL || batch->parsed == NULL ||
        pthread_mutex_init(&batch->parse_lock, NULL) != 0) {
        free(batch->texts);
        batch->texts = NULL; /* so that batch_free() skips the mutex */
        batch_free(batch);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        batch->texts[i] = texts[i];
        batch->lengths[i] = lengths[i];
        atomic_init(&batch->parsed[i], NULL);
    }
    return batch;
}

/* Parse the text of message i on first use and return the object, or NULL
 * when the text is not JSON. json-c reference counts are not atomic, so
 * callers share the object read-only and batch_free() releases it. */
static json_object *parsed_message(const wharf_batch *batch, size_t i)
{
    wharf_batch *mutable = (wharf_batch *)batch;
    json_object *object = atomic_load_explicit(&batch->parsed[i], memory_order_acquire);
    json_tokener *tokener;

    if (object != NULL)
        return object;

    pthread_mutex_lock(&mutable->parse_lock);
    object = atomic_load_explicit(&batch->parsed[i], memory_order_relaxed);
    if (object == NULL) {
        tokener = json_tokener_new();
        if (tokener != NULL) {
            object = json_tokener_parse_ex(tokener, batch->texts[i], (int)batch->lengths[i]);
            enum json_tokener_error error = json_tokener_get_error(tokener);

            if (error != json_tokener_success) {
                log_error("connector %s: message %zu of a batch is not valid JSON (%s); "
                          "the plugin cannot read it",
                          batch->instance->id, i,
                          error == json_tokener_continue ? "the text ends inside a value"
                                                         : json_tokener_error_desc(error));
                json_object_put(object);
                object = NULL;
            }
            json_tokener_free(tokener);
        }
        atomic_store_explicit(&mutable->parsed[i], object, memory_order_release);
    }
    pthread_mutex_unlock(&mutable->parse_lock);
    return object;
}

/* The object of message i, whichever way the batch keeps it. */
static json_object *message_object(const wharf_batch *batch, size_t i)
{
    return batch->messages != NULL ? batch->messages[i] : parsed_message(batch, i);
}

static void set_result(batch_result *result, wharf_result_kind kind, int status_code,
                       int64_t retry_after_ms, const char *reason)
{
    free(result->reason);
    result->kind = kind;
    result->status_code = status_code;
    result->retry_after_ms = kind == WHARF_RESULT_RETRY ? retry_after_ms : -1;
    result->reason = reason != NULL ? strdup(reason) : NULL;
}

static void finish(wharf_batch *batch)
{
    if (batch->finished)
        return;
    batch->finished = 1;

    for (size_t i = 0; i < batch->total; i++) {
        if (batch->results[i].kind == 0)
            set_result(&batch->results[i], WHARF_RESULT_ERROR, 0, -1,
                       "plugin set no result");
    }
    batch->done(batch, batch->user_data);
}

static void call_send(wharf_batch *batch)
{
    connector_instance *instance = batch->instance;

    batch->in_send = 1;
    instance->plugin->descriptor.send(instance->state, batch);
    batch->in_send = 0;

    /* A send that completed synchronously is finished here, after send()
     * returned, so the plugin is never destroyed underneath its own call. */
    if (batch->completed)
        finish(batch);
}

static int sends_blocking(const wharf_batch *batch)
{
    return (batch->instance->plugin->descriptor.flags & WHARF_PLUGIN_SEND_BLOCKING) != 0;
}

static void work_on_thread(uv_work_t *work)
{
    wharf_batch *batch = work->data;
    const wharf_plugin *descriptor = &batch->instance->plugin->descriptor;

    if (descriptor->encode != NULL)
        descriptor->encode(batch->instance->state, batch);
    if (sends_blocking(batch))
        descriptor->send(batch->instance->state, batch);
}

static void work_done(uv_work_t *work, int status)
{
    wharf_batch *batch = work->data;

    (void)status;
    if (sends_blocking(batch)) {
        finish(batch);
        return;
    }
    call_send(batch);
}

void batch_run(wharf_batch *batch, batch_done_fn done, void *user_data)
{
    connector_instance *instance = batch->instance;
    const wharf_plugin *descriptor = &instance->plugin->descriptor;

    batch->done = done;
    batch->user_data = user_data;

    if (instance->retired) {
        for (size_t i = 0; i < batch->total; i++)
            set_result(&batch->results[i], WHARF_RESULT_RETRY, 0, -1,
                       "connector is being replaced or removed");
        finish(batch);
        return;
    }

    for (size_t i = 0; i < batch->total; i++) {
        char reason[512] = "";

        if (descriptor->filter != NULL &&
            descriptor->filter(instance->state, message_object(batch, i), reason,
                               sizeof(reason)) != 0) {
            reason[sizeof(reason) - 1] = '\0';
            set_result(&batch->results[i], WHARF_RESULT_SKIP, 0, -1,
                       reason[0] != '\0' ? reason : "skipped by the plugin's filter");
            continue;
        }
        batch->view[batch->view_count++] = i;
    }
    if (batch->view_count == 0) {
        finish(batch);
        return;
    }

    if (descriptor->encode != NULL || sends_blocking(batch)) {
        batch->work.data = batch;
        if (uv_queue_work(instance->service->loop, &batch->work, work_on_thread,
                          work_done) == 0)
            return;
        log_error("connector %s: cannot queue encode on the thread pool; "
                  "encoding on the loop thread",
                  instance->id);
        work_on_thread(&batch->work);
        work_done(&batch->work, 0);
        return;
    }
    call_send(batch);
}

size_t batch_total(const wharf_batch *batch)
{
    return batch->total;
}

json_object *batch_message_at(const wharf_batch *batch, size_t index)
{
    return index < batch->total ? message_object(batch, index) : NULL;
}

const batch_result *batch_result_at(const wharf_batch *batch, size_t index)
{
    return index < batch->total ? &batch->results[index] : NULL;
}

const char *batch_result_kind_name(wharf_result_kind kind)
{
    switch (kind) {
    case WHARF_RESULT_SUCCESS:
        return "success";
    case WHARF_RESULT_SKIP:
        return "skip";
    case WHARF_RESULT_RETRY:
        return "retry";
    case WHARF_RESULT_ERROR:
        return "error";
    }
    return "none";
}

const char *batch_connector_id(const wharf_batch *batch)
{
    return batch->instance->id;
}

void batch_free(wharf_batch *batch)
{
    if (batch == NULL)
        return;
    if (batch->release_encoded != NULL)
        batch->release_encoded(batch->encoded);
    for (size_t i = 0; i < batch->total; i++) {
        if (batch->messages != NULL)
            json_object_put(batch->messages[i]);
        if (batch->texts != NULL)
            json_object_put(atomic_load_explicit(&batch->parsed[i], memory_order_acquire));
        free(batch->results[i].reason);
    }
    if (batch->texts != NULL)
        pthread_mutex_destroy(&batch->parse_lock);
    free(batch->messages);
    free(batch->texts);
    free(batch->lengths);
    free(batch->parsed);
    free(batch->results);
    free(batch->view);
    connector_instance_unref(batch->instance);
    free(batch);
}

size_t batch_host_count(const wharf_batch *batch)
{
    return batch->view_count;
}

const json_object *batch_host_message(const wharf_batch *batch, size_t index)
{
    return index < batch->view_count ? message_object(batch, batch->view[index]) : NULL;
}

const char *batch_host_message_text(const wharf_batch *batch, size_t index, size_t *length)
{
    size_t i;

    if (length != NULL)
        *length = 0;
    if (index >= batch->view_count || batch->texts == NULL)
        return NULL;
    i = batch->view[index];
    if (length != NULL)
        *length = batch->lengths[i];
    return batch->texts[i];
}

void batch_host_set_result(wharf_batch *batch, size_t index, wharf_result_kind kind,
                           int status_code, int64_t retry_after_ms, const char *reason)
{
    const char *label = batch_result_kind_name(kind);

    if (index >= batch->view_count) {
        log_error("connector %s: plugin set a result for message %zu of a batch "
                  "of %zu; ignored",
                  batch->instance->id, index, batch->view_count);
        return;
    }
    if (strcmp(label, "none") == 0) {
        log_error("connector %s: plugin set unknown result kind %d; recorded as error",
                  batch->instance->id, (int)kind);
        set_result(&batch->results[batch->view[index]], WHARF_RESULT_ERROR, status_code,
                   -1, "plugin set an unknown result kind");
        return;
    }
    if (kind != WHARF_RESULT_SUCCESS && (reason == NULL || reason[0] == '\0'))
        reason = "plugin gave no reason";
    set_result(&batch->results[batch->view[index]], kind, status_code, retry_after_ms,
               kind == WHARF_RESULT_SUCCESS ? NULL : reason);
}

int batch_host_has_result(const wharf_batch *batch, size_t index)
{
    return index < batch->view_count && batch->results[batch->view[index]].kind != 0;
}

void batch_host_set_encoded(wharf_batch *batch, void *encoded, wharf_release_fn release)
{
    if (batch->release_encoded != NULL)
        batch->release_encoded(batch->encoded);
    batch->encoded = encoded;
    batch->release_encoded = release;
}

void *batch_host_encoded(const wharf_batch *batch)
{
    return batch->encoded;
}

void batch_host_complete(wharf_batch *batch)
{
    if (batch->completed) {
        log_error("connector %s: plugin completed the same batch twice; the "
                  "second call is ignored",
                  batch->instance->id);
        return;
    }
    batch->completed = 1;
    if (!batch->in_send && !sends_blocking(batch))
        finish(batch);
}
