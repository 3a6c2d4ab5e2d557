#include "api.h"
#include "connector.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "admin_token.h"
#include "log.h"
#include "service.h"

/* The maximum length of a route's query list, and the maximum bytes of an
 * unknown parameter's name that an error message shows. */
#define QUERY_PARAMETERS_MAX 16
#define QUERY_NAME_DISPLAYED 64

typedef struct route {
    const char *method;
    /* Path with at most one "{id}" segment. */
    const char *pattern;
    api_handler_fn handler;
    /* Query parameters the handler reads, NULL-terminated, or NULL for
     * none. Under /api/ any other parameter, or one given twice, gets 400. */
    const char *const *query;
} route;

static const char *const logs_query[] = {
    "message", "user_id", "account_id", "batch_id", "since", "limit", "after", NULL};
static const char *const dead_letters_query[] = {"after", "limit", NULL};
static const char *const users_lookup_query[] = {"external_id", "email", "anonymous_id", NULL};
static const char *const accounts_lookup_query[] = {"external_id", "domain", "anonymous_id",
                                                    NULL};
static const char *const events_query[] = {"limit", NULL};
_Static_assert(sizeof(logs_query) / sizeof(logs_query[0]) <= QUERY_PARAMETERS_MAX + 1,
               "logs_query, the longest list, fits in query_check.seen");

static void health(service *svc, http_request *request, const char *param)
{
    json_object *body = json_object_new_object();

    (void)param;
    json_object_object_add(body, "status",
                           json_object_new_string(svc->stopping ? "stopping" : "ok"));
    http_respond_json(request, svc->stopping ? 503 : 200, body);
}

static const route routes[] = {
    {"GET", "/healthz", health, NULL},
    {"GET", "/api/v1/plugins", api_plugins_list, NULL},
    {"GET", "/api/v1/connectors", api_connectors_list, NULL},
    {"POST", "/api/v1/connectors", api_connectors_create, NULL},
    {"GET", "/api/v1/connectors/{id}", api_connectors_get, NULL},
    {"PUT", "/api/v1/connectors/{id}", api_connectors_update, NULL},
    {"DELETE", "/api/v1/connectors/{id}", api_connectors_delete, NULL},
    {"POST", "/api/v1/connectors/{id}/test", api_connectors_test, NULL},
    {"POST", "/api/v1/connectors/{id}/batches", api_batches_create, NULL},
    {"GET", "/api/v1/connectors/{id}/batches", api_batches_list, NULL},
    {"GET", "/api/v1/connectors/{id}/logs", api_logs_read, logs_query},
    {"GET", "/api/v1/batches/{id}", api_batches_get, NULL},
    {"GET", "/api/v1/connectors/{id}/dead-letters", api_dead_letters_list, dead_letters_query},
    {"POST", "/api/v1/connectors/{id}/dead-letters/resend", api_dead_letters_resend, NULL},
    {"GET", "/metrics", api_metrics, NULL},
    {"GET", "/api/v1/users", api_users_lookup, users_lookup_query},
    {"POST", "/api/v1/users", api_users_create, NULL},
    {"GET", "/api/v1/users/{id}", api_users_get, NULL},
    {"GET", "/api/v1/users/{id}/events", api_users_events, events_query},
    {"GET", "/api/v1/accounts", api_accounts_lookup, accounts_lookup_query},
    {"POST", "/api/v1/accounts", api_accounts_create, NULL},
    {"GET", "/api/v1/accounts/{id}", api_accounts_get, NULL},
    {"GET", "/api/v1/accounts/{id}/users", api_accounts_users, NULL},
    {"GET", "/api/v1/segments", api_segments_list, NULL},
    {"POST", "/api/v1/segments", api_segments_create, NULL},
    {"GET", "/api/v1/segments/{id}", api_segments_get, NULL},
    {"PUT", "/api/v1/segments/{id}", api_segments_update, NULL},
    {"DELETE", "/api/v1/segments/{id}", api_segments_delete, NULL},
    {"POST", "/v1/identify", api_ingest_identify, NULL},
    {"POST", "/v1/group", api_ingest_group, NULL},
    {"POST", "/v1/track", api_ingest_track, NULL},
    {"POST", "/v1/batch", api_ingest_batch, NULL},
};

#define PARAM_MAX_LENGTH 128

