/*
 * send() for Salesforce. The messages without a result are grouped by the
 * sObject they become (Contact, Lead, Account). Each group fetches its
 * sObject's describe unless a fresh one is cached, builds one record per
 * message, and upserts the records in requests of at most 200. Every
 * response sets the results of its own messages; the last one to finish
 * completes the batch.
 */
#include "salesforce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/clock.h"
#include "wharf/sdk/http_result.h"
#include "wharf/sdk/retry_after.h"

#define REASON_SIZE 512

/* Per-record error codes that mean "try again later" rather than "this
 * record is wrong". */
static const char *const transient_record_errors[] = {
    "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"};

typedef struct send_state send_state;

/* The messages of one batch that become one sObject type. */
typedef struct object_group {
    send_state *state;
    salesforce_object object;
    size_t *indexes;
    size_t count;
} object_group;

/* One sObject Collections upsert. */
typedef struct upsert_request {
    object_group *group;
    size_t *indexes; /* batch indexes, in record order */
    size_t count;
    wharf_buffer body;
} upsert_request;

struct send_state {
    salesforce *sf;
    wharf_batch *batch;
    /* Groups and requests still running, plus one held by salesforce_send()
     * until it has started them all. */
    size_t outstanding;
    object_group groups[SALESFORCE_OBJECT_COUNT];
};

static void set_result(const send_state *state, size_t index, wharf_result_kind kind,
                       int status_code, int64_t retry_after_ms, const char *reason)
{
    const wharf_host *host = state->sf->host;

    if (!host->batch_has_result(state->batch, index))
        host->batch_set_result(state->batch, index, kind, status_code, retry_after_ms,
                               kind == WHARF_RESULT_SUCCESS ? NULL : reason);
}

static void set_results(const send_state *state, const size_t *indexes, size_t count,
                        wharf_result_kind kind, int status_code, int64_t retry_after_ms,
                        const char *reason)
{
    size_t i;

    for (i = 0; i < count; i++)
        set_result(state, indexes[i], kind, status_code, retry_after_ms, reason);
}

static void release(send_state *state)
{
    const wharf_host *host = state->sf->host;
    wharf_batch *batch = state->batch;
    size_t i;

    state->outstanding--;
    if (state->outstanding > 0)
        return;

    for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++)
        free(state->groups[i].indexes);
    free(state);
    /* batch_complete() may destroy the instance, so nothing is touched after it. */
    host->batch_complete(batch);
}

/* Result for a request that did not get an HTTP response from Salesforce:
 * a failed login, or a request wharfd could not start. */
static void set_login_results(const send_state *state, const size_t *indexes, size_t count,
                              const wharf_oauth_result *login)
{
    char reason[REASON_SIZE];
    wharf_result_kind kind = salesforce_login_failure(state->sf, login, reason, sizeof(reason));

    set_results(state, indexes, count, kind, login->status_code,
                kind == WHARF_RESULT_RETRY ? login->retry_after_ms : -1, reason);
}

/* Results for a whole request that Salesforce rejected with an error status. */
static void set_request_failure(const send_state *state, const size_t *indexes, size_t count,
                                const char *what, const wharf_http_response *response)
{
    const wharf_host *host = state->sf->host;
    wharf_http_result classified;
    char details[400];
    char reason[REASON_SIZE];

    wharf_http_result_from_response(host, response, &classified);
    if (response->error != WHARF_HTTP_OK)
        snprintf(details, sizeof(details), "%s", classified.reason);
    else
        salesforce_describe_error_body(response, details, sizeof(details));

    /* 403 REQUEST_LIMIT_EXCEEDED: the org's API request limit is used up
     * for now; 401 here means a new session was rejected too. */
    if (response->error == WHARF_HTTP_OK &&
        (response->status == 401 ||
         (response->status == 403 && strstr(response->body, "REQUEST_LIMIT_EXCEEDED") != NULL))) {
        const char *retry_after = host->http_response_header(response, "Retry-After");

        classified.kind = WHARF_RESULT_RETRY;
        if (retry_after == NULL ||
            wharf_retry_after_parse(retry_after, wharf_clock_now_ms(),
                                    &classified.retry_after_ms) != 0)
            classified.retry_after_ms = -1;
    }

    snprintf(reason, sizeof(reason), "%s: %s", what, details);
    host->log(state->sf->connector, WHARF_LOG_WARN, "%s (%zu messages)", reason, count);
    set_results(state, indexes, count, classified.kind, classified.status_code,
                classified.kind == WHARF_RESULT_RETRY ? classified.retry_after_ms : -1,
                reason);
}

