#include "connector_instance.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_api.h"
#include "http_client.h"
#include "log.h"
#include "plugin_loader.h"
#include "service.h"

int connector_instance_create(service *svc, const plugin *p, const char *id,
                              const char *name, json_object *settings,
                              unsigned max_connections, connector_instance **out,
                              char *error, size_t error_size)
{
    connector_instance *instance;
    char plugin_error[512] = "";
    int rc;

    *out = NULL;
    instance = calloc(1, sizeof(*instance));
    if (instance == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    instance->service = svc;
    instance->plugin = p;
    instance->id = strdup(id);
    instance->name = strdup(name);
    instance->settings = json_object_get(settings);
    instance->references = 1;
    instance->pool = http_pool_create(svc->http, id, max_connections);
    if (instance->id == NULL || instance->name == NULL || instance->pool == NULL) {
        snprintf(error, error_size, "out of memory");
        goto fail;
    }

    rc = p->descriptor.create(host_api_table(), instance, settings, &instance->state,
                              plugin_error, sizeof(plugin_error));
    if (rc != 0) {
        plugin_error[sizeof(plugin_error) - 1] = '\0';
        snprintf(error, error_size, "plugin \"%s\" rejected the settings: %s", p->name,
                 plugin_error[0] != '\0' ? plugin_error : "create() failed without a message");
        goto fail;
    }

    *out = instance;
    return 0;

fail:
    /* create() failed or never ran, so destroy() must not be called. */
    host_api_stop_timers(instance);
    if (instance->pool != NULL)
        http_pool_destroy(instance->pool);
    json_object_put(instance->settings);
    free(instance->id);
    free(instance->name);
    free(instance);
    return -1;
}

void connector_instance_ref(connector_instance *instance)
{
    instance->references++;
}

void connector_instance_unref(connector_instance *instance)
{
    if (--instance->references > 0)
        return;

    host_api_stop_timers(instance);
    instance->plugin->descriptor.destroy(instance->state);
    if (instance->pool != NULL)
        http_pool_destroy(instance->pool);
    json_object_put(instance->settings);
    free(instance->id);
    free(instance->name);
    free(instance);
}

void connector_instance_retire(connector_instance *instance, int cancel)
{
    http_pool *pool = instance->pool;

    instance->retired = 1;
    host_api_stop_timers(instance);

    /* Keep the instance alive while cancellation runs the plugin's callbacks,
     * which complete batches and so drop their references. */
    connector_instance_ref(instance);
    if (cancel && pool != NULL) {
        instance->pool = NULL;
        http_pool_destroy(pool);
    }
    connector_instance_unref(instance);
    connector_instance_unref(instance);
}
