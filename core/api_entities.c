/* /api/v1/users and /api/v1/accounts: look-ups, events, an account's users. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "entities.h"
#include "ids.h"
#include "service.h"

#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 1000

static uint32_t find_or_404(service *svc, http_request *request, store_entity_kind kind,
                            const char *id)
{
    uint32_t index = entities_find_by_id(entities_set(svc->entities, kind), id);

    if (index == STRING_MAP_MISSING) {
        http_respond_error(request, 404, "%s \"%s\" not found",
                           kind == STORE_USERS ? "user" : "account", id);
        return ATTR_NO_ENTITY;
    }
    return index;
}

/* GET /api/v1/users?email=... (or external_id, anonymous_id); accounts take
 * domain instead of email. */
static void lookup(service *svc, http_request *request, store_entity_kind kind)
{
    static const char *const user_claims[] = {"external_id", "email", "anonymous_id", NULL};
    static const char *const account_claims[] = {"external_id", "domain", "anonymous_id", NULL};
    const char *const *claims = kind == STORE_USERS ? user_claims : account_claims;
    char value[1024];
    json_object *body;

    for (size_t i = 0; claims[i] != NULL; i++) {
        if (http_request_query_param(request, claims[i], value, sizeof(value)) == NULL)
            continue;
        body = json_object_new_object();
        json_object_object_add(body, kind == STORE_USERS ? "users" : "accounts",
                               entities_lookup(svc->entities, kind, claims[i], value));
        http_respond_json(request, 200, body);
        return;
    }
    http_respond_error(request, 400, "give one claim to look %s up by: ?%s=, ?%s= or ?%s=",
                       kind == STORE_USERS ? "users" : "accounts", claims[0], claims[1],
                       claims[2]);
}

void api_users_lookup(service *svc, http_request *request, const char *param)
{
    (void)param;
    lookup(svc, request, STORE_USERS);
}

void api_accounts_lookup(service *svc, http_request *request, const char *param)
{
    (void)param;
    lookup(svc, request, STORE_ACCOUNTS);
}

void api_users_get(service *svc, http_request *request, const char *id)
{
    uint32_t index = find_or_404(svc, request, STORE_USERS, id);

    if (index != ATTR_NO_ENTITY)
        http_respond_json(request, 200, entities_to_json(svc->entities, STORE_USERS, index));
}

void api_accounts_get(service *svc, http_request *request, const char *id)
{
    uint32_t index = find_or_404(svc, request, STORE_ACCOUNTS, id);

    if (index != ATTR_NO_ENTITY)
        http_respond_json(request, 200, entities_to_json(svc->entities, STORE_ACCOUNTS, index));
}

void api_accounts_users(service *svc, http_request *request, const char *id)
{
    uint32_t index = find_or_404(svc, request, STORE_ACCOUNTS, id);
    json_object *body;

    if (index == ATTR_NO_ENTITY)
        return;
    body = json_object_new_object();
    json_object_object_add(body, "users", entities_account_users(svc->entities, index));
    http_respond_json(request, 200, body);
}

static int add_event(const store_event_row *row, void *user_data)
{
    json_object *events = user_data;
    json_object *event = json_object_new_object();
    json_object *properties = json_tokener_parse(row->properties_json);
    char timestamp[TIMESTAMP_TEXT_SIZE];

    timestamp_format_ms(row->timestamp_ms, timestamp);

    json_object_object_add(event, "event", json_object_new_string(row->event));
    json_object_object_add(event, "properties",
                           properties != NULL ? properties : json_object_new_object());
    json_object_object_add(event, "timestamp", json_object_new_string(timestamp));
    json_object_object_add(event, "message_id",
                           row->message_id != NULL ? json_object_new_string(row->message_id) : NULL);
    json_object_array_add(events, event);
    return 0;
}

void api_users_events(service *svc, http_request *request, const char *id)
{
    uint32_t index = find_or_404(svc, request, STORE_USERS, id);
    char value[32];
    unsigned long limit = EVENTS_DEFAULT_LIMIT;
    json_object *events;
    json_object *body;
    char *end;

    if (index == ATTR_NO_ENTITY)
        return;
    if (http_request_query_param(request, "limit", value, sizeof(value)) != NULL) {
        limit = strtoul(value, &end, 10);
        if (*end != '\0' || value[0] == '\0' || limit == 0 || limit > EVENTS_MAX_LIMIT) {
            http_respond_error(request, 400, "limit must be an integer from 1 to %d, got \"%s\"",
                               EVENTS_MAX_LIMIT, value);
            return;
        }
    }

    events = json_object_new_array();
    if (svc->store->ops->events_of_user(svc->store, id, (unsigned)limit, add_event, events) != 0) {
        json_object_put(events);
        http_respond_error(request, 500, "cannot read events: %s", store_error(svc->store));
        return;
    }
    body = json_object_new_object();
    json_object_object_add(body, "events", events);
    http_respond_json(request, 200, body);
}