static int is_transient_record_error(const char *code)
{
    size_t i;

    for (i = 0; i < sizeof(transient_record_errors) / sizeof(transient_record_errors[0]); i++) {
        if (strcmp(code, transient_record_errors[i]) == 0)
            return 1;
    }
    return 0;
}

/* Set the result of one record from its UpsertResult:
 * {"id", "success", "created", "errors": [{"statusCode", "message", "fields"}]}. */
static void set_record_result(const send_state *state, const object_group *group,
                              size_t index, json_object *item, int status_code)
{
    json_object *success = NULL;
    json_object *errors = NULL;
    json_object *first = NULL;
    json_object *code = NULL;
    json_object *message = NULL;
    json_object *fields = NULL;
    const char *sobject = state->sf->config.objects[group->object].sobject;
    const char *code_text;
    char field_list[160] = "";
    char reason[REASON_SIZE];

    json_object_object_get_ex(item, "success", &success);
    if (json_object_is_type(success, json_type_boolean) && json_object_get_boolean(success)) {
        set_result(state, index, WHARF_RESULT_SUCCESS, status_code, -1, NULL);
        return;
    }

    json_object_object_get_ex(item, "errors", &errors);
    if (json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0)
        first = json_object_array_get_idx(errors, 0);
    json_object_object_get_ex(first, "statusCode", &code);
    json_object_object_get_ex(first, "message", &message);
    json_object_object_get_ex(first, "fields", &fields);
    code_text = json_object_is_type(code, json_type_string) ? json_object_get_string(code)
                                                            : "UNKNOWN_ERROR";

    if (json_object_is_type(fields, json_type_array) && json_object_array_length(fields) > 0) {
        size_t count = json_object_array_length(fields);
        size_t used = (size_t)snprintf(field_list, sizeof(field_list), " (fields:");
        size_t i;

        for (i = 0; i < count && used < sizeof(field_list); i++)
            used += (size_t)snprintf(field_list + used, sizeof(field_list) - used, " %s",
                                     json_object_get_string(
                                         json_object_array_get_idx(fields, i)));
        if (used < sizeof(field_list))
            snprintf(field_list + used, sizeof(field_list) - used, ")");
    }

    snprintf(reason, sizeof(reason), "Salesforce rejected the %s record: %.64s: %.300s%s",
             sobject, code_text,
             json_object_is_type(message, json_type_string) ? json_object_get_string(message)
                                                            : "(no message)",
             field_list);
    set_result(state, index,
               is_transient_record_error(code_text) ? WHARF_RESULT_RETRY : WHARF_RESULT_ERROR,
               status_code, -1, reason);
}

static void upsert_request_free(upsert_request *request)
{
    wharf_buffer_free(&request->body);
    free(request->indexes);
    free(request);
}

static void upsert_done(void *user_data, const salesforce_api_response *response)
{
    upsert_request *request = user_data;
    object_group *group = request->group;
    send_state *state = group->state;
    const wharf_http_response *http = response->http;
    const char *sobject = state->sf->config.objects[group->object].sobject;
    json_object *results;
    char what[64];
    size_t i;

    snprintf(what, sizeof(what), "upsert of %s records failed", sobject);
    if (http == NULL) {
        set_login_results(state, request->indexes, request->count, response->login);
    } else if (http->error != WHARF_HTTP_OK || http->status != 200) {
        set_request_failure(state, request->indexes, request->count, what, http);
    } else {
        results = json_tokener_parse(http->body);
        if (!json_object_is_type(results, json_type_array) ||
            json_object_array_length(results) != request->count) {
            char reason[REASON_SIZE];

            snprintf(reason, sizeof(reason),
                     "Salesforce returned HTTP 200 for the %s upsert of %zu records, but "
                     "not one result per record: %.200s",
                     sobject, request->count, http->body);
            set_results(state, request->indexes, request->count, WHARF_RESULT_RETRY, 200, -1,
                        reason);
        } else {
            for (i = 0; i < request->count; i++)
                set_record_result(state, group, request->indexes[i],
                                  json_object_array_get_idx(results, i), 200);
        }
        if (results != NULL)
            json_object_put(results);
    }

    state->sf->host->log(state->sf->connector, WHARF_LOG_DEBUG,
                         "upsert of %zu %s records finished", request->count, sobject);
    upsert_request_free(request);
    release(state);
}

