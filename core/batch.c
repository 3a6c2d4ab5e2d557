#include "batch.h"

#include <json-c/json.h>
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
    json_object **messages;
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

wharf_batch *batch_create(connector_instance *instance, json_object *const *messages,
                          size_t count)
{
    wharf_batch *batch = calloc(1, sizeof(*batch));

    if (batch == NULL)
        return NULL;
    batch->messages = calloc(count > 0 ? count : 1, sizeof(*batch->messages));
    batch->results = calloc(count > 0 ? count : 1, sizeof(*batch->results));
    batch->view = calloc(count > 0 ? count : 1, sizeof(*batch->view));
    if (batch->messages == NULL || batch->results == NULL || batch->view == NULL) {
        free(batch->messages);
        free(batch->results);
        free(batch->view);
        free(batch);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        batch->messages[i] = json_object_get(messages[i]);
        batch->results[i].retry_after_ms = -1;
    }
    batch->total = count;
    batch->instance = instance;
    connector_instance_ref(instance);
    return batch;
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
            descriptor->filter(instance->state, batch->messages[i], reason, sizeof(reason)) != 0) {
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
    return index < batch->total ? batch->messages[index] : NULL;
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
        json_object_put(batch->messages[i]);
        free(batch->results[i].reason);
    }
    free(batch->messages);
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
    return index < batch->view_count ? batch->messages[batch->view[index]] : NULL;
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
