#include "sync.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#include "batch.h"
#include "connector.h"
#include "ids.h"
#include "log.h"
#include "message.h"
#include "plugin_loader.h"
#include "segments.h"
#include "service.h"
#include "sync_internal.h"

#define PURGE_INTERVAL_MS (60 * 60 * 1000)

int64_t sync_now_ms(void)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
}

/* data as JSON text in the engine's scratch buffer, valid until the next
 * call. Keys come in this order: attempt, status_code, reason,
 * retry_in_ms. */
static const char *data_text(sync_engine *engine, const line_data *data)
{
    message_text *text = &engine->data_text;
    int first = 1;

    text->length = 0;
    message_text_append(text, "{", 1);
    if (data->attempt > 0) {
        message_text_append_literal(text, "\"attempt\":");
        message_text_append_integer(text, data->attempt);
        first = 0;
    }
    if (data->status_code != 0) {
        message_text_append_literal(text, first ? "\"status_code\":" : ",\"status_code\":");
        message_text_append_integer(text, data->status_code);
        first = 0;
    }
    if (data->reason != NULL) {
        message_text_append_literal(text, first ? "\"reason\":" : ",\"reason\":");
        message_text_append_string(text, data->reason);
        first = 0;
    }
    if (data->retry_in_ms >= 0) {
        message_text_append_literal(text, first ? "\"retry_in_ms\":" : ",\"retry_in_ms\":");
        message_text_append_integer(text, data->retry_in_ms);
    }
    message_text_append(text, "}", 1);
    if (text->failed) {
        /* Out of memory: keep the line, without its data. */
        text->failed = 0;
        return "{}";
    }
    return text->data;
}

static void write_line(sync_engine *engine, const char *connector_id, const char *message,
                       const char *user_id, const char *account_id, const char *claims_text,
                       const char *batch_id, const char *data_json)
{
    sync_store *st = engine->store;
    log_line line = {
        .at_ms = sync_now_ms(),
        .connector_id = connector_id,
        .message = message,
        .user_id = user_id != NULL && user_id[0] != '\0' ? user_id : NULL,
        .account_id = account_id != NULL && account_id[0] != '\0' ? account_id : NULL,
        .claims_json = claims_text,
        .batch_id = batch_id,
        .data_json = data_json,
    };

    if (st->ops->log_append(st, &line) != 0 && !engine->log_error_reported) {
        log_error("cannot write connector log lines: %s", st->error);
        engine->log_error_reported = 1;
    }
    engine->log_dirty = 1;
}

void sync_log_item(sync_engine *engine, const char *connector_id, const outgoing *item,
                   sync_outcome outcome, const line_data *data)
{
    write_line(engine, connector_id, sync_message_name(item->kind, outcome), item->user_id,
               item->account_id, item->claims_text,
               item->batch != NULL ? item->batch->id : NULL, data_text(engine, data));
}

/* Log fields of an entity: its id, its account's id and its claims. */
static void entity_log_fields(sync_engine *engine, store_entity_kind kind, uint32_t index,
                              char user_id[40], char account_id[40], char **claims_text)
{
    entities *e = engine->service->entities;
    entity_record *record = entity_at(entities_set(e, kind), index);
    message_text claims = {0};

    user_id[0] = '\0';
    account_id[0] = '\0';
    if (kind == STORE_USERS) {
        memcpy(user_id, record->id, sizeof(record->id));
        if (record->account != ATTR_NO_ENTITY)
            memcpy(account_id, entity_at(&e->accounts, record->account)->id, sizeof(record->id));
    } else {
        memcpy(account_id, record->id, sizeof(record->id));
    }
    message_text_append_claims(&claims, e, kind, index);
    *claims_text = message_text_finish(&claims);
}

void sync_log_reason(sync_engine *engine, const char *connector_id, sync_outcome outcome,
                     store_entity_kind kind, uint32_t index, const char *batch_id,
                     const char *reason)
{
    line_data data = {.reason = reason, .retry_in_ms = -1};
    char user_id[40];
    char account_id[40];
    char *claims_text = NULL;

    entity_log_fields(engine, kind, index, user_id, account_id, &claims_text);
    write_line(engine, connector_id, sync_message_name(kind, outcome), user_id, account_id,
               claims_text, batch_id, data_text(engine, &data));
    free(claims_text);
}

