#include "connector.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "log.h"
#include "plugin_registry.h"
#include "segments.h"
#include "service.h"
#include "settings.h"
#include "store.h"
#include "sync.h"

#define DEFAULT_MAX_CONNECTIONS 4
#define MAX_MAX_CONNECTIONS 64
#define NAME_MAX_LENGTH 200

struct connector_set {
    service *service;
    connector *first;
};

/* The fields a connector body may carry. Read-only fields of the API view
 * are accepted and ignored, so a client can GET, edit and PUT back. */
static const char *const writable_fields[] = {
    "plugin", "name", "settings", "synchronized_user_segments",
    "synchronized_account_segments", "max_connections", "delivery", NULL,
};
static const char *const read_only_fields[] = {
    "id", "status", "error", "created_at", "updated_at", "secret_settings", NULL,
};

/* A connector configuration read from an API body or the store, before it
 * replaces a connector's fields. */
typedef struct connector_fields {
    const char *plugin_name;
    const char *name;
    json_object *settings; /* as given, not yet validated */
    json_object *user_segments;
    json_object *account_segments;
    unsigned max_connections;
    delivery_settings delivery;
} connector_fields;

connector_set *connector_set_create(service *svc)
{
    connector_set *set = calloc(1, sizeof(*set));

    if (set != NULL)
        set->service = svc;
    return set;
}

connector *connector_find(connector_set *set, const char *id)
{
    for (connector *c = set->first; c != NULL; c = c->next) {
        if (strcmp(c->id, id) == 0)
            return c;
    }
    return NULL;
}

connector *connector_first(connector_set *set)
{
    return set->first;
}

static int in_list(const char *name, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(name, list[i]) == 0)
            return 1;
    }
    return 0;
}

static int check_segment_list(json_object *value, const char *field, char *error,
                              size_t error_size)
{
    if (!json_object_is_type(value, json_type_array)) {
        snprintf(error, error_size,
                 "\"%s\" must be an array of segment ids (or \"ALL\")", field);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(value); i++) {
        json_object *item = json_object_array_get_idx(value, i);
        if (!json_object_is_type(item, json_type_string) ||
            json_object_get_string_len(item) == 0) {
            snprintf(error, error_size,
                     "\"%s\" item %zu must be a non-empty string (a segment id or \"ALL\")",
                     field, i);
            return -1;
        }
    }
    return 0;
}

/* Read and check the shape of a body; values stay owned by body. */
static int read_fields(json_object *body, connector_fields *fields, char *error,
                       size_t error_size)
{
    json_object *value;

    memset(fields, 0, sizeof(*fields));
    fields->max_connections = DEFAULT_MAX_CONNECTIONS;

    if (body == NULL || !json_object_is_type(body, json_type_object)) {
        snprintf(error, error_size, "request body must be a JSON object");
        return -1;
    }
    json_object_object_foreach(body, key, member) {
        (void)member;
        if (!in_list(key, writable_fields) && !in_list(key, read_only_fields)) {
            snprintf(error, error_size,
                     "unknown field \"%.64s\"; a connector has plugin, name, settings, "
                     "synchronized_user_segments, synchronized_account_segments, "
                     "max_connections and delivery",
                     key);
            return -1;
        }
    }

    if (!json_object_object_get_ex(body, "plugin", &value) ||
        !json_object_is_type(value, json_type_string) ||
        json_object_get_string_len(value) == 0) {
        snprintf(error, error_size,
                 "\"plugin\" must name a loaded plugin; GET /api/v1/plugins lists them");
        return -1;
    }
    fields->plugin_name = json_object_get_string(value);

    if (!json_object_object_get_ex(body, "name", &value) ||
        !json_object_is_type(value, json_type_string) ||
        json_object_get_string_len(value) == 0 ||
        json_object_get_string_len(value) > NAME_MAX_LENGTH) {
        snprintf(error, error_size,
                 "\"name\" must be a string of 1 to %d bytes naming the connector",
                 NAME_MAX_LENGTH);
        return -1;
    }
    fields->name = json_object_get_string(value);

    if (json_object_object_get_ex(body, "settings", &value) && value != NULL)
        fields->settings = value;

    if (json_object_object_get_ex(body, "synchronized_user_segments", &value) &&
        value != NULL) {
        if (check_segment_list(value, "synchronized_user_segments", error, error_size) != 0)
            return -1;
        fields->user_segments = value;
    }
    if (json_object_object_get_ex(body, "synchronized_account_segments", &value) &&
        value != NULL) {
        if (check_segment_list(value, "synchronized_account_segments", error, error_size) != 0)
            return -1;
        fields->account_segments = value;
    }

    if (json_object_object_get_ex(body, "max_connections", &value) && value != NULL) {
        int64_t limit = json_object_get_int64(value);
        if (!json_object_is_type(value, json_type_int) || limit < 1 ||
            limit > MAX_MAX_CONNECTIONS) {
            snprintf(error, error_size,
                     "\"max_connections\" must be an integer from 1 to %d, got %s",
                     MAX_MAX_CONNECTIONS, json_object_to_json_string(value));
            return -1;
        }
        fields->max_connections = (unsigned)limit;
    }
    value = NULL;
    json_object_object_get_ex(body, "delivery", &value);
    if (delivery_settings_parse(value, &fields->delivery, error, error_size) != 0)
        return -1;
    return 0;
}

