/* Delivery state for operators:
 *   GET /api/v1/connectors/{id}/dead-letters,
 *   POST /api/v1/connectors/{id}/dead-letters/resend, GET /metrics */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "connector.h"
#include "service.h"
#include "sync.h"

#define ERROR_SIZE 1024
#define DEAD_LETTERS_DEFAULT_LIMIT 100
#define DEAD_LETTERS_MAX_LIMIT 1000
#define RESEND_MAX_IDS 10000

void api_dead_letters_list(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    char after_text[32];
    char limit_text[32];
    long long after = 0;
    unsigned long limit = DEAD_LETTERS_DEFAULT_LIMIT;
    char error[ERROR_SIZE];
    json_object *body;
    char *end;
    int has_after;
    int has_limit;

    if (c == NULL)
        return;
    if ((has_after = api_query_value(request, "after", after_text, sizeof(after_text))) < 0 ||
        (has_limit = api_query_value(request, "limit", limit_text, sizeof(limit_text))) < 0)
        return;
    if (has_after) {
        after = strtoll(after_text, &end, 10);
        if (*end != '\0' || after_text[0] == '\0' || after < 0) {
            http_respond_error(request, 400,
                               "after must be a dead letter id (the next_after of the previous "
                               "page), got \"%s\"",
                               after_text);
            return;
        }
    }
    if (has_limit) {
        limit = strtoul(limit_text, &end, 10);
        if (*end != '\0' || limit_text[0] == '\0' || limit == 0 ||
            limit > DEAD_LETTERS_MAX_LIMIT) {
            http_respond_error(request, 400, "limit must be an integer from 1 to %d, got \"%s\"",
                               DEAD_LETTERS_MAX_LIMIT, limit_text);
            return;
        }
    }
    body = sync_dead_letters_list(svc->sync, c->id, after, (unsigned)limit, error, sizeof(error));
    if (body == NULL) {
        http_respond_error(request, 500, "%s", error);
        return;
    }
    http_respond_json(request, 200, body);
}

void api_dead_letters_resend(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    json_object *body;
    json_object *ids = NULL;
    int64_t *list = NULL;
    size_t count = 0;
    char error[ERROR_SIZE];
    int64_t revived;
    json_object *answer;

    if (c == NULL)
        return;
    body = api_read_json_body(request);
    if (body == NULL)
        return;
    if (!json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        http_respond_error(request, 400,
                           "request body must be a JSON object: {} for every dead letter, or "
                           "{\"ids\": [...]}");
        return;
    }
    json_object_object_foreach(body, key, member) {
        (void)member;
        if (strcmp(key, "ids") != 0) {
            http_respond_error(request, 400,
                               "unknown field \"%.64s\"; the body is {} for every dead letter, "
                               "or {\"ids\": [...]}",
                               key);
            json_object_put(body);
            return;
        }
    }
    if (json_object_object_get_ex(body, "ids", &ids)) {
        count = json_object_is_type(ids, json_type_array) ? json_object_array_length(ids) : 0;
        if (!json_object_is_type(ids, json_type_array) || count == 0 || count > RESEND_MAX_IDS) {
            json_object_put(body);
            http_respond_error(request, 400,
                               "\"ids\" must be a non-empty array of at most %d dead letter ids "
                               "(integers); leave it out to re-queue them all",
                               RESEND_MAX_IDS);
            return;
        }
        list = calloc(count, sizeof(*list));
        if (list == NULL) {
            json_object_put(body);
            http_respond_error(request, 500, "out of memory");
            return;
        }
        for (size_t i = 0; i < count; i++) {
            json_object *item = json_object_array_get_idx(ids, i);
            if (!json_object_is_type(item, json_type_int) || json_object_get_int64(item) <= 0) {
                http_respond_error(request, 400,
                                   "\"ids\" item %zu must be a dead letter id (a positive "
                                   "integer), got %s",
                                   i, json_object_to_json_string(item));
                free(list);
                json_object_put(body);
                return;
            }
            list[i] = json_object_get_int64(item);
        }
    }
    json_object_put(body);

    revived = sync_dead_letters_resend(svc->sync, c->id, list, count, error, sizeof(error));
    free(list);
    if (revived < 0) {
        http_respond_error(request, revived == -2 ? 404 : 500, "%s", error);
        return;
    }
    answer = json_object_new_object();
    json_object_object_add(answer, "requeued", json_object_new_int64(revived));
    http_respond_json(request, 200, answer);
}

void api_metrics(service *svc, http_request *request, const char *param)
{
    char *text;

    (void)param;
    text = sync_metrics_text(svc->sync);
    if (text == NULL) {
        http_respond_error(request, 500, "out of memory building metrics");
        return;
    }
    http_respond(request, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}
