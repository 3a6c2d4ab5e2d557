/*
 * A running instance of a plugin for one connector: the opaque
 * wharf_connector handle of the ABI. It owns the plugin's state (what
 * create() returned), the connector's HTTP pool and its timers.
 *
 * Instances are reference counted: the connector holds one reference and
 * every batch in flight holds one, so that replacing or deleting a connector
 * while a send is running destroys the plugin state only after the send has
 * completed.
 */
#ifndef WHARF_CORE_CONNECTOR_INSTANCE_H
#define WHARF_CORE_CONNECTOR_INSTANCE_H

#include <stddef.h>

#include "wharf/host.h"

struct plugin;
struct service;
struct http_pool;
struct json_object;

struct wharf_connector {
    struct service *service;
    const struct plugin *plugin;
    void *state; /* what the plugin's create() stored */
    char *id;
    char *name;
    struct json_object *settings;
    struct http_pool *pool;
    struct wharf_timer *timers; /* running timers, to stop at retirement */
    unsigned references;
    int retired; /* no new batches or requests */
};

typedef struct wharf_connector connector_instance;

/* Create an instance: calls the plugin's create(). On failure returns -1
 * with the plugin's message (or ours) in error. */
int connector_instance_create(struct service *service, const struct plugin *plugin,
                              const char *id, const char *name,
                              struct json_object *settings, unsigned max_connections,
                              connector_instance **instance, char *error,
                              size_t error_size);

void connector_instance_ref(connector_instance *instance);
void connector_instance_unref(connector_instance *instance);

/* Drop the owner's reference: stop timers and refuse new work. With cancel
 * non-zero, requests in flight are cancelled (their sends then complete with
 * retry results); otherwise they are left to finish. The plugin's destroy()
 * runs when the last batch has completed. */
void connector_instance_retire(connector_instance *instance, int cancel);

#endif