/* Write the error for a whitelist entry that is no segment id. An operator
 * who wrote a segment's name gets that segment's id. */
static void describe_missing_segment(connector_set *set, const char *field, const char *id,
                                     segment_type type, char *error, size_t error_size)
{
    const segment *named = segment_find_by_name(set->service->segments, id, NULL);

    if (named == NULL) {
        snprintf(error, error_size,
                 "\"%s\" names segment \"%.64s\", which does not exist; GET "
                 "/api/v1/segments lists the segments",
                 field, id);
        return;
    }
    snprintf(error, error_size,
             "\"%s\" names segment \"%.64s\", which does not exist; the setting takes segment "
             "ids, and segment \"%s\" has id %s%s",
             field, id, named->name, named->id,
             named->type == type ? ""
             : type == SEGMENT_USERS ? ", but it is a segment of accounts"
                                     : ", but it is a segment of users");
}

/* Every id in a whitelist must name an existing segment of the right type. */
static int check_whitelist(connector_set *set, json_object *list, segment_type type,
                           const char *field, char *error, size_t error_size)
{
    if (list == NULL || set->service->segments == NULL)
        return 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(list, i));
        segment *s;

        if (strcmp(id, "ALL") == 0)
            continue;
        s = segment_find(set->service->segments, id);
        if (s == NULL) {
            describe_missing_segment(set, field, id, type, error, error_size);
            return -1;
        }
        if (s->type != type) {
            snprintf(error, error_size, "\"%s\" names segment \"%s\" (%s), which is a segment of %s",
                     field, s->name, id, s->type == SEGMENT_USERS ? "users" : "accounts");
            return -1;
        }
    }
    return 0;
}

static int check_whitelists(connector_set *set, const connector_fields *fields, char *error,
                            size_t error_size)
{
    if (check_whitelist(set, fields->user_segments, SEGMENT_USERS, "synchronized_user_segments",
                        error, error_size) != 0)
        return -1;
    return check_whitelist(set, fields->account_segments, SEGMENT_ACCOUNTS,
                           "synchronized_account_segments", error, error_size);
}

static json_object *copy_or_empty_array(json_object *value)
{
    return value != NULL ? json_object_get(value) : json_object_new_array();
}

static char *document_of(const connector *c)
{
    json_object *doc = json_object_new_object();
    char *text;

    json_object_object_add(doc, "id", json_object_new_string(c->id));
    json_object_object_add(doc, "name", json_object_new_string(c->name));
    json_object_object_add(doc, "plugin", json_object_new_string(c->plugin_name));
    json_object_object_add(doc, "settings", json_object_get(c->settings));
    json_object_object_add(doc, "synchronized_user_segments", json_object_get(c->user_segments));
    json_object_object_add(doc, "synchronized_account_segments",
                           json_object_get(c->account_segments));
    json_object_object_add(doc, "max_connections", json_object_new_int((int)c->max_connections));
    json_object_object_add(doc, "delivery", delivery_settings_to_json(&c->delivery));
    json_object_object_add(doc, "created_at", json_object_new_string(c->created_at));
    json_object_object_add(doc, "updated_at", json_object_new_string(c->updated_at));
    text = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    json_object_put(doc);
    return text;
}

