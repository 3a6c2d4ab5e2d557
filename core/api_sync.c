/* Manual batches and connector logs:
 *   POST /api/v1/connectors/{id}/batches, GET /api/v1/connectors/{id}/batches,
 *   GET /api/v1/batches/{id}, GET /api/v1/connectors/{id}/logs */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "connector.h"
#include "segments.h"
#include "service.h"
#include "sync.h"

#define ERROR_SIZE 2048
#define LOGS_DEFAULT_LIMIT 100
#define LOGS_MAX_LIMIT 1000

/* Append to error the next step for a batch target that names nothing:
 * operators often send a user's external_id or a segment's name where the
 * API takes an id, so look the value up that way. */
static void explain_missing_target(service *svc, json_object *body, char *error,
                                   size_t error_size)
{
    char hint[1024];
    size_t used = strlen(error);

    json_object_object_foreach(body, key, member) {
        const char *value = json_object_get_string(member);

        if (strcmp(key, "user_id") == 0 || strcmp(key, "account_id") == 0) {
            api_describe_entity_claims(svc, key[0] == 'u' ? STORE_USERS : STORE_ACCOUNTS, key,
                                       value, hint, sizeof(hint));
        } else if (strcmp(key, "segment_id") == 0) {
            const segment *named = segment_find_by_name(svc->segments, value, NULL);

            if (named != NULL)
                snprintf(hint, sizeof(hint),
                         "segment_id takes a segment id, and segment \"%s\" has id %s",
                         named->name, named->id);
            else
                snprintf(hint, sizeof(hint),
                         "segment_id takes a segment id; GET /api/v1/segments lists them");
        } else {
            continue;
        }
        snprintf(error + used, error_size - used, "; %s", hint);
        return;
    }
}

void api_batches_create(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    json_object *body;
    json_object *view = NULL;
    char error[ERROR_SIZE];
    int status;

    if (c == NULL)
        return;
    body = api_read_json_body(request);
    if (body == NULL)
        return;
    status = sync_batch_create(svc->sync, c, body, &view, error, sizeof(error));
    /* 404 comes only from a target id that names nothing, after the body
     * was found to have exactly one target. */
    if (status == 404 && view == NULL)
        explain_missing_target(svc, body, error, sizeof(error));
    json_object_put(body);
    if (view == NULL) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    if (status != 202)
        json_object_object_add(view, "error", json_object_new_string(error));
    http_respond_json(request, status, view);
}

void api_batches_list(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    json_object *body;

    if (c == NULL)
        return;
    body = json_object_new_object();
    json_object_object_add(body, "batches", sync_batch_list(svc->sync, c->id));
    http_respond_json(request, 200, body);
}

void api_batches_get(service *svc, http_request *request, const char *id)
{
    json_object *view = sync_batch_view(svc->sync, id);

    if (view == NULL) {
        http_respond_error(request, 404, "batch \"%s\" not found", id);
        return;
    }
    http_respond_json(request, 200, view);
}

/* Parse an ISO 8601 UTC time such as 2026-12-04T20:00:00Z (fraction and
 * "Z" optional) into epoch milliseconds. Returns -1 when malformed. */
static int64_t parse_since(const char *text)
{
    struct tm utc;
    int milliseconds = 0;
    int consumed = 0;

    memset(&utc, 0, sizeof(utc));
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
               &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6)
        return -1;
    text += consumed;
    if (*text == '.') {
        int digits = 0;
        text++;
        while (*text >= '0' && *text <= '9') {
            if (digits < 3) {
                milliseconds = milliseconds * 10 + (*text - '0');
                digits++;
            }
            text++;
        }
        while (digits++ < 3)
            milliseconds *= 10;
    }
    if (*text == 'Z')
        text++;
    if (*text != '\0')
        return -1;
    if (utc.tm_mon < 1 || utc.tm_mon > 12 || utc.tm_mday < 1 || utc.tm_hour > 23 ||
        utc.tm_min > 59 || utc.tm_sec > 60 || utc.tm_hour < 0 || utc.tm_min < 0 || utc.tm_sec < 0)
        return -1;
    {
        struct tm check;
        time_t seconds;
        int day = utc.tm_mday;

        utc.tm_year -= 1900;
        utc.tm_mon -= 1;
        seconds = timegm(&utc);
        /* timegm() rolls 30 February over into March; a changed day means
         * the date does not exist. */
        gmtime_r(&seconds, &check);
        if (check.tm_mday != day)
            return -1;
        return (int64_t)seconds * 1000 + milliseconds;
    }
}

void api_logs_read(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    char message[128];
    char user_id[64];
    char account_id[64];
    char batch_id[64];
    char since[64];
    char after[32];
    char limit_text[32];
    int has_message, has_user, has_account, has_batch, has_since, has_after, has_limit;
    int64_t since_ms = 0;
    int64_t after_sequence = -1; /* not given */
    unsigned long limit = LOGS_DEFAULT_LIMIT;
    char error[ERROR_SIZE];
    json_object *body;
    char *end;

    if (c == NULL)
        return;
    if ((has_message = api_query_value(request, "message", message, sizeof(message))) < 0 ||
        (has_user = api_query_value(request, "user_id", user_id, sizeof(user_id))) < 0 ||
        (has_account = api_query_value(request, "account_id", account_id, sizeof(account_id))) < 0 ||
        (has_batch = api_query_value(request, "batch_id", batch_id, sizeof(batch_id))) < 0 ||
        (has_since = api_query_value(request, "since", since, sizeof(since))) < 0 ||
        (has_after = api_query_value(request, "after", after, sizeof(after))) < 0 ||
        (has_limit = api_query_value(request, "limit", limit_text, sizeof(limit_text))) < 0)
        return;

    if (has_message && !sync_is_log_message(message)) {
        sync_list_log_messages(error, sizeof(error));
        http_respond_error(request, 400, "message \"%s\" is not a log message; use one of %s",
                           message, error);
        return;
    }
    if (has_since) {
        since_ms = parse_since(since);
        if (since_ms < 0) {
            http_respond_error(request, 400,
                               "since must be an ISO 8601 UTC time such as 2026-12-04T20:00:00Z, "
                               "got \"%s\"",
                               since);
            return;
        }
    }
    if (has_after) {
        after_sequence = strtoll(after, &end, 10);
        if (*end != '\0' || after[0] == '\0' || after_sequence < 0) {
            http_respond_error(request, 400, "after must be a log line sequence number, got \"%s\"",
                               after);
            return;
        }
    }
    if (has_limit) {
        limit = strtoul(limit_text, &end, 10);
        if (*end != '\0' || limit_text[0] == '\0' || limit == 0 || limit > LOGS_MAX_LIMIT) {
            http_respond_error(request, 400, "limit must be an integer from 1 to %d, got \"%s\"",
                               LOGS_MAX_LIMIT, limit_text);
            return;
        }
    }

    body = sync_logs_read(svc->sync, c->id, has_message ? message : NULL,
                          has_user ? user_id : NULL, has_account ? account_id : NULL,
                          has_batch ? batch_id : NULL, since_ms, after_sequence, (unsigned)limit,
                          error, sizeof(error));
    if (body == NULL) {
        http_respond_error(request, 500, "%s", error);
        return;
    }
    http_respond_json(request, 200, body);
}
