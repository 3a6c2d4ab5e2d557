/*
 * Per-connector delivery queues. Every automatic message is a row of the
 * store's delivery queue from the transaction that made it until its final
 * outcome. A manual batch's messages are made from its stored member list,
 * and enter the store only when they need a retry. Memory keeps a window
 * of at most SYNC_WINDOW_MAX messages per connector and the rest waits in
 * the store, so a destination that is down for hours costs disk, not
 * memory.
 *
 * Order: a connector gets the messages of one entity in the order they
 * were made. A message waits while an older one for the same entity is in
 * flight or waiting for its retry, and a request never carries two
 * messages for the same entity.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "batch.h"
#include "connector.h"
#include "ids.h"
#include "index_map.h"
#include "log.h"
#include "message.h"
#include "plugin_loader.h"
#include "service.h"
#include "store.h"
#include "sync_internal.h"

/* Batch size when a plugin leaves max_batch_size at 0. */
#define DEFAULT_BATCH_SIZE 100

/* Upper bounds of the request latency histogram, in seconds. */
static const double latency_bounds[SYNC_LATENCY_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

/* ---- entities with a message in flight: key and count ---- */

/* The entity's key in busy sets: its kind and index. Messages of an entity
 * that is gone have no key (UINT64_MAX) and need no order. */
static uint64_t busy_key(const outgoing *item)
{
    if (item->index == ATTR_NO_ENTITY)
        return UINT64_MAX;
    return (uint64_t)item->kind << 32 | item->index;
}

static int busy_has(const index_map *set, uint64_t key)
{
    return key != UINT64_MAX && index_map_has(set, key);
}

static void busy_add(index_map *set, uint64_t key)
{
    /* Out of memory: order is not kept for this entity. */
    if (key != UINT64_MAX)
        (void)index_map_put(set, key, index_map_get(set, key, 0) + 1);
}

static void busy_remove(index_map *set, uint64_t key)
{
    int64_t count;

    if (key == UINT64_MAX)
        return;
    count = index_map_get(set, key, 0);
    if (count <= 1)
        index_map_remove(set, key);
    else
        (void)index_map_put(set, key, count - 1);
}

static void busy_clear(index_map *set)
{
    if (set->used == 0)
        return;
    memset(set->keys, 0, set->capacity * sizeof(uint64_t));
    set->used = 0;
}

/* ---- messages ---- */

/* Spare messages kept at most. A manual batch frees one message for each
 * it builds, and in a profile of a batch, malloc() and free() took about a
 * seventh of the loop thread's time before messages were reused. */
#define SYNC_SPARE_MAX 4096

/* A zeroed message, with the buffers of a spare one when there is one:
 * payload then points at a buffer whose text is not the message's until
 * the caller writes it (payload_length is 0). */
static outgoing *outgoing_take(sync_engine *engine)
{
    outgoing *item = engine->spare;
    char *payload;
    size_t payload_capacity;
    char *claims_text;
    size_t claims_capacity;

    if (item == NULL)
        return calloc(1, sizeof(*item));
    engine->spare = item->next;
    engine->spare_count--;
    payload = item->payload;
    payload_capacity = item->payload_capacity;
    claims_text = item->claims_text;
    claims_capacity = item->claims_capacity;
    memset(item, 0, sizeof(*item));
    item->payload = payload;
    item->payload_capacity = payload_capacity;
    item->claims_text = claims_text;
    item->claims_capacity = claims_capacity;
    return item;
}

void sync_outgoing_free(sync_engine *engine, outgoing *item)
{
    if (item == NULL)
        return;
    json_object_put(item->message);
    item->message = NULL;
    if (engine->spare_count < SYNC_SPARE_MAX) {
        item->next = engine->spare;
        engine->spare = item;
        engine->spare_count++;
        return;
    }
    free(item->payload);
    free(item->claims_text);
    free(item);
}

void sync_outgoing_free_spares(sync_engine *engine)
{
    while (engine->spare != NULL) {
        outgoing *item = engine->spare;

        engine->spare = item->next;
        free(item->payload);
        free(item->claims_text);
        free(item);
    }
    engine->spare_count = 0;
}

/* A message about the entity at index, without content yet: a reused one
 * may keep a payload buffer, with payload_length 0. */
static outgoing *outgoing_for_entity(sync_engine *engine, store_entity_kind kind, uint32_t index,
                                     manual_batch *batch)
{
    entities *e = engine->service->entities;
    entity_record *record = entity_at(entities_set(e, kind), index);
    outgoing *item = outgoing_take(engine);
    message_text claims;

    if (item == NULL)
        return NULL;
    claims = (message_text){item->claims_text, 0, item->claims_capacity, 0};
    item->kind = kind;
    item->index = index;
    item->batch = batch;
    item->created_ms = sync_now_ms();
    if (kind == STORE_USERS) {
        memcpy(item->user_id, record->id, sizeof(item->user_id));
        if (record->account != ATTR_NO_ENTITY)
            memcpy(item->account_id, entity_at(&e->accounts, record->account)->id,
                   sizeof(item->account_id));
    } else {
        memcpy(item->account_id, record->id, sizeof(item->account_id));
    }
    message_text_append_claims(&claims, e, kind, index);
    item->claims_text = claims.data;
    item->claims_capacity = claims.capacity;
    if (message_text_terminate(&claims) != 0) {
        sync_outgoing_free(engine, item);
        return NULL;
    }
    return item;
}

outgoing *sync_outgoing_new(sync_engine *engine, store_entity_kind kind, uint32_t index,
                            json_object *message, manual_batch *batch)
{
    outgoing *item = message != NULL ? outgoing_for_entity(engine, kind, index, batch) : NULL;

    if (item == NULL) {
        json_object_put(message);
        return NULL;
    }
    /* The payload is made from message when needed. */
    free(item->payload);
    item->payload = NULL;
    item->payload_capacity = 0;
    item->message = message;
    return item;
}

outgoing *sync_outgoing_new_export(sync_engine *engine, store_entity_kind kind, uint32_t index,
                                   manual_batch *batch)
{
    outgoing *item = outgoing_for_entity(engine, kind, index, batch);
    message_text text;
    int rc;

    if (item == NULL)
        return NULL;
    text = (message_text){item->payload, 0, item->payload_capacity, 0};
    rc = message_write_text(&text, engine->service->entities, kind, index, NULL);
    item->payload = text.data;
    item->payload_capacity = text.capacity;
    if (rc != 0) {
        sync_outgoing_free(engine, item);
        return NULL;
    }
    item->payload_length = text.length;
    return item;
}

/* A message read back from the store. */
static outgoing *outgoing_from_row(sync_engine *engine, const store_delivery_row *row)
{
    entities *e = engine->service->entities;
    outgoing *item = calloc(1, sizeof(*item));

    if (item == NULL || (item->payload = strdup(row->payload)) == NULL) {
        free(item);
        return NULL;
    }
    item->payload_length = strlen(item->payload);
    item->payload_capacity = item->payload_length + 1;
    item->kind = row->kind;
    item->index = entities_find_by_id(entities_set(e, row->kind), row->entity_id);
    item->sequence = row->sequence;
    item->created_ms = row->created_ms;
    item->not_before_ms = row->next_attempt_ms;
    item->attempt = row->attempt;
    item->batch = row->batch_id != NULL ? manual_batch_find(engine, row->batch_id) : NULL;
    snprintf(row->kind == STORE_USERS ? item->user_id : item->account_id, sizeof(item->user_id),
             "%s", row->entity_id);
    if (item->index != ATTR_NO_ENTITY) {
        message_text claims = {0};

        if (row->kind == STORE_USERS) {
            uint32_t account = entity_at(&e->users, item->index)->account;
            if (account != ATTR_NO_ENTITY)
                memcpy(item->account_id, entity_at(&e->accounts, account)->id,
                       sizeof(item->account_id));
        }
        message_text_append_claims(&claims, e, row->kind, item->index);
        item->claims_text = message_text_finish(&claims);
    }
    return item;
}

const char *sync_outgoing_payload(outgoing *item)
{
    if (item->payload == NULL && item->message != NULL) {
        const char *text = json_object_to_json_string_ext(
            item->message, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        item->payload = text != NULL ? strdup(text) : NULL;
        item->payload_length = item->payload != NULL ? strlen(item->payload) : 0;
        item->payload_capacity = item->payload != NULL ? item->payload_length + 1 : 0;
    }
    return item->payload;
}

/* ---- queues ---- */

void sync_queue_store_failed(sync_engine *engine, const char *what)
{
    if (engine->queue_error_reported)
        return;
    engine->queue_error_reported = 1;
    log_error("delivery queue: %s: %s (later failures are not logged)", what,
              store_error(engine->service->store));
}

/* Open the deferred transaction that on_check commits. */
static store *deferred_store(sync_engine *engine)
{
    store *st = engine->service->store;

    if (st->ops->defer_begin(st) != 0)
        sync_queue_store_failed(engine, "cannot begin a transaction");
    return st;
}

static void on_wake(uv_timer_t *handle);

sync_queue *sync_queue_of(sync_engine *engine, const char *connector_id)
{
    store *st = engine->service->store;
    sync_queue *q;

    for (q = engine->queues; q != NULL; q = q->next) {
        if (strcmp(q->connector_id, connector_id) == 0)
            return q;
    }
    if (!engine->started)
        return NULL; /* stopped: no new timer handles */
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    snprintf(q->connector_id, sizeof(q->connector_id), "%s", connector_id);
    q->engine = engine;
    /* Rows from before a restart, or of a window that overflowed. */
    q->spilled = 1;
    if (st->ops->delivery_count(st, connector_id, 0, &q->stored_queued) != 0 ||
        st->ops->delivery_count(st, connector_id, 1, &q->stored_dead) != 0)
        sync_queue_store_failed(engine, "cannot count the delivery queue");
    uv_timer_init(engine->service->loop, &q->wake);
    q->wake.data = q;
    q->next = engine->queues;
    engine->queues = q;
    return q;
}

static void window_append(sync_queue *q, outgoing *item)
{
    item->next = NULL;
    item->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->length++;
}

static void window_prepend(sync_queue *q, outgoing *item)
{
    item->prev = NULL;
    item->next = q->head;
    if (q->head != NULL)
        q->head->prev = item;
    else
        q->tail = item;
    q->head = item;
    q->length++;
}

void sync_queue_remove(sync_queue *q, outgoing *item)
{
    if (item->prev != NULL)
        item->prev->next = item->next;
    else
        q->head = item->next;
    if (item->next != NULL)
        item->next->prev = item->prev;
    else
        q->tail = item->prev;
    item->prev = item->next = NULL;
    q->length--;
}

void sync_queue_push(sync_queue *q, outgoing *item)
{
    if (item->sequence > 0 && (q->spilled || q->length + q->in_flight_messages >= SYNC_WINDOW_MAX)) {
        /* The store has it; it is read back in order when there is room. */
        q->spilled = 1;
        sync_outgoing_free(q->engine, item);
        return;
    }
    if (item->sequence > q->loaded_through)
        q->loaded_through = item->sequence;
    window_append(q, item);
}

outgoing *sync_queue_find_waiting(sync_queue *q, store_entity_kind kind, uint32_t index)
{
    for (outgoing *item = q->tail; item != NULL; item = item->prev) {
        if (item->kind == kind && item->index == index && item->batch == NULL &&
            !item->from_members)
            return item;
    }
    return NULL;
}

typedef struct load_context {
    sync_engine *engine;
    sync_queue *q;
    unsigned loaded;
} load_context;

static int load_row(const store_delivery_row *row, void *user_data)
{
    load_context *context = user_data;
    outgoing *item = outgoing_from_row(context->engine, row);

    context->loaded++;
    context->q->loaded_through = row->sequence;
    if (item == NULL) {
        log_error("connector %s: out of memory reading queued message %lld", row->connector_id,
                  (long long)row->sequence);
        return 0;
    }
    window_append(context->q, item);
    return 0;
}

/* Read queued rows into the window while it has room. */
static void load_from_store(sync_engine *engine, sync_queue *q)
{
    store *st = engine->service->store;
    size_t room;
    load_context context = {engine, q, 0};

    if (!q->spilled || q->length + q->in_flight_messages >= SYNC_WINDOW_MAX / 2)
        return;
    room = SYNC_WINDOW_MAX - q->length - q->in_flight_messages;
    if (st->ops->delivery_each(st, q->connector_id, 0, q->loaded_through, (unsigned)room, load_row,
                               &context) != 0) {
        sync_queue_store_failed(engine, "cannot read the delivery queue");
        return;
    }
    if (context.loaded < room)
        q->spilled = 0;
}

static size_t batch_size_of(const connector *c)
{
    size_t size = c->instance->plugin->descriptor.max_batch_size;

    return size == 0 ? DEFAULT_BATCH_SIZE : size;
}

size_t sync_in_flight_total(const sync_engine *engine)
{
    size_t total = 0;

    for (const sync_queue *q = engine->queues; q != NULL; q = q->next)
        total += q->in_flight;
    return total;
}

/* ---- outcomes ---- */

/* The message left the queue for good with outcome (a POSITION_* value). */
static void settle(sync_engine *engine, sync_queue *q, outgoing *item, int outcome)
{
    if (item->sequence > 0) {
        store *st = deferred_store(engine);

        if (st->ops->delivery_delete(st, item->sequence) != 0)
            sync_queue_store_failed(engine, "cannot delete a delivered message");
        else
            q->stored_queued--;
    }
    if (item->from_members)
        manual_batch_settle(engine, item, outcome);
    else if (item->batch != NULL)
        manual_batch_count_queued(engine, item->batch->id, outcome);
}

/* Store a message that has no row yet (one of a manual batch): queued
 * for its next attempt, or dead with reason. Sets item->sequence. */
static int insert_row(sync_engine *engine, sync_queue *q, outgoing *item, int dead,
                      const char *reason)
{
    store *st = deferred_store(engine);
    const char *payload = sync_outgoing_payload(item);
    store_delivery_row row = {
        .connector_id = q->connector_id,
        .kind = item->kind,
        .entity_id = item->kind == STORE_USERS ? item->user_id : item->account_id,
        .batch_id = item->batch != NULL ? item->batch->id : NULL,
        .payload = payload != NULL ? payload : "{}",
        .created_ms = item->created_ms,
        .attempt = item->attempt,
        .next_attempt_ms = dead ? 0 : item->not_before_ms,
        .dead = dead,
        .reason = reason,
    };
    int rc = st->ops->delivery_insert(st, &row);

    if (rc != 0)
        return rc;
    item->sequence = row.sequence;
    if (dead)
        q->stored_dead++;
    else
        q->stored_queued++;
    return 0;
}

/* Keep the message as a dead letter, with an error line. */
static void bury(sync_engine *engine, sync_queue *q, outgoing *item, int status_code,
                 const char *reason)
{
    store *st = deferred_store(engine);
    line_data data = {
        .attempt = item->attempt,
        .status_code = status_code,
        .reason = reason,
        .retry_in_ms = -1,
    };

    sync_log_item(engine, q->connector_id, item, SYNC_ERROR, &data);
    q->counters.failed++;
    q->counters.dead_letters++;
    if (item->sequence > 0) {
        if (st->ops->delivery_bury(st, item->sequence, item->attempt, reason) != 0) {
            sync_queue_store_failed(engine, "cannot store a dead letter");
        } else {
            q->stored_queued--;
            q->stored_dead++;
        }
        if (item->batch != NULL && !item->from_members)
            manual_batch_count_queued(engine, item->batch->id, POSITION_FAILED);
    } else {
        if (insert_row(engine, q, item, 1, reason) != 0)
            sync_queue_store_failed(engine, "cannot store a dead letter");
        if (item->from_members)
            manual_batch_settle(engine, item, POSITION_FAILED);
    }
}

/* Exponential backoff with full jitter: a random delay up to
 * min(cap, base * 2^(attempt - 1)). */
static int64_t backoff_ms(const delivery_settings *settings, unsigned attempt)
{
    uint64_t ceiling = settings->retry_base_ms;
    unsigned doublings = attempt > 0 ? attempt - 1 : 0;

    for (unsigned i = 0; i < doublings && ceiling < settings->retry_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > settings->retry_cap_ms)
        ceiling = settings->retry_cap_ms;
    return (int64_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) % ceiling) + 1;
}

/* Schedule another attempt. Returns 0, or -1 when the message is due for
 * the dead letters instead, with the cause in reason. */
static int schedule_retry(sync_engine *engine, sync_queue *q, const connector *c, outgoing *item,
                          const batch_result *result, char *reason, size_t reason_size)
{
    const delivery_settings *settings = &c->delivery;
    int64_t now = sync_now_ms();
    int64_t delay = result->retry_after_ms >= 0 ? result->retry_after_ms
                                                 : backoff_ms(settings, item->attempt);
    int64_t deadline = item->created_ms + (int64_t)settings->max_age_seconds * 1000;
    const char *cause = result->reason != NULL ? result->reason : "retry requested";
    line_data data = {
        .attempt = item->attempt,
        .status_code = result->status_code,
        .reason = result->reason,
    };
    store *st;

    if (item->attempt >= settings->max_attempts) {
        snprintf(reason, reason_size, "gave up after %u attempts (delivery.max_attempts): %s",
                 item->attempt, cause);
        return -1;
    }
    if (now + delay > deadline) {
        snprintf(reason, reason_size,
                 "gave up after %u attempts: the next one would come after the message's "
                 "maximum age of %u s (delivery.max_age_seconds): %s",
                 item->attempt, settings->max_age_seconds, cause);
        return -1;
    }

    data.retry_in_ms = delay;
    sync_log_item(engine, q->connector_id, item, SYNC_RETRY, &data);
    q->counters.retries++;
    item->not_before_ms = now + delay;
    st = deferred_store(engine);
    if (item->sequence > 0) {
        if (st->ops->delivery_update(st, item->sequence, item->attempt, item->not_before_ms,
                                     NULL) != 0)
            sync_queue_store_failed(engine, "cannot record a retry");
    } else {
        if (insert_row(engine, q, item, 0, NULL) != 0)
            sync_queue_store_failed(engine, "cannot queue a retry");
        if (item->from_members) {
            manual_batch_settle(engine, item, POSITION_QUEUED);
            item->from_members = 0;
        }
        if (q->spilled && item->sequence > 0) {
            /* Rows older than this one wait in the store: read it back
             * after them. */
            sync_outgoing_free(engine, item);
            return 0;
        }
        if (item->sequence > q->loaded_through)
            q->loaded_through = item->sequence;
    }
    /* Older than anything waiting, so it goes first when due. */
    window_prepend(q, item);
    return 0;
}

/* A request handed to the plugin. */
typedef struct flight {
    sync_engine *engine;
    char connector_id[40];
    outgoing **items;
    size_t count;
    uint64_t started_ns;
} flight;

static void record_latency(sync_queue *q, uint64_t started_ns)
{
    double seconds = (double)(uv_hrtime() - started_ns) / 1e9;

    q->counters.requests++;
    q->counters.latency_sum_seconds += seconds;
    for (size_t i = 0; i < SYNC_LATENCY_BUCKETS; i++) {
        if (seconds <= latency_bounds[i]) {
            q->counters.latency_buckets[i]++;
            break;
        }
    }
}

static void finish_drain_if_idle(sync_engine *engine);

static void handle_result(sync_engine *engine, sync_queue *q, const connector *c,
                          outgoing *item, const batch_result *result)
{
    line_data data = {
        .attempt = item->attempt,
        .status_code = result->status_code,
        .reason = result->reason,
        .retry_in_ms = -1,
    };
    char reason[700];

    busy_remove(&q->busy, busy_key(item));
    if (engine->stopping && result->kind != WHARF_RESULT_SUCCESS &&
        result->kind != WHARF_RESULT_SKIP) {
        /* Not final: its row (or its batch position) stays, and the next
         * start sends it again. */
        data.reason = "wharfd stopped before a final result; it is sent again after restart";
        sync_log_item(engine, q->connector_id, item, SYNC_RETRY, &data);
        sync_outgoing_free(engine, item);
        return;
    }
    switch (result->kind) {
    case WHARF_RESULT_SUCCESS:
        sync_log_item(engine, q->connector_id, item, SYNC_SUCCESS, &data);
        q->counters.sent++;
        settle(engine, q, item, POSITION_SENT);
        break;
    case WHARF_RESULT_SKIP:
        sync_log_item(engine, q->connector_id, item, SYNC_SKIP, &data);
        q->counters.skipped++;
        settle(engine, q, item, POSITION_SKIPPED);
        break;
    case WHARF_RESULT_RETRY:
        if (c != NULL && schedule_retry(engine, q, c, item, result, reason, sizeof(reason)) == 0)
            return; /* the item lives on */
        if (c == NULL)
            snprintf(reason, sizeof(reason), "connector was deleted");
        bury(engine, q, item, result->status_code, reason);
        break;
    default:
        bury(engine, q, item, result->status_code,
             result->reason != NULL ? result->reason : "the plugin reported an error");
        break;
    }
    sync_outgoing_free(engine, item);
}

/* Pause a connector whose destination keeps failing, so that its queued
 * messages wait together instead of each retrying against a destination
 * that is down. A request in which every message asked for a retry counts
 * as failed. pause_after_failures of them in a row pause all sends, for
 * retry_base_ms doubled with each pause in a row up to retry_cap_ms.
 * Then one request probes the destination: any other outcome ends the
 * pause, and another failure starts a longer one. */
static void note_request_outcome(sync_queue *q, const connector *c, wharf_batch *batch,
                                 size_t count)
{
    const delivery_settings *settings = &c->delivery;
    const batch_result *last = NULL;
    int64_t pause_ms;

    q->probing = 0;
    for (size_t i = 0; i < count; i++) {
        const batch_result *result = batch_result_at(batch, i);

        if (result->kind != WHARF_RESULT_RETRY) {
            if (q->pauses > 0)
                log_info("connector %s: the destination responded again, so sends resume",
                         q->connector_id);
            q->failed_requests = 0;
            q->pauses = 0;
            q->paused_until_ms = 0;
            return;
        }
        last = result;
    }
    /* Requests sent before the pause began do not lengthen it. */
    if (last == NULL || q->paused_until_ms > sync_now_ms())
        return;
    if (settings->pause_after_failures == 0 ||
        ++q->failed_requests < settings->pause_after_failures)
        return;

    pause_ms = settings->retry_base_ms;
    for (unsigned i = 0; i < q->pauses && pause_ms < settings->retry_cap_ms; i++)
        pause_ms *= 2;
    if (pause_ms > settings->retry_cap_ms)
        pause_ms = settings->retry_cap_ms;
    q->pauses++;
    q->paused_until_ms = sync_now_ms() + pause_ms;
    log_warn("connector %s: %u batches in a row failed (last: %s), so sends pause for %lld ms "
             "(delivery.pause_after_failures); queued messages wait",
             q->connector_id, q->failed_requests,
             last->reason != NULL ? last->reason : "retry", (long long)pause_ms);
}

static void on_batch_done(wharf_batch *batch, void *user_data)
{
    flight *f = user_data;
    sync_engine *engine = f->engine;
    sync_queue *q = sync_queue_of(engine, f->connector_id);
    connector *c = engine->service->connectors != NULL
                       ? connector_find(engine->service->connectors, f->connector_id)
                       : NULL;

    if (q != NULL)
        record_latency(q, f->started_ns);
    if (q != NULL && c != NULL && !engine->stopping)
        note_request_outcome(q, c, batch, f->count);
    for (size_t i = 0; i < f->count; i++) {
        if (q != NULL)
            handle_result(engine, q, c, f->items[i], batch_result_at(batch, i));
        else
            sync_outgoing_free(engine, f->items[i]);
    }
    batch_free(batch);
    free(f->items);
    if (q != NULL) {
        q->in_flight--;
        q->in_flight_messages -= f->count;
    }
    free(f);
    if (engine->stopping)
        finish_drain_if_idle(engine);
    else if (q != NULL)
        sync_pump(engine, q);
}

void sync_queue_drain(sync_engine *engine, sync_queue *q, const char *reason)
{
    line_data data = {.reason = reason, .retry_in_ms = -1};
    outgoing *item;

    while ((item = q->head) != NULL) {
        sync_queue_remove(q, item);
        sync_log_item(engine, q->connector_id, item, SYNC_ERROR, &data);
        q->counters.failed++;
        if (item->from_members)
            manual_batch_settle(engine, item, POSITION_FAILED);
        else if (item->batch != NULL)
            manual_batch_count_queued(engine, item->batch->id, POSITION_FAILED);
        sync_outgoing_free(engine, item);
    }
    q->spilled = 0;
}

/* ---- sending ---- */

static void on_wake(uv_timer_t *handle)
{
    sync_queue *q = handle->data;

    q->wake_started = 0;
    sync_pump(q->engine, q);
}

static void wake_at(sync_queue *q, int64_t at_ms)
{
    int64_t now = sync_now_ms();

    if (q->wake_started && q->wake_at_ms <= at_ms)
        return;
    q->wake_started = 1;
    q->wake_at_ms = at_ms;
    uv_timer_start(&q->wake, on_wake, (uint64_t)(at_ms > now ? at_ms - now : 0) + 1, 0);
}

/* Take one request's worth of ready messages from the window. Sets
 * *next_due to the earliest time a waiting message becomes ready. */
static size_t take_ready(sync_queue *q, outgoing **taken, size_t size, int64_t now,
                         index_map *blocked, int64_t *next_due)
{
    size_t count = 0;
    outgoing *item = q->head;
    int automatic_held = 0;

    busy_clear(blocked);
    while (item != NULL && count < size) {
        outgoing *next = item->next;
        uint64_t key = busy_key(item);

        if (busy_has(&q->busy, key) || busy_has(blocked, key)) {
            busy_add(blocked, key);
            automatic_held |= item->batch == NULL;
        } else if (automatic_held && item->batch != NULL) {
            /* A manual batch's message never overtakes an automatic one
             * held back for order. */
            busy_add(blocked, key);
        } else if (item->not_before_ms > now) {
            busy_add(blocked, key);
            if (*next_due == 0 || item->not_before_ms < *next_due)
                *next_due = item->not_before_ms;
        } else {
            sync_queue_remove(q, item);
            busy_add(&q->busy, key);
            taken[count++] = item;
        }
        item = next;
    }
    return count;
}

/* Whether the rate limit lets one more request go now; otherwise when. */
static int take_token(sync_queue *q, const connector *c, int64_t now, int64_t *when)
{
    double rate = c->delivery.rate_limit;
    double burst = rate < 1 ? 1 : rate;

    if (rate <= 0)
        return 1;
    if (q->tokens_at_ms == 0)
        q->tokens = burst;
    else
        q->tokens += (double)(now - q->tokens_at_ms) * rate / 1000.0;
    if (q->tokens > burst)
        q->tokens = burst;
    q->tokens_at_ms = now;
    if (q->tokens >= 1) {
        q->tokens -= 1;
        return 1;
    }
    *when = now + (int64_t)((1 - q->tokens) * 1000.0 / rate) + 1;
    return 0;
}

static void send_request(sync_engine *engine, sync_queue *q, connector *c, outgoing **items,
                         size_t n)
{
    char **texts = calloc(n, sizeof(*texts));
    size_t *lengths = calloc(n, sizeof(*lengths));
    flight *f = calloc(1, sizeof(*f));
    wharf_batch *batch;
    size_t kept = 0;

    if (texts == NULL || lengths == NULL || f == NULL) {
        log_error("connector %s: out of memory building a request", q->connector_id);
        for (size_t i = n; i-- > 0;) {
            busy_remove(&q->busy, busy_key(items[i]));
            window_prepend(q, items[i]);
        }
        free(texts);
        free(lengths);
        free(f);
        free(items);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        outgoing *item = items[i];
        line_data data = {.retry_in_ms = -1};

        item->attempt++;
        if (sync_outgoing_payload(item) == NULL) {
            batch_result failed = {.kind = WHARF_RESULT_RETRY,
                                   .retry_after_ms = -1,
                                   .reason = "out of memory writing the message"};
            handle_result(engine, q, c, item, &failed);
            continue;
        }
        /* The plugin reads the text; a parsed copy is not needed any more. */
        json_object_put(item->message);
        item->message = NULL;
        data.attempt = item->attempt;
        sync_log_item(engine, q->connector_id, item, SYNC_START, &data);
        texts[kept] = item->payload;
        lengths[kept] = item->payload_length;
        items[kept++] = item;
    }
    batch = kept > 0 ? batch_create_texts(c->instance, texts, lengths, kept) : NULL;
    free(texts);
    free(lengths);
    if (kept == 0) {
        free(items);
        free(f);
        return;
    }
    if (batch == NULL) {
        log_error("connector %s: out of memory building a request", q->connector_id);
        for (size_t i = kept; i-- > 0;) {
            busy_remove(&q->busy, busy_key(items[i]));
            items[i]->attempt--;
            window_prepend(q, items[i]);
        }
        free(items);
        free(f);
        return;
    }
    f->engine = engine;
    snprintf(f->connector_id, sizeof(f->connector_id), "%s", q->connector_id);
    f->items = items;
    f->count = kept;
    f->started_ns = uv_hrtime();
    q->in_flight++;
    q->in_flight_messages += kept;
    batch_run(batch, on_batch_done, f);
}

void sync_pump(sync_engine *engine, sync_queue *q)
{
    index_map blocked = {0};
    connector *c;

    if (engine->pumping || engine->stopping || engine->service->connectors == NULL)
        return;
    c = connector_find(engine->service->connectors, q->connector_id);
    if (c == NULL) {
        sync_queue_drain(engine, q, "connector was deleted");
        manual_batch_fail_connector(engine, q->connector_id, "connector was deleted");
        return;
    }
    /* A connector whose plugin is missing or rejected its settings keeps
     * its queue until it runs again. */
    if (c->instance == NULL)
        return;

    /* A paused connector sends nothing until the pause ends, and then one
     * request at a time until one of them gets through. */
    if (q->paused_until_ms > 0) {
        if (q->paused_until_ms > sync_now_ms()) {
            wake_at(q, q->paused_until_ms);
            return;
        }
        if (q->probing || q->in_flight > 0)
            return;
    }

    engine->pumping = 1;
    while (q->in_flight < c->max_connections && !q->probing) {
        size_t size = batch_size_of(c);
        int64_t now = sync_now_ms();
        int64_t next_due = 0;
        int64_t token_at = 0;
        outgoing **items;
        size_t n;

        load_from_store(engine, q);
        if (q->length == 0 && !q->spilled)
            manual_batch_refill(engine, q, size);
        if (q->length == 0)
            break;
        items = calloc(size, sizeof(*items));
        if (items == NULL) {
            log_error("connector %s: out of memory building a request", q->connector_id);
            break;
        }
        n = take_ready(q, items, size, now, &blocked, &next_due);
        if (n < size && !q->spilled && q->length == 0) {
            /* Room in this request: fill it from a running batch. */
            manual_batch_refill(engine, q, size - n);
            n += take_ready(q, items + n, size - n, now, &blocked, &next_due);
        }
        if (n == 0) {
            free(items);
            if (next_due > 0)
                wake_at(q, next_due);
            break;
        }
        if (!take_token(q, c, now, &token_at)) {
            for (size_t i = n; i-- > 0;) {
                busy_remove(&q->busy, busy_key(items[i]));
                window_prepend(q, items[i]);
            }
            free(items);
            wake_at(q, token_at);
            break;
        }
        if (next_due > 0)
            wake_at(q, next_due);
        if (q->paused_until_ms > 0)
            q->probing = 1;
        send_request(engine, q, c, items, n);
    }
    engine->pumping = 0;
    index_map_free(&blocked);
}

/* ---- shutdown ---- */

static void finish_drain_if_idle(sync_engine *engine)
{
    void (*done)(void *) = engine->drained;

    if (done == NULL || sync_in_flight_total(engine) > 0)
        return;
    engine->drained = NULL;
    if (engine->drain_timer_started) {
        uv_timer_stop(&engine->drain_timer);
        engine->drain_timer_started = 0;
    }
    done(engine->drained_data);
}

static void on_drain_timeout(uv_timer_t *handle)
{
    sync_engine *engine = handle->data;
    void (*done)(void *) = engine->drained;

    engine->drain_timer_started = 0;
    if (done == NULL)
        return;
    log_warn("plugin batches still in flight after the shutdown timeout: %zu; their messages "
             "are sent again after restart",
             sync_in_flight_total(engine));
    engine->drained = NULL;
    done(engine->drained_data);
}

void sync_engine_drain(sync_engine *engine, uint64_t timeout_ms, void (*done)(void *),
                       void *data)
{
    engine->stopping = 1;
    engine->drained = done;
    engine->drained_data = data;
    if (sync_in_flight_total(engine) == 0) {
        finish_drain_if_idle(engine);
        return;
    }
    log_info("waiting up to %llu ms for the plugin batches in flight (%zu)",
             (unsigned long long)timeout_ms, sync_in_flight_total(engine));
    engine->drain_timer_started = 1;
    uv_timer_start(&engine->drain_timer, on_drain_timeout, timeout_ms, 0);
}

void sync_queue_free(sync_queue *q)
{
    outgoing *item;

    while ((item = q->head) != NULL) {
        sync_queue_remove(q, item);
        sync_outgoing_free(q->engine, item);
    }
    index_map_free(&q->busy);
    sync_events_forget(q);
    free(q);
}

const double *sync_latency_bounds(void)
{
    return latency_bounds;
}