static int save(connector_set *set, const connector *c, char *error, size_t error_size)
{
    char *document = document_of(c);
    int rc;

    if (document == NULL) {
        snprintf(error, error_size, "out of memory");
        return 500;
    }
    rc = store_connector_save(set->service->store, c->id, document);
    free(document);
    if (rc != 0) {
        snprintf(error, error_size, "cannot save connector %s: %s", c->id,
                 store_error(set->service->store));
        log_error("%s", error);
        return 500;
    }
    return 0;
}

static void set_status(connector *c, connector_status status, const char *error)
{
    free(c->error);
    c->error = error != NULL ? strdup(error) : NULL;
    c->status = status;
}

static void free_connector(connector *c)
{
    if (c->instance != NULL)
        connector_instance_retire(c->instance, 1);
    free(c->id);
    free(c->name);
    free(c->plugin_name);
    json_object_put(c->settings);
    json_object_put(c->user_segments);
    json_object_put(c->account_segments);
    free(c->created_at);
    free(c->updated_at);
    free(c->error);
    free(c);
}

static void append(connector_set *set, connector *c)
{
    connector **tail = &set->first;

    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = c;
}

/* Validate settings and start an instance of p for c. Returns 0, or -1 with
 * error set (c keeps its previous settings and instance). */
static int start_instance(connector_set *set, connector *c, const plugin *p,
                          json_object *input, const json_object *previous,
                          unsigned max_connections, char *error, size_t error_size)
{
    json_object *validated = NULL;
    connector_instance *instance = NULL;

    if (settings_validate(p, input, previous, &validated, error, error_size) != 0)
        return -1;
    if (connector_instance_create(set->service, p, c->id, c->name, validated,
                                  max_connections, &instance, error, error_size) != 0) {
        json_object_put(validated);
        return -1;
    }

    if (c->instance != NULL)
        connector_instance_retire(c->instance, 0);
    c->instance = instance;
    json_object_put(c->settings);
    c->settings = validated;
    set_status(c, CONNECTOR_ACTIVE, NULL);
    return 0;
}

int connector_create(connector_set *set, json_object *body, connector **created,
                     char *error, size_t error_size)
{
    connector_fields fields;
    connector *c;
    const plugin *p;
    char id[ID_TEXT_SIZE];
    char now[TIMESTAMP_TEXT_SIZE];
    int rc;

    *created = NULL;
    if (read_fields(body, &fields, error, error_size) != 0 ||
        check_whitelists(set, &fields, error, error_size) != 0)
        return 400;
    p = plugin_registry_find(set->service->plugins, fields.plugin_name);
    if (p == NULL) {
        snprintf(error, error_size,
                 "plugin \"%.64s\" is not loaded; GET /api/v1/plugins lists the "
                 "loaded plugins and the files that were rejected",
                 fields.plugin_name);
        return 400;
    }

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(error, error_size, "out of memory");
        return 500;
    }
    id_generate(id);
    timestamp_now(now);
    c->id = strdup(id);
    c->name = strdup(fields.name);
    c->plugin_name = strdup(p->name);
    c->user_segments = copy_or_empty_array(fields.user_segments);
    c->account_segments = copy_or_empty_array(fields.account_segments);
    c->max_connections = fields.max_connections;
    c->delivery = fields.delivery;
    c->created_at = strdup(now);
    c->updated_at = strdup(now);

    if (start_instance(set, c, p, fields.settings, NULL, fields.max_connections, error,
                       error_size) != 0) {
        free_connector(c);
        return 400;
    }
    rc = save(set, c, error, error_size);
    if (rc != 0) {
        free_connector(c);
        return rc;
    }

    append(set, c);
    log_info("connector %s created: name \"%s\", plugin %s", c->id, c->name, c->plugin_name);
    *created = c;
    return 0;
}