/* Match path against pattern; the {id} segment is copied into param. */
static int match(const char *pattern, const char *path, char *param, size_t param_size)
{
    param[0] = '\0';
    while (*pattern != '\0' && *path != '\0') {
        if (strncmp(pattern, "{id}", 4) == 0) {
            size_t length = strcspn(path, "/");
            if (length == 0 || length >= param_size)
                return 0;
            memcpy(param, path, length);
            param[length] = '\0';
            pattern += 4;
            path += length;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    /* A trailing slash is tolerated: "/api/v1/connectors/" is the list. */
    if (*pattern == '\0' && path[0] == '/' && path[1] == '\0')
        return 1;
    return *pattern == '\0' && *path == '\0';
}

/* Every path under /api/ is admin API, including unknown ones, so that a
 * client without a token cannot tell which endpoints exist. /metrics lists
 * connector ids with their delivery counts, so it takes the admin token
 * too; /healthz and the /v1/ ingest API do not. */
static int is_admin_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/metrics") == 0;
}

/* Check the admin token of request. Returns 1 when it may go on, else
 * responds 401 and returns 0. */
static int authorize_admin_request(service *svc, http_request *request)
{
    admin_token_set *tokens = &svc->config.admin_tokens;
    char message[512];
    bool invalid_token = false;
    unsigned rejections;

    if (admin_token_check(tokens, http_request_header(request, "Authorization"),
                          &invalid_token, message, sizeof(message)) == 0)
        return 1;

    /* The log names the client and the kind of failure, never what it sent. */
    rejections = admin_token_count_rejection(tokens, uv_now(svc->loop));
    if (rejections > 0)
        log_warn("admin API request %s %s from %s rejected with 401: %s (%u rejection(s) "
                 "since the previous such line)",
                 http_request_method(request), http_request_path(request),
                 http_request_peer(request),
                 invalid_token ? "the admin token matches none configured"
                               : "no admin token sent",
                 rejections);

    /* RFC 6750 section 3: a 401 names the scheme, and the error code when a
     * token was sent but is wrong. */
    http_request_add_response_header(request, "WWW-Authenticate",
                                      invalid_token
                                          ? "Bearer realm=\"wharf\", error=\"invalid_token\""
                                          : "Bearer realm=\"wharf\"");
    http_respond_error(request, 401, "%s", message);
    return 0;
}

/* State of the query check of one request. */
typedef struct query_check {
    const char *const *accepted;
    bool seen[QUERY_PARAMETERS_MAX];
    bool repeated; /* else the parameter is unknown */
    char name[QUERY_NAME_DISPLAYED + 1];
} query_check;

/* Copy name for an error message: at most QUERY_NAME_DISPLAYED bytes, with
 * anything but printable ASCII shown as '?' so that the JSON stays valid. */
static void copy_display_name(char *display, const char *name)
{
    size_t length = 0;

    while (name[length] != '\0' && length < QUERY_NAME_DISPLAYED) {
        unsigned char byte = (unsigned char)name[length];
        display[length] = byte >= 0x20 && byte < 0x7f ? (char)byte : '?';
        length++;
    }
    display[length] = '\0';
}

static int check_query_name(const char *name, void *user_data)
{
    query_check *check = user_data;

    for (size_t i = 0; check->accepted != NULL && check->accepted[i] != NULL &&
                       i < QUERY_PARAMETERS_MAX;
         i++) {
        if (strcmp(name, check->accepted[i]) != 0)
            continue;
        if (check->seen[i]) {
            check->repeated = true;
            copy_display_name(check->name, name);
            return 1;
        }
        check->seen[i] = true;
        return 0;
    }
    check->repeated = false;
    copy_display_name(check->name, name);
    return 1;
}

/* Respond with 400 when the query names a parameter the route does not read, or
 * one twice: ignoring it would return unfiltered data, and "first one wins"
 * would hide a client's mistake. Returns 0 when the query may go on. */
static int check_query(const route *target, http_request *request)
{
    query_check check = {.accepted = target->query};
    char accepted[256] = "";
    int rc = http_request_query_each_name(request, check_query_name, &check);

    if (rc == 0)
        return 0;
    if (rc < 0) {
        http_respond_error(request, 500, "out of memory reading the query string");
        return -1;
    }
    if (check.repeated) {
        http_respond_error(request, 400, "query parameter \"%s\" is given more than once; give "
                           "it once", check.name);
        return -1;
    }
    if (target->query == NULL) {
        http_respond_error(request, 400, "unknown query parameter \"%s\": %s %s takes no query "
                           "parameters", check.name, target->method, target->pattern);
        return -1;
    }
    for (size_t i = 0; target->query[i] != NULL; i++) {
        size_t used = strlen(accepted);
        snprintf(accepted + used, sizeof(accepted) - used, "%s%s", i > 0 ? ", " : "",
                 target->query[i]);
    }
    http_respond_error(request, 400, "unknown query parameter \"%s\"; %s %s accepts %s",
                       check.name, target->method, target->pattern, accepted);
    return -1;
}

void api_handle(http_request *request, void *user_data)
{
    service *svc = user_data;
    const char *method = http_request_method(request);
    const char *path = http_request_path(request);
    char param[PARAM_MAX_LENGTH];
    char allowed[64] = "";
    int path_known = 0;

    if (is_admin_path(path) && !authorize_admin_request(svc, request))
        return;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!match(routes[i].pattern, path, param, sizeof(param)))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            if (strncmp(path, "/api/", 5) == 0 && check_query(&routes[i], request) != 0)
                return;
            routes[i].handler(svc, request, param[0] != '\0' ? param : NULL);
            return;
        }
        path_known = 1;
        if (strlen(allowed) + strlen(routes[i].method) + 2 < sizeof(allowed)) {
            if (allowed[0] != '\0')
                strcat(allowed, ", ");
            strcat(allowed, routes[i].method);
        }
    }

    if (path_known) {
        http_respond_error(request, 405, "method %s is not allowed on %s; use %s", method,
                           path, allowed);
        return;
    }
    http_respond_error(request, 404, "no such endpoint: %s %s", method, path);
}