void sync_log(sync_engine *engine, const char *connector_id, const char *message,
              store_entity_kind kind, uint32_t index, const char *batch_id, json_object *data)
{
    char user_id[40];
    char account_id[40];
    char *claims_text = NULL;

    entity_log_fields(engine, kind, index, user_id, account_id, &claims_text);
    write_line(engine, connector_id, message, user_id, account_id, claims_text, batch_id,
               data != NULL ? json_object_to_json_string_ext(
                                  data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                            : "{}");
    free(claims_text);
    json_object_put(data);
}

const char *sync_message_name(store_entity_kind kind, sync_outcome outcome)
{
    static const char *const user_names[] = {"outgoing.user.start", "outgoing.user.success",
                                             "outgoing.user.skip", "outgoing.user.retry",
                                             "outgoing.user.error"};
    static const char *const account_names[] = {
        "outgoing.account.start", "outgoing.account.success", "outgoing.account.skip",
        "outgoing.account.retry", "outgoing.account.error"};

    return kind == STORE_USERS ? user_names[outcome] : account_names[outcome];
}

int sync_is_log_message(const char *name)
{
    for (sync_outcome outcome = SYNC_START; outcome <= SYNC_ERROR; outcome++) {
        if (strcmp(name, sync_message_name(STORE_USERS, outcome)) == 0 ||
            strcmp(name, sync_message_name(STORE_ACCOUNTS, outcome)) == 0)
            return 1;
    }
    return 0;
}

void sync_list_log_messages(char *list, size_t size)
{
    static const store_entity_kind kinds[] = {STORE_USERS, STORE_ACCOUNTS};
    size_t used = 0;

    list[0] = '\0';
    for (size_t k = 0; k < 2; k++) {
        for (sync_outcome outcome = SYNC_START; outcome <= SYNC_ERROR; outcome++) {
            int written = snprintf(list + used, size - used, "%s%s", used > 0 ? ", " : "",
                                   sync_message_name(kinds[k], outcome));

            if (written < 0 || (size_t)written >= size - used)
                return;
            used += (size_t)written;
        }
    }
}

/* Is any id of ids (a JSON array of segment ids) in the whitelist? */
static int any_whitelisted(const json_object *whitelist, const json_object *ids)
{
    for (size_t i = 0; i < json_object_array_length(whitelist); i++) {
        const char *allowed = json_object_get_string(json_object_array_get_idx(whitelist, i));
        for (size_t j = 0; j < json_object_array_length(ids); j++) {
            if (strcmp(allowed, json_object_get_string(json_object_array_get_idx(ids, j))) == 0)
                return 1;
        }
    }
    return 0;
}

int sync_whitelist_has_all(const json_object *whitelist)
{
    for (size_t i = 0; i < json_object_array_length(whitelist); i++) {
        if (strcmp(json_object_get_string(json_object_array_get_idx(whitelist, i)), "ALL") == 0)
            return 1;
    }
    return 0;
}

/* The whitelist's segments as names for a skip reason. */
static void describe_whitelist(sync_engine *engine, const json_object *whitelist, char *out,
                               size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(whitelist) && used < size; i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(whitelist, i));
        segment *s = segment_find(engine->service->segments, id);
        int n = snprintf(out + used, size - used, "%s\"%s\"", i > 0 ? ", " : "",
                         s != NULL ? s->name : id);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int stage(sync_engine *engine, const char *connector_id, outgoing *item)
{
    if (engine->staged_count == engine->staged_capacity) {
        size_t capacity = engine->staged_capacity == 0 ? 64 : engine->staged_capacity * 2;
        staged_message *grown = realloc(engine->staged, capacity * sizeof(*grown));

        if (grown == NULL)
            return -1;
        engine->staged = grown;
        engine->staged_capacity = capacity;
    }
    snprintf(engine->staged[engine->staged_count].connector_id,
             sizeof(engine->staged[0].connector_id), "%s", connector_id);
    engine->staged[engine->staged_count].item = item;
    engine->staged_count++;
    return 0;
}

/* Forget the messages of a transaction that rolled back: their rows are
 * gone with it. */
static void drop_staged(sync_engine *engine)
{
    for (size_t i = 0; i < engine->staged_count; i++) {
        sync_queue *q;

        if (engine->staged[i].item == NULL)
            continue;
        q = sync_queue_of(engine, engine->staged[i].connector_id);
        if (q != NULL)
            q->stored_queued--;
        sync_outgoing_free(engine, engine->staged[i].item);
    }
    engine->staged_count = 0;
}

/* An older automatic message for the same entity, still waiting in this
 * transaction's staged messages or in the connector's window. */
static outgoing *older_waiting(sync_engine *engine, sync_queue *q, store_entity_kind kind,
                               uint32_t index, int *staged_at)
{
    for (size_t i = engine->staged_count; i-- > 0;) {
        outgoing *item = engine->staged[i].item;
        if (item != NULL && item->kind == kind && item->index == index &&
            strcmp(engine->staged[i].connector_id, q->connector_id) == 0) {
            *staged_at = (int)i;
            return item;
        }
    }
    *staged_at = -1;
    return sync_queue_find_waiting(q, kind, index);
}

/* Replace an older waiting message by item, folding its changes and
 * events into item's. */
static void coalesce(sync_engine *engine, sync_queue *q, outgoing *older, int staged_at,
                     outgoing *item)
{
    store *st = engine->service->store;
    line_data data = {.reason = "replaced by a newer message for the same entity, which "
                                "carries its changes and events (delivery.coalesce)",
                      .retry_in_ms = -1};
    json_object *older_message;

    if (older->message == NULL && older->payload != NULL)
        older->message = json_tokener_parse(older->payload);
    older_message = older->message;
    if (older_message == NULL)
        return;
    message_coalesce(older_message, item->message);
    if (older->sequence > 0) {
        if (st->ops->delivery_delete(st, older->sequence) != 0)
            sync_queue_store_failed(engine, "cannot replace a queued message");
        else
            q->stored_queued--;
    }
    sync_log_item(engine, q->connector_id, older, SYNC_SKIP, &data);
    /* NOTE: if this transaction's commit fails, the deleted row comes back
     * but the message stays out of the window until the next start. */
    if (staged_at >= 0)
        engine->staged[staged_at].item = NULL;
    else
        sync_queue_remove(q, older);
    q->counters.skipped++;
    sync_outgoing_free(engine, older);
}

/* Build the message for update, store it in the transaction of the change
 * and stage it for the connector's queue. */
static void queue_message(sync_engine *engine, connector *c, const entity_update *update)
{
    entities *e = engine->service->entities;
    store *st = engine->service->store;
    sync_queue *q = sync_queue_of(engine, c->id);
    json_object *events;
    outgoing *item;
    const char *payload;

    item = q != NULL ? sync_outgoing_new(engine, update->kind, update->index,
                                         message_build(e, update->kind, update->index, update),
                                         NULL)
                     : NULL;
    if (item == NULL) {
        log_error("connector %s: out of memory queueing a message", c->id);
        return;
    }
    events = sync_events_pending(engine, c->id, update);
    if (events != NULL)
        json_object_object_add(item->message, "events", events);
    if (c->delivery.coalesce) {
        int staged_at;
        outgoing *older = older_waiting(engine, q, update->kind, update->index, &staged_at);

        if (older != NULL)
            coalesce(engine, q, older, staged_at, item);
    }

    payload = sync_outgoing_payload(item);
    {
        store_delivery_row row = {
            .connector_id = c->id,
            .kind = update->kind,
            .entity_id = update->kind == STORE_USERS ? item->user_id : item->account_id,
            .payload = payload != NULL ? payload : "{}",
            .created_ms = item->created_ms,
        };
        if (payload == NULL || st->ops->delivery_insert(st, &row) != 0) {
            log_error("connector %s: cannot queue a message for %s %s: %s", c->id,
                      update->kind == STORE_USERS ? "user" : "account", row.entity_id,
                      payload == NULL ? "out of memory" : store_error(st));
            sync_outgoing_free(engine, item);
            return;
        }
        item->sequence = row.sequence;
    }
    q->stored_queued++;
    /* Coalescing reads the parsed form back from the text when needed. */
    json_object_put(item->message);
    item->message = NULL;
    if (stage(engine, c->id, item) != 0) {
        /* The row commits and is read back from the store. */
        q->spilled = 1;
        sync_outgoing_free(engine, item);
    }
}

/* Log why the update does not go to the connector, and remember its
 * events for the next message that does. */
static void skip_update(sync_engine *engine, const connector *c, const entity_update *update,
                        const char *reason)
{
    sync_log_reason(engine, c->id, SYNC_SKIP, update->kind, update->index, NULL, reason);
    sync_events_note_skip(engine, c->id, update);
}

/* Decide whether one update goes to one connector: queue its message, or
 * log a skip whose reason names what was missing. */
static void route_update(sync_engine *engine, connector *c, const entity_update *update)
{
    entities *e = engine->service->entities;
    const json_object *whitelist = update->kind == STORE_USERS ? c->user_segments : c->account_segments;
    const char *setting = update->kind == STORE_USERS ? "synchronized_user_segments"
                                                      : "synchronized_account_segments";
    const char *noun = update->kind == STORE_USERS ? "user" : "account";
    char reason[1024];
    json_object *current;
    int send;

    if (c->instance == NULL) {
        snprintf(reason, sizeof(reason), "connector is not running: %s",
                 c->error != NULL ? c->error : "no plugin instance");
        skip_update(engine, c, update, reason);
        return;
    }
    /* A plugin that does not take this entity type never hears of it. */
    if ((c->instance->plugin->descriptor.entity_types &
         (update->kind == STORE_USERS ? WHARF_ENTITY_USER : WHARF_ENTITY_ACCOUNT)) == 0)
        return;

    if (json_object_array_length(whitelist) == 0) {
        snprintf(reason, sizeof(reason),
                 "%s is empty, so no %s is sent automatically; add segment ids or \"ALL\" to it",
                 setting, noun);
        skip_update(engine, c, update, reason);
        return;
    }

    current = segment_set_ids_of(e->segments, update->kind, update->index);
    send = sync_whitelist_has_all(whitelist) || any_whitelisted(whitelist, current) ||
           any_whitelisted(whitelist, update->segments_left);
    json_object_put(current);
    if (!send) {
        char names[700];
        describe_whitelist(engine, whitelist, names, sizeof(names));
        snprintf(reason, sizeof(reason),
                 "%s is in none of the segments in %s (%s) and did not just leave one", noun,
                 setting, names);
        skip_update(engine, c, update, reason);
        return;
    }

    queue_message(engine, c, update);
}
void sync_prepare_updates(void *user_data, const entity_update *updates, size_t count)
{
    sync_engine *engine = user_data;
    service *svc = engine->service;

    /* Left over from a transaction that rolled back. */
    drop_staged(engine);
    if (svc->connectors == NULL || engine->stopping)
        return;
    for (size_t i = 0; i < count; i++) {
        if (updates[i].index == ATTR_NO_ENTITY)
            continue;
        for (connector *c = connector_first(svc->connectors); c != NULL; c = c->next)
            route_update(engine, c, &updates[i]);
    }
}

void sync_on_updates(void *user_data, const entity_update *updates, size_t count)
{
    sync_engine *engine = user_data;

    (void)updates;
    (void)count;
    /* The transaction committed: its messages join their queues. */
    for (size_t i = 0; i < engine->staged_count; i++) {
        outgoing *item = engine->staged[i].item;
        sync_queue *q;

        if (item == NULL)
            continue;
        q = sync_queue_of(engine, engine->staged[i].connector_id);
        if (q != NULL)
            sync_queue_push(q, item);
        else
            sync_outgoing_free(engine, item);
        engine->staged[i].item = NULL;
    }
    engine->staged_count = 0;
    for (sync_queue *q = engine->queues; q != NULL; q = q->next) {
        if (q->length > 0 || q->spilled)
            sync_pump(engine, q);
    }
}

void sync_connector_removed(sync_engine *engine, const char *connector_id)
{
    store *st = engine->service->store;

    for (sync_queue *q = engine->queues; q != NULL; q = q->next) {
        if (strcmp(q->connector_id, connector_id) == 0) {
            sync_queue_drain(engine, q, "connector was deleted");
            sync_events_forget(q);
            break;
        }
    }
    manual_batch_fail_connector(engine, connector_id, "connector was deleted");
    if (st->ops->delivery_forget_connector(st, connector_id) != 0)
        log_error("connector %s: cannot delete its queued messages and dead letters: %s",
                  connector_id, store_error(st));
    if (st->ops->event_mark_delete(st, connector_id, NULL) != 0)
        log_error("connector %s: cannot delete its marks of unsent events: %s", connector_id,
                  store_error(st));
}

void sync_connector_started(sync_engine *engine, const char *connector_id)
{
    sync_queue *q = sync_queue_of(engine, connector_id);

    if (q != NULL)
        sync_pump(engine, q);
}

static int add_line(const log_line *line, void *user_data)
{
    json_object *lines = user_data;
    json_object *item = json_object_new_object();
    json_object *claims = line->claims_json != NULL ? json_tokener_parse(line->claims_json) : NULL;
    json_object *data = line->data_json != NULL ? json_tokener_parse(line->data_json) : NULL;
    char time_text[TIMESTAMP_TEXT_SIZE];
    time_t seconds = (time_t)(line->at_ms / 1000);
    struct tm utc;
    size_t length;

    gmtime_r(&seconds, &utc);
    length = strftime(time_text, sizeof(time_text), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(time_text + length, sizeof(time_text) - length, ".%03dZ", (int)(line->at_ms % 1000));

    json_object_object_add(item, "sequence", json_object_new_int64(line->sequence));
    json_object_object_add(item, "time", json_object_new_string(time_text));
    json_object_object_add(item, "connector_id", json_object_new_string(line->connector_id));
    json_object_object_add(item, "message", json_object_new_string(line->message));
    json_object_object_add(item, "user_id",
                           line->user_id != NULL ? json_object_new_string(line->user_id) : NULL);
    json_object_object_add(item, "account_id",
                           line->account_id != NULL ? json_object_new_string(line->account_id) : NULL);
    json_object_object_add(item, "claims", claims);
    json_object_object_add(item, "batch_id",
                           line->batch_id != NULL ? json_object_new_string(line->batch_id) : NULL);
    json_object_object_add(item, "data", data != NULL ? data : json_object_new_object());
    json_object_array_add(lines, item);
    return 0;
}

json_object *sync_logs_read(sync_engine *engine, const char *connector_id, const char *message,
                            const char *user_id, const char *account_id, const char *batch_id,
                            int64_t since_ms, int64_t after_sequence, unsigned limit, char *error,
                            size_t error_size)
{
    sync_store *st = engine->store;
    log_query query = {
        .connector_id = connector_id,
        .message = message,
        .user_id = user_id,
        .account_id = account_id,
        .batch_id = batch_id,
        .since_ms = since_ms,
        .after_sequence = after_sequence,
        .limit = limit,
    };
    json_object *lines = json_object_new_array();
    json_object *body;

    /* Lines written in this loop iteration become visible to the query. */
    st->ops->log_flush(st);
    engine->log_dirty = 0;
    if (st->ops->log_read(st, &query, add_line, lines) != 0) {
        snprintf(error, error_size, "cannot read log lines: %s", st->error);
        json_object_put(lines);
        return NULL;
    }
    body = json_object_new_object();
    json_object_object_add(body, "lines", lines);
    return body;
}

/* Log the queued messages, dead letters and unfinished batches in the
 * store, if any. moment is "restored" at start and "kept for the next
 * start" at exit. */
static void log_queue_totals(sync_engine *engine, const char *moment)
{
    int64_t queued = 0;
    int64_t dead = 0;
    size_t connectors = 0;
    size_t batches = manual_batch_count_unfinished(engine);

    for (sync_queue *q = engine->queues; q != NULL; q = q->next) {
        queued += q->stored_queued;
        dead += q->stored_dead;
        connectors += q->stored_queued > 0 || q->stored_dead > 0;
    }
    if (queued == 0 && dead == 0 && batches == 0)
        return;
    log_info("delivery queue %s: %lld queued messages and %lld dead letters of %zu connectors, "
             "%zu unfinished manual batches",
             moment, (long long)queued, (long long)dead, connectors, batches);
}

/* Commit the log lines and queue changes of this loop iteration. */
static void on_check(uv_check_t *handle)
{
    sync_engine *engine = handle->data;
    store *st = engine->service->store;

    if (engine->resume_pending && engine->service->connectors != NULL) {
        engine->resume_pending = 0;
        manual_batch_resume(engine);
        for (connector *c = connector_first(engine->service->connectors); c != NULL; c = c->next)
            sync_connector_started(engine, c->id);
        log_queue_totals(engine, "restored");
    }
    manual_batch_save_progress(engine, 0);
    if (st->ops->defer_commit(st) != 0)
        sync_queue_store_failed(engine, "cannot commit queue changes");
    if (!engine->log_dirty)
        return;
    engine->log_dirty = 0;
    if (engine->store->ops->log_flush(engine->store) != 0)
        log_error("cannot commit connector log lines: %s", engine->store->error);
}

static void purge(sync_engine *engine)
{
    int64_t deleted = 0;
    int64_t before = sync_now_ms() - (int64_t)engine->retention_days * 24 * 3600 * 1000;

    if (engine->store->ops->log_purge(engine->store, before, &deleted) != 0)
        log_error("cannot purge old connector log lines: %s", engine->store->error);
    else if (deleted > 0)
        log_info("purged %lld connector log lines older than %u days", (long long)deleted,
                 engine->retention_days);
}

static void on_purge_timer(uv_timer_t *handle)
{
    purge(handle->data);
}

sync_engine *sync_engine_create(service *svc, unsigned retention_days, char *error,
                                size_t error_size)
{
    sync_engine *engine = calloc(1, sizeof(*engine));

    if (engine == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    engine->service = svc;
    engine->retention_days = retention_days;
    if (sync_store_open_sqlite(svc->config.data_dir, &engine->store, error, error_size) != 0) {
        free(engine);
        return NULL;
    }
    manual_batch_restore(engine);
    return engine;
}

int sync_engine_start(sync_engine *engine)
{
    uv_loop_t *loop = engine->service->loop;

    uv_check_init(loop, &engine->check);
    engine->check.data = engine;
    uv_check_start(&engine->check, on_check);
    uv_timer_init(loop, &engine->purge_timer);
    engine->purge_timer.data = engine;
    uv_timer_init(loop, &engine->drain_timer);
    engine->drain_timer.data = engine;
    purge(engine);
    engine->started = 1;
    sync_events_restore(engine);
    /* Queued messages and running batches from before the restart go out
     * once the connectors are restored. */
    engine->resume_pending = 1;
    return uv_timer_start(&engine->purge_timer, on_purge_timer, PURGE_INTERVAL_MS,
                          PURGE_INTERVAL_MS);
}

void sync_engine_stop(sync_engine *engine)
{
    store *st;

    if (engine == NULL || !engine->started)
        return;
    st = engine->service->store;
    engine->stopping = 1;
    engine->started = 0;
    drop_staged(engine);
    manual_batch_save_progress(engine, 1);
    if (st->ops->defer_commit(st) != 0)
        sync_queue_store_failed(engine, "cannot commit queue changes");
    engine->store->ops->log_flush(engine->store);
    uv_close((uv_handle_t *)&engine->check, NULL);
    uv_close((uv_handle_t *)&engine->purge_timer, NULL);
    uv_close((uv_handle_t *)&engine->drain_timer, NULL);
    for (sync_queue *q = engine->queues; q != NULL; q = q->next)
        uv_close((uv_handle_t *)&q->wake, NULL);
}

void sync_engine_flush(sync_engine *engine)
{
    store *st;

    if (engine == NULL)
        return;
    st = engine->service->store;
    /* Results of requests cancelled at shutdown arrive after stop. */
    manual_batch_save_progress(engine, 1);
    if (st != NULL && st->ops->defer_commit(st) != 0)
        sync_queue_store_failed(engine, "cannot commit queue changes");
    engine->store->ops->log_flush(engine->store);
    log_queue_totals(engine, "kept for the next start");
}

void sync_engine_free(sync_engine *engine)
{
    if (engine == NULL)
        return;
    while (engine->queues != NULL) {
        sync_queue *q = engine->queues;
        engine->queues = q->next;
        sync_queue_free(q);
    }
    drop_staged(engine);
    free(engine->staged);
    manual_batch_free_all(engine);
    sync_outgoing_free_spares(engine);
    engine->store->ops->close(engine->store);
    free(engine->data_text.data);
    free(engine);
}
