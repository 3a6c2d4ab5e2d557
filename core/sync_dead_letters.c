/* Dead letters: messages that failed for good, kept per connector until an
 * operator re-queues them. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "service.h"
#include "store.h"
#include "sync.h"
#include "sync_internal.h"

typedef struct list_context {
    json_object *items;
    int64_t last;
} list_context;

static int add_dead_letter(const store_delivery_row *row, void *user_data)
{
    list_context *context = user_data;
    json_object *item = json_object_new_object();
    json_object *message = json_tokener_parse(row->payload);
    char created[TIMESTAMP_TEXT_SIZE];

    timestamp_format_ms(row->created_ms, created);
    json_object_object_add(item, "id", json_object_new_int64(row->sequence));
    json_object_object_add(item, "type",
                           json_object_new_string(row->kind == STORE_USERS ? "user" : "account"));
    json_object_object_add(item, row->kind == STORE_USERS ? "user_id" : "account_id",
                           json_object_new_string(row->entity_id));
    json_object_object_add(item, "batch_id",
                           row->batch_id != NULL ? json_object_new_string(row->batch_id) : NULL);
    json_object_object_add(item, "attempts", json_object_new_int64(row->attempt));
    json_object_object_add(item, "reason",
                           row->reason != NULL ? json_object_new_string(row->reason) : NULL);
    json_object_object_add(item, "created_at", json_object_new_string(created));
    json_object_object_add(item, "message", message);
    json_object_array_add(context->items, item);
    context->last = row->sequence;
    return 0;
}

json_object *sync_dead_letters_list(sync_engine *engine, const char *connector_id, int64_t after,
                                    unsigned limit, char *error, size_t error_size)
{
    store *st = engine->service->store;
    list_context context = {json_object_new_array(), 0};
    json_object *body;

    if (st->ops->delivery_each(st, connector_id, 1, after, limit, add_dead_letter, &context) != 0) {
        snprintf(error, error_size, "cannot read dead letters: %s", store_error(st));
        json_object_put(context.items);
        return NULL;
    }
    body = json_object_new_object();
    json_object_object_add(body, "dead_letters", context.items);
    /* Pass as after= for the next page; null on the last one. */
    json_object_object_add(body, "next_after",
                           json_object_array_length(context.items) == limit && limit > 0
                               ? json_object_new_int64(context.last)
                               : NULL);
    return body;
}

int64_t sync_dead_letters_resend(sync_engine *engine, const char *connector_id,
                                 const int64_t *ids, size_t count, char *error,
                                 size_t error_size)
{
    store *st = engine->service->store;
    int64_t revived = 0;
    int64_t *missing = count > 0 ? calloc(count, sizeof(*missing)) : NULL;
    size_t missing_count = 0;
    sync_queue *q;
    int rc;

    if (count > 0 && missing == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    /* Re-queued rows get new sequences, so they go after what is queued. */
    rc = st->ops->begin(st);
    if (rc == 0)
        rc = st->ops->delivery_revive(st, connector_id, ids, count, &revived, missing,
                                      &missing_count);
    if (rc == 0 && missing_count > 0) {
        /* All or nothing: name the ids that are not there. */
        size_t used = (size_t)snprintf(error, error_size, "dead letter%s ",
                                       missing_count > 1 ? "s" : "");
        for (size_t i = 0; i < missing_count && i < 10 && used < error_size; i++)
            used += (size_t)snprintf(error + used, error_size - used, "%s%lld", i > 0 ? ", " : "",
                                     (long long)missing[i]);
        if (used < error_size)
            snprintf(error + used, error_size - used,
                     "%s not found for connector %s, so nothing was re-queued; list them with "
                     "GET /api/v1/connectors/%s/dead-letters",
                     missing_count > 10 ? " and more" : "", connector_id, connector_id);
        st->ops->rollback(st);
        free(missing);
        return -2;
    }
    free(missing);
    if (rc == 0)
        rc = st->ops->commit(st);
    else
        st->ops->rollback(st);
    if (rc != 0) {
        snprintf(error, error_size, "cannot re-queue dead letters: %s", store_error(st));
        return -1;
    }
    q = sync_queue_of(engine, connector_id);
    if (q != NULL) {
        q->stored_dead -= revived;
        q->stored_queued += revived;
    }
    if (q != NULL && revived > 0) {
        q->spilled = 1;
        sync_pump(engine, q);
    }
    return revived;
}
