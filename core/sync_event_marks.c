/*
 * Events an automatic message carries: the user's events since the last
 * message to that connector. When a change with events is skipped for a
 * connector (the user is not in its whitelist, say), the connector's queue
 * remembers the sequence of the first such event, in memory and in the
 * store, in the transaction of the change. The next message to that
 * connector for the user then carries every event from there on, read from
 * the store, up to SYNC_PENDING_EVENTS_MAX of the newest.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "ids.h"
#include "log.h"
#include "service.h"
#include "store.h"
#include "sync_internal.h"

typedef struct event_range {
    int64_t first; /* smallest sequence read */
    json_object *events; /* newest first */
} event_range;

static int note_sequence(const store_event_row *row, void *user_data)
{
    event_range *range = user_data;

    if (range->first == 0 || row->sequence < range->first)
        range->first = row->sequence;
    return 0;
}

static int add_event(const store_event_row *row, void *user_data)
{
    event_range *range = user_data;
    json_object *event = json_object_new_object();
    json_object *properties =
        row->properties_json != NULL ? json_tokener_parse(row->properties_json) : NULL;
    char timestamp[TIMESTAMP_TEXT_SIZE];

    timestamp_format_ms(row->timestamp_ms, timestamp);
    json_object_object_add(event, "event", json_object_new_string(row->event));
    json_object_object_add(event, "properties",
                           properties != NULL ? properties : json_object_new_object());
    json_object_object_add(event, "timestamp", json_object_new_string(timestamp));
    json_object_object_add(event, "message_id",
                           row->message_id != NULL ? json_object_new_string(row->message_id)
                                                   : NULL);
    json_object_array_add(range->events, event);
    return 0;
}

void sync_events_note_skip(sync_engine *engine, const char *connector_id,
                           const entity_update *update)
{
    store *st = engine->service->store;
    sync_queue *q;
    event_range range = {0, NULL};
    const char *user_id;

    if (update->kind != STORE_USERS || update->events_added == 0)
        return;
    q = sync_queue_of(engine, connector_id);
    if (q == NULL || index_map_has(&q->event_marks, update->index))
        return;
    user_id = entity_at(&engine->service->entities->users, update->index)->id;
    /* This change's events are the user's newest: they were stored in
     * this transaction. */
    if (st->ops->events_of_user_after(st, user_id, 0, update->events_added, 1, note_sequence,
                                      &range) != 0) {
        log_error("connector %s: cannot read the events of user %s: %s", connector_id, user_id,
                  store_error(st));
        return;
    }
    if (range.first == 0)
        return;
    if (index_map_put(&q->event_marks, update->index, range.first) != 0) {
        log_error("connector %s: out of memory remembering unsent events of user %s",
                  connector_id, user_id);
        return;
    }
    if (st->ops->defer_begin(st) != 0 ||
        st->ops->event_mark_set(st, connector_id, user_id, range.first) != 0)
        log_error("connector %s: cannot store the mark of unsent events of user %s: %s",
                  connector_id, user_id, store_error(st));
}

json_object *sync_events_pending(sync_engine *engine, const char *connector_id,
                                 const entity_update *update)
{
    store *st = engine->service->store;
    sync_queue *q = sync_queue_of(engine, connector_id);
    event_range range = {0, NULL};
    json_object *in_order;
    const char *user_id;
    int64_t first;
    size_t count;

    if (update->kind != STORE_USERS || q == NULL || !index_map_has(&q->event_marks, update->index))
        return NULL;
    first = index_map_get(&q->event_marks, update->index, 0);
    index_map_remove(&q->event_marks, update->index);
    user_id = entity_at(&engine->service->entities->users, update->index)->id;
    if (st->ops->defer_begin(st) != 0 ||
        st->ops->event_mark_delete(st, connector_id, user_id) != 0)
        log_error("connector %s: cannot delete the mark of unsent events of user %s: %s",
                  connector_id, user_id, store_error(st));
    range.events = json_object_new_array();
    if (st->ops->events_of_user_after(st, user_id, first - 1, SYNC_PENDING_EVENTS_MAX, 1,
                                      add_event, &range) != 0) {
        log_error("connector %s: cannot read the events of user %s: %s", connector_id, user_id,
                  store_error(st));
        json_object_put(range.events);
        return NULL;
    }
    /* Oldest first, as the events of a change are. */
    count = json_object_array_length(range.events);
    in_order = json_object_new_array_ext(count > 0 ? (int)count : 1);
    for (size_t i = count; i-- > 0;)
        json_object_array_add(in_order, json_object_get(json_object_array_get_idx(range.events, i)));
    json_object_put(range.events);
    return in_order;
}

void sync_events_forget(sync_queue *q)
{
    index_map_free(&q->event_marks);
}

/* Marks of users that no longer exist, deleted after the read. */
typedef struct stale_mark {
    char connector_id[ID_TEXT_SIZE];
    char user_id[ID_TEXT_SIZE];
} stale_mark;

typedef struct restore_context {
    sync_engine *engine;
    size_t restored;
    stale_mark *stale;
    size_t stale_count;
    size_t stale_capacity;
} restore_context;

static void note_stale(restore_context *context, const char *connector_id, const char *user_id)
{
    stale_mark *mark;

    if (context->stale_count == context->stale_capacity) {
        size_t capacity = context->stale_capacity == 0 ? 16 : context->stale_capacity * 2;
        stale_mark *grown = realloc(context->stale, capacity * sizeof(*grown));

        /* Out of memory only leaves the mark for the next start. */
        if (grown == NULL)
            return;
        context->stale = grown;
        context->stale_capacity = capacity;
    }
    mark = &context->stale[context->stale_count++];
    snprintf(mark->connector_id, sizeof(mark->connector_id), "%s", connector_id);
    snprintf(mark->user_id, sizeof(mark->user_id), "%s", user_id);
}

static int restore_mark(const char *connector_id, const char *user_id, int64_t first_sequence,
                        void *user_data)
{
    restore_context *context = user_data;
    sync_engine *engine = context->engine;
    uint32_t index = entities_find_by_id(&engine->service->entities->users, user_id);
    sync_queue *q;

    /* A user merged into another or deleted since: its events went with it. */
    if (index == ATTR_NO_ENTITY) {
        note_stale(context, connector_id, user_id);
        return 0;
    }
    q = sync_queue_of(engine, connector_id);
    if (q == NULL || index_map_put(&q->event_marks, index, first_sequence) != 0) {
        log_error("connector %s: out of memory restoring unsent events of user %s",
                  connector_id, user_id);
        return 0;
    }
    context->restored++;
    return 0;
}

void sync_events_restore(sync_engine *engine)
{
    store *st = engine->service->store;
    restore_context context = {engine, 0, NULL, 0, 0};

    if (st->ops->event_marks_each(st, restore_mark, &context) != 0)
        log_error("cannot read the marks of unsent events: %s", store_error(st));
    for (size_t i = 0; i < context.stale_count; i++) {
        if (st->ops->defer_begin(st) != 0 ||
            st->ops->event_mark_delete(st, context.stale[i].connector_id,
                                       context.stale[i].user_id) != 0)
            log_error("connector %s: cannot delete the mark of unsent events of user %s: %s",
                      context.stale[i].connector_id, context.stale[i].user_id, store_error(st));
    }
    if (context.restored > 0 || context.stale_count > 0)
        log_info("marks of unsent events for automatic messages: %zu restored, %zu of users "
                 "that no longer exist deleted",
                 context.restored, context.stale_count);
    free(context.stale);
}
