#include "host_api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "batch.h"
#include "connector_instance.h"
#include "http_client.h"
#include "log.h"
#include "plugin_loader.h"
#include "service.h"

struct wharf_timer {
    uv_timer_t handle;
    connector_instance *instance;
    wharf_timer_fn fn;
    void *user_data;
    struct wharf_timer *next;
};

/* A plugin's HTTP request in flight; holds a reference on the instance so
 * that the plugin state outlives the completion callback. */
typedef struct request_context {
    connector_instance *instance;
    wharf_http_done_fn done;
    void *user_data;
} request_context;

static void host_log(wharf_connector *connector, wharf_log_level level,
                     const char *format, ...)
{
    char message[3072];
    va_list args;

    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);

    if (connector == NULL) {
        log_write(level, "plugin: %s", message);
        return;
    }
    log_write(level, "connector %s (%s): %s", connector->id, connector->plugin->name,
              message);
}

static const char *host_connector_id(const wharf_connector *connector)
{
    return connector->id;
}

static const char *host_connector_name(const wharf_connector *connector)
{
    return connector->name;
}

static const struct json_object *host_connector_settings(const wharf_connector *connector)
{
    return connector->settings;
}

static void on_http_done(void *user_data, const wharf_http_response *response)
{
    request_context *context = user_data;

    context->done(context->user_data, response);
    connector_instance_unref(context->instance);
    free(context);
}

static int host_http_request(wharf_connector *connector, const wharf_http_request *request,
                             wharf_http_done_fn done, void *user_data)
{
    request_context *context;
    int rc;

    if (request == NULL || done == NULL)
        return -EINVAL;
    if (connector->pool == NULL || connector->service->stopping)
        return -ECANCELED;

    context = malloc(sizeof(*context));
    if (context == NULL)
        return -ENOMEM;
    context->instance = connector;
    context->done = done;
    context->user_data = user_data;

    connector_instance_ref(connector);
    rc = http_pool_request(connector->pool, request, on_http_done, context);
    if (rc != 0) {
        connector_instance_unref(connector);
        free(context);
    }
    return rc;
}

static const char *host_http_response_header(const wharf_http_response *response,
                                             const char *name)
{
    return http_response_header(response, name);
}

static void on_timer(uv_timer_t *handle)
{
    wharf_timer *timer = handle->data;

    timer->fn(timer->user_data);
}

static void free_timer(uv_handle_t *handle)
{
    free(handle->data);
}

static void unlink_timer(wharf_timer *timer)
{
    for (wharf_timer **link = &timer->instance->timers; *link != NULL; link = &(*link)->next) {
        if (*link == timer) {
            *link = timer->next;
            return;
        }
    }
}

static wharf_timer *host_timer_start(wharf_connector *connector, uint64_t timeout_ms,
                                     uint64_t repeat_ms, wharf_timer_fn fn, void *user_data)
{
    wharf_timer *timer;

    if (fn == NULL || connector->retired)
        return NULL;
    timer = calloc(1, sizeof(*timer));
    if (timer == NULL)
        return NULL;
    uv_timer_init(connector->service->loop, &timer->handle);
    timer->handle.data = timer;
    timer->instance = connector;
    timer->fn = fn;
    timer->user_data = user_data;
    timer->next = connector->timers;
    connector->timers = timer;
    uv_timer_start(&timer->handle, on_timer, timeout_ms, repeat_ms);
    return timer;
}

static void host_timer_stop(wharf_timer *timer)
{
    if (timer == NULL)
        return;
    unlink_timer(timer);
    uv_timer_stop(&timer->handle);
    uv_close((uv_handle_t *)&timer->handle, free_timer);
}

void host_api_stop_timers(wharf_connector *instance)
{
    while (instance->timers != NULL)
        host_timer_stop(instance->timers);
}

static const wharf_host host_table = {
    .struct_size = sizeof(wharf_host),
    .abi_major = WHARF_ABI_MAJOR,
    .abi_minor = WHARF_ABI_MINOR,
    .log = host_log,
    .connector_id = host_connector_id,
    .connector_name = host_connector_name,
    .connector_settings = host_connector_settings,
    .batch_count = batch_host_count,
    .batch_message = batch_host_message,
    .batch_set_result = batch_host_set_result,
    .batch_has_result = batch_host_has_result,
    .batch_set_encoded = batch_host_set_encoded,
    .batch_encoded = batch_host_encoded,
    .batch_complete = batch_host_complete,
    .http_request = host_http_request,
    .http_response_header = host_http_response_header,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .batch_message_text = batch_host_message_text,
};

const wharf_host *host_api_table(void)
{
    return &host_table;
}
