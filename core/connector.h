/*
 * Connectors: configured instances of plugins (settings, credentials,
 * whitelists), persisted in the store and each running one plugin instance
 * while its plugin is loaded.
 */
#ifndef WHARF_CORE_CONNECTOR_H
#define WHARF_CORE_CONNECTOR_H

#include <stddef.h>

#include "connector_instance.h"
#include "delivery_settings.h"

struct json_object;
struct plugin;
struct service;

typedef enum connector_status {
    CONNECTOR_ACTIVE,         /* instance running */
    CONNECTOR_ERROR,          /* the plugin rejected the stored settings */
    CONNECTOR_PLUGIN_MISSING  /* its plugin is not loaded (yet) */
} connector_status;

typedef struct connector {
    char *id;
    char *name;
    char *plugin_name;
    struct json_object *settings; /* validated, secrets included */
    struct json_object *user_segments;    /* synchronized_user_segments */
    struct json_object *account_segments; /* synchronized_account_segments */
    unsigned max_connections;
    delivery_settings delivery;
    char *created_at;
    char *updated_at;
    connector_status status;
    char *error; /* why status is not ACTIVE */
    connector_instance *instance;
    struct connector *next;
} connector;

typedef struct connector_set connector_set;

connector_set *connector_set_create(struct service *service);

/* Load every stored connector; those whose plugin is loaded start running. */
int connector_set_restore(connector_set *set);

/* Start the connectors that were waiting for this plugin. */
void connector_set_plugin_loaded(connector_set *set, const struct plugin *plugin);

connector *connector_find(connector_set *set, const char *id);
connector *connector_first(connector_set *set);

/* Create from an API body. Returns 0, or an HTTP status (400, 500) with a
 * message for the operator in error. */
int connector_create(connector_set *set, struct json_object *body, connector **created,
                     char *error, size_t error_size);

/* Replace a connector's configuration from an API body, under the same
 * rules as create. The plugin cannot change, and a secret setting that the
 * body omits keeps its value. Returns 0 or an HTTP status with error. */
int connector_update(connector_set *set, connector *connector,
                     struct json_object *body, char *error, size_t error_size);

/* Stop and remove a connector. Returns 0 or an HTTP status with error. */
int connector_delete(connector_set *set, connector *connector, char *error,
                     size_t error_size);

/* Remove a deleted segment from every connector's whitelists (saved, with
 * a log line per connector changed). */
void connector_set_forget_segment(connector_set *set, const char *segment_id);

/* The API view: secret settings left out, their names listed. */
struct json_object *connector_to_json(connector_set *set, const connector *connector);

/* Retire every instance (cancelling requests in flight) and free the set. */
void connector_set_free(connector_set *set);

#endif
