/*
 * send() for HubSpot, in two steps. First it fetches the property
 * definitions that the mappings need and that are not cached. Then it
 * writes the batch upsert inputs, at most batch_size per request, starts
 * every request at once (wharfd queues them behind the connector's
 * connection limit) and sets each message's result from the response. The
 * last request to finish completes the batch.
 */
#include "hubspot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/buffer.h"
#include "wharf/sdk/clock.h"
#include "wharf/sdk/record_requests.h"
#include "wharf/sdk/record_response.h"

/* Maximum bytes of a property definition list. Portals with many custom
 * properties return long lists; 16 MiB is an estimate with room to spare. */
#define HUBSPOT_CATALOG_RESPONSE_MAX (16u * 1024u * 1024u)

/* A 2xx (200 or 207 Multi-Status) lists failed inputs under "errors", each
 * with its own category. */
static const wharf_record_response_format multi_status_format = {
    "results", "objectWriteTraceId", "errors", "context.objectWriteTraceId", "category",
    "message"};

/* A 400 rejects the whole request; "errors" names the inputs at fault,
 * each with a code such as INVALID_EMAIL. */
static const wharf_record_response_format rejected_format = {
    NULL, NULL, "errors", "context.objectWriteTraceId", "code", "message"};

typedef struct hubspot_send_state hubspot_send_state;

typedef struct hubspot_request {
    hubspot_send_state *state;
    hubspot_object object;
    wharf_record_request *records;
} hubspot_request;

typedef struct hubspot_fetch {
    hubspot_send_state *state;
    hubspot_object object;
} hubspot_fetch;

struct hubspot_send_state {
    hubspot *plugin;
    wharf_batch *batch;
    size_t *indexes[HUBSPOT_OBJECT_COUNT];
    size_t counts[HUBSPOT_OBJECT_COUNT];
    hubspot_fetch fetches[HUBSPOT_OBJECT_COUNT];
    wharf_record_requests built[HUBSPOT_OBJECT_COUNT];
    hubspot_request *requests;
    size_t request_count;
    /* Requests started and not finished, plus one that the current step
     * holds while it starts them, so the batch cannot complete meanwhile. */
    size_t outstanding;
    int sending; /* 0 while fetching definitions, 1 once upserts started */
};

static void set_object_results(hubspot_send_state *state, hubspot_object object,
                               wharf_result_kind kind, int status, int64_t retry_after_ms,
                               const char *reason)
{
    const wharf_host *host = state->plugin->host;

    for (size_t i = 0; i < state->counts[object]; i++) {
        size_t index = state->indexes[object][i];

        if (!host->batch_has_result(state->batch, index))
            host->batch_set_result(state->batch, index, kind, status, retry_after_ms, reason);
    }
}

static void state_free(hubspot_send_state *state)
{
    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++) {
        free(state->indexes[object]);
        wharf_record_requests_free(&state->built[object]);
    }
    free(state->requests);
    free(state);
}

static void start_upserts(hubspot_send_state *state);

/* Drop one hold; the last one either starts the upserts (after the
 * definitions arrived) or completes the batch. */
static void release(hubspot_send_state *state)
{
    const wharf_host *host = state->plugin->host;
    wharf_batch *batch = state->batch;

    state->outstanding--;
    if (state->outstanding > 0)
        return;

    if (!state->sending) {
        start_upserts(state);
        return;
    }
    /* batch_complete() may free the batch, so nothing of it is used after. */
    state_free(state);
    host->batch_complete(batch);
}

/* ---- per-record outcomes ---------------------------------------------- */

