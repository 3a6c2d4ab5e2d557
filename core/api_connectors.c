/* /api/v1/connectors: create, read, update, delete and test connectors. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "batch.h"
#include "connector.h"
#include "log.h"
#include "sample_message.h"
#include "service.h"
#include "sync.h"

#define ERROR_SIZE 2048

void api_connectors_list(service *svc, http_request *request, const char *param)
{
    json_object *body = json_object_new_object();
    json_object *list = json_object_new_array();

    (void)param;
    for (connector *c = connector_first(svc->connectors); c != NULL; c = c->next)
        json_object_array_add(list, connector_to_json(svc->connectors, c));
    json_object_object_add(body, "connectors", list);
    http_respond_json(request, 200, body);
}

void api_connectors_create(service *svc, http_request *request, const char *param)
{
    json_object *body = api_read_json_body(request);
    connector *created;
    char error[ERROR_SIZE];
    int status;

    (void)param;
    if (body == NULL)
        return;
    status = connector_create(svc->connectors, body, &created, error, sizeof(error));
    json_object_put(body);
    if (status != 0) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    http_respond_json(request, 201, connector_to_json(svc->connectors, created));
}

void api_connectors_get(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);

    if (c != NULL)
        http_respond_json(request, 200, connector_to_json(svc->connectors, c));
}

void api_connectors_update(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    json_object *body;
    char error[ERROR_SIZE];
    int status;

    if (c == NULL)
        return;
    body = api_read_json_body(request);
    if (body == NULL)
        return;
    status = connector_update(svc->connectors, c, body, error, sizeof(error));
    json_object_put(body);
    if (status != 0) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    http_respond_json(request, 200, connector_to_json(svc->connectors, c));
}

void api_connectors_delete(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    char error[ERROR_SIZE];
    char deleted_id[64];
    int status;

    if (c == NULL)
        return;
    snprintf(deleted_id, sizeof(deleted_id), "%s", c->id);
    status = connector_delete(svc->connectors, c, error, sizeof(error));
    if (status != 0) {
        http_respond_error(request, status, "%s", error);
        return;
    }
    sync_connector_removed(svc->sync, deleted_id);
    http_respond(request, 204, NULL, NULL, 0);
}

static json_object *result_to_json(const batch_result *result)
{
    json_object *object = json_object_new_object();

    json_object_object_add(object, "result",
                           json_object_new_string(batch_result_kind_name(result->kind)));
    json_object_object_add(object, "status_code", json_object_new_int(result->status_code));
    json_object_object_add(object, "retry_after_ms",
                           result->retry_after_ms >= 0
                               ? json_object_new_int64(result->retry_after_ms)
                               : NULL);
    json_object_object_add(object, "reason",
                           result->reason != NULL ? json_object_new_string(result->reason)
                                                  : NULL);
    return object;
}

static void on_test_done(wharf_batch *batch, void *user_data)
{
    http_request *request = user_data;
    json_object *body = json_object_new_object();
    json_object *results = json_object_new_array();

    for (size_t i = 0; i < batch_total(batch); i++) {
        const batch_result *result = batch_result_at(batch, i);
        json_object_array_add(results, result_to_json(result));
        log_info("connector %s: test message result %s%s%s", batch_connector_id(batch),
                 batch_result_kind_name(result->kind),
                 result->reason != NULL ? ": " : "",
                 result->reason != NULL ? result->reason : "");
    }
    json_object_object_add(body, "message", json_object_get(batch_message_at(batch, 0)));
    json_object_object_add(body, "results", results);
    batch_free(batch);
    http_respond_json(request, 200, body);
}

void api_connectors_test(service *svc, http_request *request, const char *id)
{
    connector *c = api_find_connector(svc, request, id);
    json_object *message;
    wharf_batch *batch;

    if (c == NULL)
        return;
    if (c->instance == NULL) {
        http_respond_error(request, 409, "connector %s is not running (%s): %s", c->id,
                           c->status == CONNECTOR_PLUGIN_MISSING ? "plugin_missing" : "error",
                           c->error != NULL ? c->error : "no instance");
        return;
    }

    message = sample_message_user();
    batch = batch_create(c->instance, &message, 1);
    json_object_put(message);
    if (batch == NULL) {
        http_respond_error(request, 500, "out of memory");
        return;
    }
    batch_run(batch, on_test_done, request);
}