int connector_update(connector_set *set, connector *c, json_object *body, char *error,
                     size_t error_size)
{
    connector_fields fields;
    const plugin *p;
    char *old_name;
    char now[TIMESTAMP_TEXT_SIZE];
    int rc;

    if (read_fields(body, &fields, error, error_size) != 0 ||
        check_whitelists(set, &fields, error, error_size) != 0)
        return 400;
    if (strcmp(fields.plugin_name, c->plugin_name) != 0) {
        snprintf(error, error_size,
                 "connector %s uses plugin \"%s\"; its plugin cannot change to "
                 "\"%.64s\", so create a new connector instead",
                 c->id, c->plugin_name, fields.plugin_name);
        return 400;
    }
    p = plugin_registry_find(set->service->plugins, c->plugin_name);
    if (p == NULL) {
        snprintf(error, error_size,
                 "plugin \"%s\" of connector %s is not loaded, so its settings cannot "
                 "be checked; install the plugin first",
                 c->plugin_name, c->id);
        return 409;
    }

    /* The instance is created under the new name, then the name replaced. */
    old_name = c->name;
    c->name = strdup(fields.name);
    if (start_instance(set, c, p, fields.settings, c->settings, fields.max_connections,
                       error, error_size) != 0) {
        free(c->name);
        c->name = old_name;
        return 400;
    }
    free(old_name);

    json_object_put(c->user_segments);
    json_object_put(c->account_segments);
    c->user_segments = copy_or_empty_array(fields.user_segments);
    c->account_segments = copy_or_empty_array(fields.account_segments);
    c->max_connections = fields.max_connections;
    c->delivery = fields.delivery;
    timestamp_now(now);
    free(c->updated_at);
    c->updated_at = strdup(now);

    rc = save(set, c, error, error_size);
    if (rc != 0)
        return rc;
    log_info("connector %s updated", c->id);
    /* New settings (a fixed credential, say) may unblock its queue. */
    if (set->service->sync != NULL)
        sync_connector_started(set->service->sync, c->id);
    return 0;
}

int connector_delete(connector_set *set, connector *target, char *error, size_t error_size)
{
    int rc = store_connector_delete(set->service->store, target->id);

    if (rc != 0 && rc != -ENOENT) {
        snprintf(error, error_size, "cannot delete connector %s: %s", target->id,
                 store_error(set->service->store));
        log_error("%s", error);
        return 500;
    }
    for (connector **link = &set->first; *link != NULL; link = &(*link)->next) {
        if (*link == target) {
            *link = target->next;
            break;
        }
    }
    log_info("connector %s deleted", target->id);
    free_connector(target);
    return 0;
}

static const char *status_name(connector_status status)
{
    switch (status) {
    case CONNECTOR_ACTIVE:
        return "active";
    case CONNECTOR_ERROR:
        return "error";
    case CONNECTOR_PLUGIN_MISSING:
        return "plugin_missing";
    }
    return "error";
}

json_object *connector_to_json(connector_set *set, const connector *c)
{
    json_object *object = json_object_new_object();
    const plugin *p = plugin_registry_find(set->service->plugins, c->plugin_name);

    json_object_object_add(object, "id", json_object_new_string(c->id));
    json_object_object_add(object, "name", json_object_new_string(c->name));
    json_object_object_add(object, "plugin", json_object_new_string(c->plugin_name));
    /* Without the plugin's schema wharfd cannot tell which settings are
     * secret, so it shows none. */
    json_object_object_add(object, "settings",
                           p != NULL ? settings_public_copy(p, c->settings)
                                     : json_object_new_object());
    json_object_object_add(object, "secret_settings",
                           p != NULL ? settings_secret_names(p, c->settings)
                                     : json_object_new_array());
    json_object_object_add(object, "synchronized_user_segments",
                           json_object_get(c->user_segments));
    json_object_object_add(object, "synchronized_account_segments",
                           json_object_get(c->account_segments));
    json_object_object_add(object, "max_connections", json_object_new_int((int)c->max_connections));
    json_object_object_add(object, "delivery", delivery_settings_to_json(&c->delivery));
    json_object_object_add(object, "status", json_object_new_string(status_name(c->status)));
    json_object_object_add(object, "error",
                           c->error != NULL ? json_object_new_string(c->error) : NULL);
    json_object_object_add(object, "created_at", json_object_new_string(c->created_at));
    json_object_object_add(object, "updated_at", json_object_new_string(c->updated_at));
    return object;
}

