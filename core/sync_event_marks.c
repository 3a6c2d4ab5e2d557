/*
 * Events an automatic message carries: the user's events since the last
 * message to that connector. When a change with events is skipped for a
 * connector (the user is not in its whitelist, say), the connector's queue
 * remembers the sequence of the first such event. The next message to that
 * connector for the user then carries every event from there on, read from
 * the store, up to SYNC_PENDING_EVENTS_MAX of the newest.
 */
#include <json-c/json.h>
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
    if (range.first > 0 && index_map_put(&q->event_marks, update->index, range.first) != 0)
        log_error("connector %s: out of memory remembering unsent events of user %s",
                  connector_id, user_id);
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