static void start_upsert(object_group *group, upsert_request *request)
{
    send_state *state = group->state;
    salesforce *sf = state->sf;
    const salesforce_object_config *config = &sf->config.objects[group->object];
    char path[256];
    int rc;

    rc = wharf_buffer_append_string(&request->body, "]}");
    snprintf(path, sizeof(path), "/services/data/%s/composite/sobjects/%s/%s",
             sf->config.api_version, config->sobject, config->external_id_field);

    state->outstanding++;
    if (rc == 0)
        rc = salesforce_api_request(sf, "PATCH", path, request->body.data,
                                    request->body.length, upsert_done, request);
    if (rc == 0)
        return;

    state->outstanding--;
    set_results(state, request->indexes, request->count, WHARF_RESULT_RETRY, 0, -1,
                rc == -ENOMEM ? "out of memory while starting the upsert"
                              : "wharfd could not start the upsert request");
    upsert_request_free(request);
}

static upsert_request *new_upsert(object_group *group)
{
    upsert_request *request = calloc(1, sizeof(*request));

    if (request == NULL)
        return NULL;
    request->group = group;
    request->indexes = calloc(SALESFORCE_RECORDS_PER_REQUEST, sizeof(*request->indexes));
    if (request->indexes == NULL ||
        wharf_buffer_append_string(&request->body, "{\"allOrNone\":false,\"records\":[") != 0) {
        upsert_request_free(request);
        return NULL;
    }
    return request;
}

/* Build the records of a group whose describe is cached and upsert them. */
static void upsert_group(object_group *group)
{
    send_state *state = group->state;
    const salesforce *sf = state->sf;
    const wharf_host *host = sf->host;
    upsert_request *request = NULL;
    char reason[REASON_SIZE];
    size_t i;

    if (salesforce_check_external_id(sf, group->object, reason, sizeof(reason)) != 0) {
        set_results(state, group->indexes, group->count, WHARF_RESULT_ERROR, 0, -1, reason);
        return;
    }

    for (i = 0; i < group->count; i++) {
        size_t index = group->indexes[i];
        const struct json_object *message = host->batch_message(state->batch, index);
        int rc;

        if (request == NULL) {
            request = new_upsert(group);
            if (request == NULL) {
                set_results(state, group->indexes + i, group->count - i, WHARF_RESULT_RETRY,
                            0, -1, "out of memory while building the upsert");
                return;
            }
        }

        rc = request->count > 0 ? wharf_buffer_append_char(&request->body, ',') : 0;
        if (rc == 0) {
            rc = salesforce_record_append(sf, group->object, message, &request->body, reason,
                                          sizeof(reason));
            /* Drop the comma written for a record that was not appended. */
            if (rc != 0 && request->count > 0) {
                request->body.length--;
                request->body.data[request->body.length] = '\0';
            }
        }
        if (rc == -ENOMEM) {
            set_result(state, index, WHARF_RESULT_RETRY, 0, -1,
                       "out of memory while building the record");
            continue;
        }
        if (rc != 0) {
            set_result(state, index, (wharf_result_kind)rc, 0, -1, reason);
            continue;
        }

        request->indexes[request->count++] = index;
        if (request->count == SALESFORCE_RECORDS_PER_REQUEST) {
            start_upsert(group, request);
            request = NULL;
        }
    }

    if (request != NULL && request->count > 0)
        start_upsert(group, request);
    else if (request != NULL)
        upsert_request_free(request);
}

