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

/* Batch size when a plugin leaves max_batch_size at 0. */
#define DEFAULT_BATCH_SIZE 100
/* Attempts before a message that keeps asking for a retry is given up. */
#define MAX_ATTEMPTS 5
#define RETRY_BASE_MS 500
#define RETRY_CAP_MS 60000
#define PURGE_INTERVAL_MS (60 * 60 * 1000)

int64_t sync_now_ms(void)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
}

/* The data of a log line; fields that are 0, NULL or negative are left out. */
typedef struct line_data {
    unsigned attempt;
    int status_code;
    const char *reason;
    int64_t retry_in_ms;
} line_data;

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

/* A log line about an outgoing message. */
static void write_item_line(sync_engine *engine, const char *connector_id, const outgoing *item,
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

sync_queue *sync_queue_of(sync_engine *engine, const char *connector_id)
{
    sync_queue *q;

    for (q = engine->queues; q != NULL; q = q->next) {
        if (strcmp(q->connector_id, connector_id) == 0)
            return q;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    snprintf(q->connector_id, sizeof(q->connector_id), "%s", connector_id);
    q->engine = engine;
    q->next = engine->queues;
    engine->queues = q;
    return q;
}

outgoing *sync_outgoing_new(sync_engine *engine, store_entity_kind kind, uint32_t index,
                            json_object *message, manual_batch *batch)
{
    outgoing *item = calloc(1, sizeof(*item));

    if (item == NULL) {
        json_object_put(message);
        return NULL;
    }
    item->message = message;
    item->kind = kind;
    item->batch = batch;
    entity_log_fields(engine, kind, index, item->user_id, item->account_id, &item->claims_text);
    return item;
}

static void outgoing_free(outgoing *item)
{
    json_object_put(item->message);
    free(item->claims_text);
    free(item);
}

void sync_queue_push(sync_queue *q, outgoing *item)
{
    item->next = NULL;
    if (q->tail != NULL)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->length++;
}

static outgoing *queue_pop(sync_queue *q)
{
    outgoing *item = q->head;

    if (item == NULL)
        return NULL;
    q->head = item->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->length--;
    item->next = NULL;
    return item;
}

static size_t batch_size_of(const connector *c)
{
    size_t size = c->instance->plugin->descriptor.max_batch_size;

    return size == 0 ? DEFAULT_BATCH_SIZE : size;
}

/* Record a final outcome for a message of a manual batch. */
static void count_outcome(sync_engine *engine, outgoing *item, wharf_result_kind kind)
{
    manual_batch *batch = item->batch;

    if (batch == NULL)
        return;
    if (kind == WHARF_RESULT_SUCCESS)
        batch->sent++;
    else if (kind == WHARF_RESULT_SKIP)
        batch->skipped++;
    else
        batch->failed++;
    batch->outstanding--;
    manual_batch_progress(engine, batch);
}

/* A batch of messages handed to the plugin. */
typedef struct flight {
    sync_engine *engine;
    char connector_id[40];
    outgoing **items;
    size_t count;
} flight;

struct retry_timer {
    uv_timer_t handle;
    sync_engine *engine;
    char connector_id[40];
    outgoing *items; /* chained through next */
    struct retry_timer *next; /* in engine->retries */
};

static void unlink_retry(sync_engine *engine, retry_timer *timer)
{
    for (retry_timer **link = &engine->retries; *link != NULL; link = &(*link)->next) {
        if (*link == timer) {
            *link = timer->next;
            return;
        }
    }
}

static void close_retry_timer(uv_handle_t *handle)
{
    free(handle->data);
}

static void on_retry_timer(uv_timer_t *handle)
{
    retry_timer *timer = handle->data;
    sync_queue *q = sync_queue_of(timer->engine, timer->connector_id);
    outgoing *item = timer->items;

    while (item != NULL) {
        outgoing *next = item->next;
        if (q != NULL)
            sync_queue_push(q, item);
        else
            outgoing_free(item);
        item = next;
    }
    timer->items = NULL;
    unlink_retry(timer->engine, timer);
    uv_close((uv_handle_t *)handle, close_retry_timer);
    if (q != NULL)
        sync_pump(timer->engine, q);
}

/* Exponential backoff with full jitter, unless the destination named a delay. */
static uint64_t retry_delay_ms(unsigned attempt, int64_t asked_ms)
{
    uint64_t ceiling;

    if (asked_ms >= 0)
        return (uint64_t)asked_ms;
    ceiling = (uint64_t)RETRY_BASE_MS << (attempt < 10 ? attempt : 10);
    if (ceiling > RETRY_CAP_MS)
        ceiling = RETRY_CAP_MS;
    return (uint64_t)(rand() % (int)ceiling) + 1;
}

static void schedule_retry(sync_engine *engine, const char *connector_id, outgoing *item,
                           uint64_t delay_ms)
{
    retry_timer *timer = calloc(1, sizeof(*timer));

    if (timer == NULL || engine->stopping) {
        line_data data = {
            .reason = engine->stopping ? "wharfd is stopping; the retry was dropped"
                                       : "out of memory scheduling a retry",
            .retry_in_ms = -1,
        };

        free(timer);
        write_item_line(engine, connector_id, item, SYNC_ERROR, &data);
        count_outcome(engine, item, WHARF_RESULT_ERROR);
        outgoing_free(item);
        return;
    }
    timer->engine = engine;
    snprintf(timer->connector_id, sizeof(timer->connector_id), "%s", connector_id);
    timer->items = item;
    item->next = NULL;
    uv_timer_init(engine->service->loop, &timer->handle);
    timer->handle.data = timer;
    uv_timer_start(&timer->handle, on_retry_timer, delay_ms, 0);
    timer->next = engine->retries;
    engine->retries = timer;
}

static void on_batch_done(wharf_batch *batch, void *user_data)
{
    flight *f = user_data;
    sync_engine *engine = f->engine;
    sync_queue *q = sync_queue_of(engine, f->connector_id);

    for (size_t i = 0; i < f->count; i++) {
        outgoing *item = f->items[i];
        const batch_result *result = batch_result_at(batch, i);
        line_data data = {
            .attempt = item->attempt,
            .status_code = result->status_code,
            .reason = result->reason,
            .retry_in_ms = -1,
        };
        char reason[600];

        if (result->kind == WHARF_RESULT_RETRY && item->attempt < MAX_ATTEMPTS) {
            uint64_t delay = retry_delay_ms(item->attempt, result->retry_after_ms);

            data.retry_in_ms = (int64_t)delay;
            write_item_line(engine, f->connector_id, item, SYNC_RETRY, &data);
            schedule_retry(engine, f->connector_id, item, delay);
            continue;
        }
        if (result->kind == WHARF_RESULT_RETRY) {
            snprintf(reason, sizeof(reason), "gave up after %u attempts: %s", item->attempt,
                     result->reason != NULL ? result->reason : "retry requested");
            data.reason = reason;
        }
        write_item_line(engine, f->connector_id, item,
                        result->kind == WHARF_RESULT_SUCCESS ? SYNC_SUCCESS
                        : result->kind == WHARF_RESULT_SKIP  ? SYNC_SKIP
                                                             : SYNC_ERROR,
                        &data);
        count_outcome(engine, item,
                      result->kind == WHARF_RESULT_RETRY ? WHARF_RESULT_ERROR : result->kind);
        outgoing_free(item);
    }

    batch_free(batch);
    free(f->items);
    free(f);
    if (q != NULL) {
        q->in_flight--;
        sync_pump(engine, q);
    }
}

/* Fail every queued message of a connector that cannot send. */
static void drain_queue(sync_engine *engine, sync_queue *q, const char *reason)
{
    line_data data = {.reason = reason, .retry_in_ms = -1};
    outgoing *item;

    while ((item = queue_pop(q)) != NULL) {
        write_item_line(engine, q->connector_id, item, SYNC_ERROR, &data);
        count_outcome(engine, item, WHARF_RESULT_ERROR);
        outgoing_free(item);
    }
}

void sync_pump(sync_engine *engine, sync_queue *q)
{
    connector *c;

    if (engine->pumping || engine->stopping || engine->service->connectors == NULL)
        return;
    c = connector_find(engine->service->connectors, q->connector_id);
    if (c == NULL) {
        drain_queue(engine, q, "connector was deleted");
        manual_batch_fail_connector(engine, q->connector_id, "connector was deleted");
        return;
    }
    if (c->instance == NULL) {
        char reason[600];
        snprintf(reason, sizeof(reason), "connector is not running: %s",
                 c->error != NULL ? c->error : "no plugin instance");
        drain_queue(engine, q, reason);
        manual_batch_fail_connector(engine, q->connector_id, reason);
        return;
    }

    engine->pumping = 1;
    while (q->in_flight < c->max_connections) {
        size_t size = batch_size_of(c);
        json_object **messages;
        flight *f;
        wharf_batch *batch;
        size_t n;

        if (q->length == 0)
            manual_batch_refill(engine, q, size);
        if (q->length == 0)
            break;
        n = q->length < size ? q->length : size;

        f = calloc(1, sizeof(*f));
        messages = calloc(n, sizeof(*messages));
        if (f != NULL)
            f->items = calloc(n, sizeof(*f->items));
        if (f == NULL || messages == NULL || f->items == NULL) {
            log_error("connector %s: out of memory building a batch", q->connector_id);
            if (f != NULL)
                free(f->items);
            free(f);
            free(messages);
            break;
        }
        f->engine = engine;
        snprintf(f->connector_id, sizeof(f->connector_id), "%s", q->connector_id);
        f->count = n;
        for (size_t i = 0; i < n; i++) {
            outgoing *item = queue_pop(q);
            line_data data = {.retry_in_ms = -1};

            item->attempt++;
            f->items[i] = item;
            messages[i] = item->message;
            data.attempt = item->attempt;
            write_item_line(engine, q->connector_id, item, SYNC_START, &data);
        }
        batch = batch_create(c->instance, messages, n);
        free(messages);
        if (batch == NULL) {
            log_error("connector %s: out of memory building a batch", q->connector_id);
            for (size_t i = 0; i < n; i++)
                sync_queue_push(q, f->items[i]);
            free(f->items);
            free(f);
            break;
        }
        q->in_flight++;
        batch_run(batch, on_batch_done, f);
    }
    engine->pumping = 0;
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

/* Decide and enqueue (or log a skip) for one update and one connector. */
static void route_update(sync_engine *engine, connector *c, const entity_update *update)
{
    entities *e = engine->service->entities;
    const json_object *whitelist = update->kind == STORE_USERS ? c->user_segments : c->account_segments;
    const char *setting = update->kind == STORE_USERS ? "synchronized_user_segments"
                                                      : "synchronized_account_segments";
    const char *noun = update->kind == STORE_USERS ? "user" : "account";
    char reason[1024];
    json_object *current;
    sync_queue *q;
    outgoing *item;
    int send;

    if (c->instance == NULL) {
        snprintf(reason, sizeof(reason), "connector is not running: %s",
                 c->error != NULL ? c->error : "no plugin instance");
        sync_log_reason(engine, c->id, SYNC_SKIP, update->kind, update->index, NULL, reason);
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
        sync_log_reason(engine, c->id, SYNC_SKIP, update->kind, update->index, NULL, reason);
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
        sync_log_reason(engine, c->id, SYNC_SKIP, update->kind, update->index, NULL, reason);
        return;
    }

    q = sync_queue_of(engine, c->id);
    item = q != NULL ? sync_outgoing_new(engine, update->kind, update->index,
                                         message_build(e, update->kind, update->index, update), NULL)
                     : NULL;
    if (item == NULL) {
        log_error("connector %s: out of memory queueing a message", c->id);
        return;
    }
    sync_queue_push(q, item);
}

void sync_on_updates(void *user_data, const entity_update *updates, size_t count)
{
    sync_engine *engine = user_data;
    service *svc = engine->service;

    if (svc->connectors == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        if (updates[i].index == ATTR_NO_ENTITY)
            continue;
        for (connector *c = connector_first(svc->connectors); c != NULL; c = c->next)
            route_update(engine, c, &updates[i]);
    }
    for (sync_queue *q = engine->queues; q != NULL; q = q->next) {
        if (q->length > 0)
            sync_pump(engine, q);
    }
}

void sync_connector_removed(sync_engine *engine, const char *connector_id)
{
    for (sync_queue *q = engine->queues; q != NULL; q = q->next) {
        if (strcmp(q->connector_id, connector_id) == 0) {
            drain_queue(engine, q, "connector was deleted");
            break;
        }
    }
    manual_batch_fail_connector(engine, connector_id, "connector was deleted");
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

/* Commit the log lines written during this loop iteration. */
static void on_check(uv_check_t *handle)
{
    sync_engine *engine = handle->data;

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
    purge(engine);
    engine->started = 1;
    return uv_timer_start(&engine->purge_timer, on_purge_timer, PURGE_INTERVAL_MS,
                          PURGE_INTERVAL_MS);
}

void sync_engine_stop(sync_engine *engine)
{
    if (engine == NULL || !engine->started)
        return;
    engine->stopping = 1;
    uv_close((uv_handle_t *)&engine->check, NULL);
    uv_close((uv_handle_t *)&engine->purge_timer, NULL);
    /* NOTE: queued and retrying messages are lost at shutdown; a durable
     * queue would keep them. */
    while (engine->retries != NULL) {
        retry_timer *timer = engine->retries;
        engine->retries = timer->next;
        while (timer->items != NULL) {
            outgoing *next = timer->items->next;
            outgoing_free(timer->items);
            timer->items = next;
        }
        uv_timer_stop(&timer->handle);
        uv_close((uv_handle_t *)&timer->handle, close_retry_timer);
    }
    engine->started = 0;
}

void sync_engine_free(sync_engine *engine)
{
    if (engine == NULL)
        return;
    while (engine->queues != NULL) {
        sync_queue *q = engine->queues;
        outgoing *item;
        engine->queues = q->next;
        while ((item = queue_pop(q)) != NULL)
            outgoing_free(item);
        free(q);
    }
    manual_batch_free_all(engine);
    engine->store->ops->close(engine->store);
    free(engine->data_text.data);
    free(engine);
}