connector *api_find_connector(service *svc, http_request *request, const char *id)
{
    connector *c = connector_find(svc->connectors, id);
    const connector *named = NULL;
    size_t named_count = 0;

    if (c != NULL)
        return c;

    /* Connector names need not be unique, so only a single match is a
     * safe suggestion. */
    for (const connector *other = connector_first(svc->connectors); other != NULL;
         other = other->next) {
        if (strcmp(other->name, id) == 0) {
            named = other;
            named_count++;
        }
    }
    if (named_count == 1)
        http_respond_error(request, 404,
                           "connector \"%s\" not found; the path takes a connector id, and "
                           "connector \"%s\" has id %s",
                           id, named->name, named->id);
    else
        http_respond_error(request, 404,
                           "connector \"%s\" not found; GET /api/v1/connectors lists them", id);
    return NULL;
}

int api_query_value(http_request *request, const char *name, char *buffer, size_t size)
{
    int rc = http_request_query_value(request, name, buffer, size);

    if (rc >= 0)
        return rc;
    http_respond_error(request, 400, "%s is longer than %zu bytes, which no valid %s is", name,
                       size - 1, name);
    return -1;
}

json_object *api_read_json_body(http_request *request)
{
    size_t size;
    const char *body = http_request_body(request, &size);
    json_tokener *tokener;
    json_object *object;
    enum json_tokener_error error;
    size_t consumed;
    size_t offset = 0; /* where the chunk last handed to the tokener starts */

    if (size == 0) {
        http_respond_error(request, 400, "request body is empty; send a JSON object");
        return NULL;
    }

    /* Deeper than json-c's default of 32, so that the segment query compiler
     * (which allows 32 levels of query) reports the path of a deeper fault. */
    tokener = json_tokener_new_ex(64);
    if (tokener == NULL) {
        http_respond_error(request, 500, "out of memory");
        return NULL;
    }
    /* Standard JSON only (no trailing commas or single quotes), in UTF-8,
     * as the ingest API takes it. */
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    object = json_tokener_parse_ex(tokener, body, (int)size);
    error = json_tokener_get_error(tokener);
    /* A bare number at the very end is only complete once the tokener sees
     * a terminator; the body is NUL-terminated, so hand it that byte. */
    if (error == json_tokener_continue) {
        object = json_tokener_parse_ex(tokener, body + size, 1);
        error = json_tokener_get_error(tokener);
        offset = size;
        consumed = size;
    } else {
        consumed = json_tokener_get_parse_end(tokener);
    }
    if (error == json_tokener_continue) {
        http_respond_error(request, 400, "malformed JSON body: unexpected end of input");
        json_object_put(object);
        json_tokener_free(tokener);
        return NULL;
    }
    if (error != json_tokener_success) {
        http_respond_error(request, 400, "malformed JSON body at byte %zu: %s",
                           offset + json_tokener_get_parse_end(tokener),
                           json_tokener_error_desc(error));
        json_tokener_free(tokener);
        return NULL;
    }
    /* Anything after the document other than whitespace is an error too. */
    for (size_t at = consumed; at < size; at++) {
        if (body[at] != ' ' && body[at] != '\n' && body[at] != '\r' && body[at] != '\t') {
            http_respond_error(request, 400,
                               "malformed JSON body: unexpected data at byte %zu after the document",
                               at);
            json_object_put(object);
            json_tokener_free(tokener);
            return NULL;
        }
    }
    json_tokener_free(tokener);
    /* json-c represents a JSON null as a NULL object. */
    if (object == NULL)
        http_respond_error(request, 400, "request body must be a JSON object, got null");
    return object;
}