/* Keys the inputs of a request carry as objectWriteTraceId. */
static char **trace_keys(const wharf_record_request *records)
{
    char **keys = calloc(records->count > 0 ? records->count : 1, sizeof(*keys));

    for (size_t i = 0; keys != NULL && i < records->count; i++) {
        if (asprintf(&keys[i], "%zu", records->indexes[i]) < 0) {
            keys[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(keys[j]);
            free(keys);
            return NULL;
        }
    }
    return keys;
}

static void free_keys(char **keys, size_t count)
{
    for (size_t i = 0; keys != NULL && i < count; i++)
        free(keys[i]);
    free(keys);
}

static wharf_result_kind kind_for_category(const char *category)
{
    return strcmp(category, "RATE_LIMITS") == 0 ? WHARF_RESULT_RETRY : WHARF_RESULT_ERROR;
}

static void record_failure_reason(const wharf_record_outcome *outcome, char *reason,
                                  size_t reason_size)
{
    snprintf(reason, reason_size, "HubSpot rejected the record: %s: %s",
             outcome->code[0] != '\0' ? outcome->code : "no category",
             outcome->message[0] != '\0' ? outcome->message : "no message");
}

/* Set the results of one request's records from a 2xx or a 400 body.
 * Returns -EINVAL when the body names no record, so the caller falls back
 * to one result for every record. */
static int apply_record_outcomes(hubspot_request *request, const wharf_http_response *response)
{
    hubspot_send_state *state = request->state;
    const wharf_host *host = state->plugin->host;
    const wharf_record_request *records = request->records;
    int rejected = response->status < 200 || response->status > 299;
    wharf_record_outcome *outcomes = calloc(records->count, sizeof(*outcomes));
    char **keys = trace_keys(records);
    size_t failed = 0;
    char reason[512];
    int rc = -ENOMEM;

    if (outcomes != NULL && keys != NULL)
        rc = wharf_record_response_parse(response->body, response->body_size,
                                         rejected ? &rejected_format : &multi_status_format,
                                         (const char *const *)keys, records->count, outcomes,
                                         NULL, reason, sizeof(reason));
    for (size_t i = 0; rc == 0 && i < records->count; i++)
        failed += outcomes[i].state == WHARF_RECORD_FAILED;
    if (rc == 0 && rejected && failed == 0)
        rc = -EINVAL;

    for (size_t i = 0; rc == 0 && i < records->count; i++) {
        size_t index = records->indexes[i];

        if (outcomes[i].state == WHARF_RECORD_FAILED) {
            record_failure_reason(&outcomes[i], reason, sizeof(reason));
            host->batch_set_result(state->batch, index, kind_for_category(outcomes[i].code),
                                   (int)response->status, -1, reason);
        } else if (rejected) {
            /* HubSpot wrote nothing of this request; without the faulty
             * inputs it goes through, so send these again at once. */
            host->batch_set_result(state->batch, index, WHARF_RESULT_RETRY,
                                   (int)response->status, 0,
                                   "not written because HubSpot rejected other records of "
                                   "the same request; sent again without them");
        } else {
            host->batch_set_result(state->batch, index, WHARF_RESULT_SUCCESS,
                                   (int)response->status, -1, NULL);
        }
    }

    free(outcomes);
    free_keys(keys, records->count);
    return rc;
}

static void set_request_results(hubspot_request *request, const hubspot_outcome *outcome)
{
    const wharf_host *host = request->state->plugin->host;

    for (size_t i = 0; i < request->records->count; i++)
        host->batch_set_result(request->state->batch, request->records->indexes[i],
                               outcome->kind, outcome->status_code, outcome->retry_after_ms,
                               outcome->kind == WHARF_RESULT_SUCCESS ? NULL : outcome->reason);
}

static void upsert_done(void *user_data, const wharf_http_response *response)
{
    hubspot_request *request = user_data;
    hubspot *plugin = request->state->plugin;
    hubspot_outcome outcome;
    int per_record = response->error == WHARF_HTTP_OK &&
                     ((response->status >= 200 && response->status <= 299) ||
                      response->status == 400);

    if (per_record && apply_record_outcomes(request, response) == 0)
        goto out;

    if (response->error == WHARF_HTTP_OK && response->status >= 200 && response->status <= 299) {
        /* A success whose body cannot be read still means HubSpot took it. */
        plugin->host->log(plugin->connector, WHARF_LOG_WARN,
                          "HubSpot answered HTTP %ld to an upsert of %zu %s with a body that "
                          "names no record; counting every record as written",
                          response->status, request->records->count,
                          hubspot_object_path(request->object));
        outcome.kind = WHARF_RESULT_SUCCESS;
        outcome.status_code = (int)response->status;
        outcome.retry_after_ms = -1;
        outcome.reason[0] = '\0';
    } else {
        hubspot_classify_failure(plugin, response, &outcome);
    }
    set_request_results(request, &outcome);

out:
    plugin->host->log(plugin->connector, WHARF_LOG_DEBUG,
                      "upsert of %zu %s finished in %.3f s with HTTP %ld",
                      request->records->count, hubspot_object_path(request->object),
                      response->total_seconds, response->status);
    release(request->state);
}

/* ---- upserts ------------------------------------------------------------ */

static int build_requests(hubspot_send_state *state)
{
    hubspot *plugin = state->plugin;
    const wharf_host *host = plugin->host;
    wharf_record_format format = {"{\"inputs\":[", "]}", plugin->config.batch_size, 0};
    static const wharf_record_write_fn writers[HUBSPOT_OBJECT_COUNT] = {
        hubspot_write_contact, hubspot_write_company};
    size_t total = 0;
    size_t next = 0;
    int rc;

    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++) {
        rc = wharf_record_requests_build(host, state->batch, state->indexes[object],
                                         state->counts[object], &format, writers[object],
                                         plugin, &state->built[object]);
        if (rc != 0)
            return rc;
        total += state->built[object].count;
    }

    state->requests = calloc(total > 0 ? total : 1, sizeof(*state->requests));
    if (state->requests == NULL)
        return -ENOMEM;
    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++) {
        for (size_t i = 0; i < state->built[object].count; i++) {
            hubspot_request *request = &state->requests[next++];

            request->state = state;
            request->object = (hubspot_object)object;
            request->records = &state->built[object].requests[i];
        }
    }
    state->request_count = total;
    return 0;
}

