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

/* The maximum ids a hint lists; it gives the count of the rest. */
#define HINT_IDS_SHOWN 3
/* The maximum bytes of a value that a hint shows. */
#define HINT_VALUE_SHOWN 64

static const char *const user_claims[] = {"external_id", "email", "anonymous_id", NULL};
static const char *const account_claims[] = {"external_id", "domain", "anonymous_id", NULL};

/* Append text to the NUL-terminated buffer, cutting it to fit. */
static void append_text(char *buffer, size_t size, const char *text)
{
    size_t used = strlen(buffer);

    if (used + 1 < size)
        snprintf(buffer + used, size - used, "%s", text);
}

/* Append value percent-encoded as a query value, at most HINT_VALUE_SHOWN
 * bytes of it. */
static void append_query_value(char *buffer, size_t size, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    char encoded[HINT_VALUE_SHOWN * 3 + 1];
    size_t length = 0;

    for (size_t i = 0; value[i] != '\0' && i < HINT_VALUE_SHOWN; i++) {
        unsigned char byte = (unsigned char)value[i];

        if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
            (byte >= '0' && byte <= '9') || strchr("-._~@", byte) != NULL) {
            encoded[length++] = (char)byte;
        } else {
            encoded[length++] = '%';
            encoded[length++] = hex[byte >> 4];
            encoded[length++] = hex[byte & 15];
        }
    }
    encoded[length] = '\0';
    append_text(buffer, size, encoded);
}

/* Append "id X" or "ids X, Y and N more" for the "id" members of views. */
static void append_ids(char *buffer, size_t size, json_object *views)
{
    size_t count = json_object_array_length(views);
    char more[48];

    append_text(buffer, size, count == 1 ? "id " : "ids ");
    for (size_t i = 0; i < count && i < HINT_IDS_SHOWN; i++) {
        json_object *id = NULL;

        json_object_object_get_ex(json_object_array_get_idx(views, i), "id", &id);
        if (i > 0)
            append_text(buffer, size, ", ");
        append_text(buffer, size, json_object_get_string(id));
    }
    if (count > HINT_IDS_SHOWN) {
        snprintf(more, sizeof(more), " and %zu more", count - HINT_IDS_SHOWN);
        append_text(buffer, size, more);
    }
}

void api_describe_entity_claims(service *svc, store_entity_kind kind, const char *field,
                                const char *value, char *hint, size_t hint_size)
{
    const char *const *claims = kind == STORE_USERS ? user_claims : account_claims;
    const char *noun = kind == STORE_USERS ? "user" : "account";
    char text[512];

    for (size_t i = 0; claims[i] != NULL; i++) {
        json_object *found = entities_lookup(svc->entities, kind, claims[i], value);
        size_t count = json_object_array_length(found);

        if (count == 0) {
            json_object_put(found);
            continue;
        }
        snprintf(text, sizeof(text), "%s takes a wharf %s id, and the %s%s with %s \"%.*s\" %s ",
                 field, noun, noun, count == 1 ? "" : "s", claims[i], HINT_VALUE_SHOWN, value,
                 count == 1 ? "has" : "have");
        snprintf(hint, hint_size, "%s", text);
        append_ids(hint, hint_size, found);
        json_object_put(found);
        return;
    }
    snprintf(hint, hint_size, "%s takes a wharf %s id; GET /api/v1/%ss?%s=", field, noun, noun,
             claims[0]);
    append_query_value(hint, hint_size, value);
    snprintf(text, sizeof(text), " (or ?%s=) finds it", claims[1]);
    append_text(hint, hint_size, text);
}

static uint32_t find_or_404(service *svc, http_request *request, store_entity_kind kind,
                            const char *id)
{
    uint32_t index = entities_find_by_id(entities_set(svc->entities, kind), id);
    char hint[1024];

    if (index == STRING_MAP_MISSING) {
        api_describe_entity_claims(svc, kind, "the {id} in the path", id, hint, sizeof(hint));
        http_respond_error(request, 404, "%s \"%s\" not found; %s",
                           kind == STORE_USERS ? "user" : "account", id, hint);
        return ATTR_NO_ENTITY;
    }
    return index;
}

/* GET /api/v1/users?email=... (or external_id, anonymous_id); accounts take
 * domain instead of email. */
static void lookup(service *svc, http_request *request, store_entity_kind kind)
{
    const char *const *claims = kind == STORE_USERS ? user_claims : account_claims;
    char value[1024];
    const char *claim = NULL;
    json_object *body;

    for (size_t i = 0; claims[i] != NULL; i++) {
        int found = api_query_value(request, claims[i], value, sizeof(value));

        if (found < 0)
            return;
        if (found == 0)
            continue;
        if (claim != NULL) {
            http_respond_error(request, 400,
                               "give one claim to look %s up by, not both %s and %s",
                               kind == STORE_USERS ? "users" : "accounts", claim, claims[i]);
            return;
        }
        claim = claims[i];
    }
    if (claim == NULL) {
        http_respond_error(request, 400, "give one claim to look %s up by: ?%s=, ?%s= or ?%s=",
                           kind == STORE_USERS ? "users" : "accounts", claims[0], claims[1],
                           claims[2]);
        return;
    }

    /* value contains that claim's value, because no later claim was given. */
    body = json_object_new_object();
    json_object_object_add(body, kind == STORE_USERS ? "users" : "accounts",
                           entities_lookup(svc->entities, kind, claim, value));
    http_respond_json(request, 200, body);
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
    int has_limit;

    if (index == ATTR_NO_ENTITY)
        return;
    has_limit = api_query_value(request, "limit", value, sizeof(value));
    if (has_limit < 0)
        return;
    if (has_limit) {
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