/* Try to run a stored connector whose instance is not running. */
static void activate(connector_set *set, connector *c, const plugin *p)
{
    char error[1024];
    json_object *stored = json_object_get(c->settings);

    /* The stored settings are the input; secrets are part of them. */
    if (start_instance(set, c, p, stored, NULL, c->max_connections, error,
                       sizeof(error)) != 0) {
        set_status(c, CONNECTOR_ERROR, error);
        log_error("connector %s (%s) cannot start: %s", c->id, c->plugin_name, error);
    } else {
        log_info("connector %s (%s) started", c->id, c->plugin_name);
        if (set->service->sync != NULL)
            sync_connector_started(set->service->sync, c->id);
    }
    json_object_put(stored);
}

static int restore_one(const char *id, const char *document, void *user_data)
{
    connector_set *set = user_data;
    json_object *doc = json_tokener_parse(document);
    connector_fields fields;
    char error[1024];
    connector *c;
    json_object *value;
    const plugin *p;

    if (doc == NULL || read_fields(doc, &fields, error, sizeof(error)) != 0) {
        log_error("stored connector %s is unreadable and was skipped: %s", id,
                  doc == NULL ? "invalid JSON" : error);
        json_object_put(doc);
        return 0;
    }

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        json_object_put(doc);
        return -1;
    }
    c->id = strdup(id);
    c->name = strdup(fields.name);
    c->plugin_name = strdup(fields.plugin_name);
    c->settings = fields.settings != NULL ? json_object_get(fields.settings)
                                          : json_object_new_object();
    c->user_segments = copy_or_empty_array(fields.user_segments);
    c->account_segments = copy_or_empty_array(fields.account_segments);
    c->max_connections = fields.max_connections;
    c->delivery = fields.delivery;
    c->created_at = strdup(json_object_object_get_ex(doc, "created_at", &value)
                               ? json_object_get_string(value) : "");
    c->updated_at = strdup(json_object_object_get_ex(doc, "updated_at", &value)
                               ? json_object_get_string(value) : "");
    json_object_put(doc);
    append(set, c);

    p = plugin_registry_find(set->service->plugins, c->plugin_name);
    if (p == NULL) {
        set_status(c, CONNECTOR_PLUGIN_MISSING, "plugin is not loaded");
        log_warn("connector %s waits for plugin \"%s\", which is not loaded", c->id,
                 c->plugin_name);
        return 0;
    }
    activate(set, c, p);
    return 0;
}

int connector_set_restore(connector_set *set)
{
    return store_connector_each(set->service->store, restore_one, set);
}

void connector_set_plugin_loaded(connector_set *set, const plugin *p)
{
    for (connector *c = set->first; c != NULL; c = c->next) {
        if (c->status == CONNECTOR_PLUGIN_MISSING && strcmp(c->plugin_name, p->name) == 0)
            activate(set, c, p);
    }
}

/* Remove segment_id from a whitelist; returns non-zero when it was there. */
static int remove_from_list(json_object **list, const char *segment_id)
{
    json_object *kept = json_object_new_array();
    int removed = 0;

    for (size_t i = 0; i < json_object_array_length(*list); i++) {
        json_object *item = json_object_array_get_idx(*list, i);
        if (strcmp(json_object_get_string(item), segment_id) == 0) {
            removed = 1;
            continue;
        }
        json_object_array_add(kept, json_object_get(item));
    }
    json_object_put(*list);
    *list = kept;
    return removed;
}

void connector_set_forget_segment(connector_set *set, const char *segment_id)
{
    char error[1024];

    if (set == NULL)
        return;
    for (connector *c = set->first; c != NULL; c = c->next) {
        int removed = remove_from_list(&c->user_segments, segment_id);

        removed |= remove_from_list(&c->account_segments, segment_id);
        if (!removed)
            continue;
        log_info("connector %s: deleted segment %s removed from its whitelists", c->id,
                 segment_id);
        save(set, c, error, sizeof(error));
    }
}

void connector_set_free(connector_set *set)
{
    if (set == NULL)
        return;
    while (set->first != NULL) {
        connector *c = set->first;
        set->first = c->next;
        free_connector(c);
    }
    free(set);
}