static void start_upsert(hubspot_request *request)
{
    hubspot *plugin = request->state->plugin;
    wharf_http_request http = {0};
    hubspot_outcome outcome;
    char *url = NULL;
    int rc;

    if (asprintf(&url, "%s/crm/v3/objects/%s/batch/upsert", plugin->config.base_url,
                 hubspot_object_path(request->object)) < 0) {
        url = NULL;
        rc = -ENOMEM;
    } else {
        http.struct_size = sizeof(http);
        http.method = "POST";
        http.url = url;
        http.headers = plugin->config.headers;
        http.header_count = plugin->config.header_count;
        http.body = request->records->body.data;
        http.body_size = request->records->body.length;
        http.timeout_ms = plugin->config.timeout_ms;

        request->state->outstanding++;
        rc = plugin->host->http_request(plugin->connector, &http, upsert_done, request);
        if (rc != 0)
            request->state->outstanding--;
    }
    free(url);
    if (rc == 0)
        return;

    outcome.kind = rc == -EINVAL ? WHARF_RESULT_ERROR : WHARF_RESULT_RETRY;
    outcome.status_code = 0;
    outcome.retry_after_ms = -1;
    snprintf(outcome.reason, sizeof(outcome.reason),
             rc == -EINVAL ? "wharfd rejected the request as invalid; check setting \"base_url\""
                           : "wharfd could not start the request (error %d)",
             rc);
    set_request_results(request, &outcome);
}

static void start_upserts(hubspot_send_state *state)
{
    const wharf_host *host = state->plugin->host;

    state->sending = 1;
    state->outstanding = 1;

    if (build_requests(state) != 0) {
        host->log(state->plugin->connector, WHARF_LOG_ERROR,
                  "out of memory while writing a batch of %zu messages; they will be retried",
                  host->batch_count(state->batch));
        for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++)
            set_object_results(state, (hubspot_object)object, WHARF_RESULT_RETRY, 0, -1,
                               "out of memory while writing the request body");
        state->request_count = 0;
    }
    for (size_t i = 0; i < state->request_count; i++)
        start_upsert(&state->requests[i]);
    release(state);
}

/* ---- property definitions ---------------------------------------------- */

static void fetch_done(void *user_data, const wharf_http_response *response)
{
    hubspot_fetch *fetch = user_data;
    hubspot_send_state *state = fetch->state;
    hubspot *plugin = state->plugin;
    hubspot_outcome outcome;
    char reason[sizeof(outcome.reason) + 64];

    if (response->error == WHARF_HTTP_OK && response->status == 200) {
        if (hubspot_catalog_update(plugin, fetch->object, response->body, response->body_size,
                                   reason, sizeof(reason)) != 0)
            set_object_results(state, fetch->object, WHARF_RESULT_RETRY, 200, -1, reason);
    } else {
        hubspot_classify_failure(plugin, response, &outcome);
        snprintf(reason, sizeof(reason), "reading HubSpot's %s properties failed: %s",
                 hubspot_object_path(fetch->object), outcome.reason);
        plugin->host->log(plugin->connector, WHARF_LOG_WARN, "%s", reason);
        set_object_results(state, fetch->object, outcome.kind, outcome.status_code,
                           outcome.retry_after_ms, reason);
    }
    release(state);
}