static void describe_done(void *user_data, const salesforce_api_response *response)
{
    object_group *group = user_data;
    send_state *state = group->state;
    const wharf_http_response *http = response->http;
    const char *sobject = state->sf->config.objects[group->object].sobject;
    char what[96];

    snprintf(what, sizeof(what), "reading the fields of %s (describe) failed", sobject);
    if (http == NULL) {
        set_login_results(state, group->indexes, group->count, response->login);
    } else if (http->error != WHARF_HTTP_OK || http->status != 200) {
        set_request_failure(state, group->indexes, group->count, what, http);
    } else {
        int rc = salesforce_describe_store(state->sf, group->object, http->body);

        if (rc == 0) {
            upsert_group(group);
        } else {
            char reason[REASON_SIZE];

            snprintf(reason, sizeof(reason),
                     "%s: %s", what,
                     rc == -ENOMEM ? "out of memory" : "the response has no \"fields\" array");
            set_results(state, group->indexes, group->count, WHARF_RESULT_RETRY, 200, -1,
                        reason);
        }
    }
    release(state);
}

static void start_group(object_group *group)
{
    send_state *state = group->state;
    salesforce *sf = state->sf;
    char path[256];
    int rc;

    if (salesforce_describe_is_fresh(sf, group->object)) {
        upsert_group(group);
        return;
    }

    snprintf(path, sizeof(path), "/services/data/%s/sobjects/%s/describe",
             sf->config.api_version, sf->config.objects[group->object].sobject);
    state->outstanding++;
    rc = salesforce_api_request(sf, "GET", path, NULL, 0, describe_done, group);
    if (rc == 0)
        return;
    state->outstanding--;
    set_results(state, group->indexes, group->count, WHARF_RESULT_RETRY, 0, -1,
                rc == -ENOMEM ? "out of memory while starting the describe request"
                              : "wharfd could not start the describe request");
}

/* Sort the messages without a result into groups by sObject. */
static int group_messages(send_state *state)
{
    const salesforce *sf = state->sf;
    const wharf_host *host = sf->host;
    size_t count = host->batch_count(state->batch);
    char reason[REASON_SIZE];
    size_t i;

    for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++) {
        state->groups[i].state = state;
        state->groups[i].object = (salesforce_object)i;
        state->groups[i].indexes = calloc(count > 0 ? count : 1, sizeof(size_t));
        if (state->groups[i].indexes == NULL)
            return -ENOMEM;
    }

    for (i = 0; i < count; i++) {
        salesforce_object object;

        if (host->batch_has_result(state->batch, i))
            continue;
        /* filter() has decided already under wharfd; this covers a host
         * that calls send() without it. */
        if (salesforce_classify(&sf->config, host->batch_message(state->batch, i), &object,
                                reason, sizeof(reason)) != 0) {
            host->batch_set_result(state->batch, i, WHARF_RESULT_SKIP, 0, -1, reason);
            continue;
        }
        state->groups[object].indexes[state->groups[object].count++] = i;
    }
    return 0;
}

void salesforce_send(void *instance, wharf_batch *batch)
{
    salesforce *sf = instance;
    const wharf_host *host = sf->host;
    send_state *state = calloc(1, sizeof(*state));
    int rc = -ENOMEM;
    size_t i;

    if (state != NULL) {
        state->sf = sf;
        state->batch = batch;
        rc = group_messages(state);
    }
    if (rc != 0) {
        size_t count = host->batch_count(batch);

        host->log(sf->connector, WHARF_LOG_ERROR,
                  "out of memory while sending a batch of %zu messages; they will be retried",
                  count);
        for (i = 0; i < count; i++) {
            if (!host->batch_has_result(batch, i))
                host->batch_set_result(batch, i, WHARF_RESULT_RETRY, 0, -1,
                                       "out of memory while grouping the messages");
        }
        if (state != NULL) {
            for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++)
                free(state->groups[i].indexes);
            free(state);
        }
        host->batch_complete(batch);
        return;
    }

    state->outstanding = 1;
    for (i = 0; i < SALESFORCE_OBJECT_COUNT; i++) {
        if (state->groups[i].count > 0)
            start_group(&state->groups[i]);
    }
    release(state);
}