static void start_fetch(hubspot_send_state *state, hubspot_object object)
{
    hubspot *plugin = state->plugin;
    hubspot_fetch *fetch = &state->fetches[object];
    wharf_http_request http = {0};
    char *url = NULL;
    int rc;

    fetch->state = state;
    fetch->object = object;
    if (asprintf(&url, "%s/crm/v3/properties/%s", plugin->config.base_url,
                 hubspot_object_path(object)) < 0) {
        set_object_results(state, object, WHARF_RESULT_RETRY, 0, -1,
                           "out of memory while starting the request");
        return;
    }
    http.struct_size = sizeof(http);
    http.method = "GET";
    http.url = url;
    http.headers = plugin->config.headers;
    http.header_count = plugin->config.header_count;
    http.timeout_ms = plugin->config.timeout_ms;
    http.max_response_size = HUBSPOT_CATALOG_RESPONSE_MAX;

    state->outstanding++;
    rc = plugin->host->http_request(plugin->connector, &http, fetch_done, fetch);
    free(url);
    if (rc == 0)
        return;
    state->outstanding--;
    set_object_results(state, object, rc == -EINVAL ? WHARF_RESULT_ERROR : WHARF_RESULT_RETRY,
                       0, -1,
                       rc == -EINVAL ? "wharfd rejected the request as invalid; check setting "
                                       "\"base_url\""
                                     : "wharfd could not start the request");
}

/* ---- send ----------------------------------------------------------------- */

/* Sort the messages without a result into contacts and companies. */
static int sort_messages(hubspot_send_state *state)
{
    const wharf_host *host = state->plugin->host;
    size_t count = host->batch_count(state->batch);

    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++) {
        state->indexes[object] = malloc((count > 0 ? count : 1) * sizeof(size_t));
        if (state->indexes[object] == NULL)
            return -ENOMEM;
    }
    for (size_t index = 0; index < count; index++) {
        struct json_object *type = NULL;
        const char *name;

        if (host->batch_has_result(state->batch, index))
            continue;
        json_object_object_get_ex(host->batch_message(state->batch, index), "type", &type);
        name = type != NULL ? json_object_get_string(type) : "";
        if (strcmp(name, "user") == 0)
            state->indexes[HUBSPOT_CONTACTS][state->counts[HUBSPOT_CONTACTS]++] = index;
        else if (strcmp(name, "account") == 0)
            state->indexes[HUBSPOT_COMPANIES][state->counts[HUBSPOT_COMPANIES]++] = index;
        else
            host->batch_set_result(state->batch, index, WHARF_RESULT_ERROR, 0, -1,
                                   "message type is neither user nor account");
    }
    return 0;
}

void hubspot_send(void *instance, wharf_batch *batch)
{
    hubspot *plugin = instance;
    const wharf_host *host = plugin->host;
    hubspot_send_state *state = calloc(1, sizeof(*state));
    int64_t now_ms = wharf_clock_now_ms();

    if (state != NULL) {
        state->plugin = plugin;
        state->batch = batch;
    }
    if (state == NULL || sort_messages(state) != 0) {
        host->log(plugin->connector, WHARF_LOG_ERROR,
                  "out of memory while sending a batch of %zu messages; they will be retried",
                  host->batch_count(batch));
        for (size_t i = 0; i < host->batch_count(batch); i++) {
            if (!host->batch_has_result(batch, i))
                host->batch_set_result(batch, i, WHARF_RESULT_RETRY, 0, -1,
                                       "out of memory while starting the requests");
        }
        if (state != NULL)
            state_free(state);
        host->batch_complete(batch);
        return;
    }

    state->outstanding = 1;
    for (int object = 0; object < HUBSPOT_OBJECT_COUNT; object++) {
        if (state->counts[object] > 0 &&
            hubspot_catalog_needed(plugin, (hubspot_object)object, now_ms))
            start_fetch(state, (hubspot_object)object);
    }
    release(state);
}
