/*
 * Manual batches ("Send to"): a whole segment, or one user or account, sent
 * to one connector on demand. Messages are marked "is_export": true and
 * carry no changes and no events.
 *
 * Durability: before the API returns 202, the batch and its member list
 * (entity ids, in the order they are sent) are stored. Its progress is the
 * position up to which every message has a final outcome or sits in the
 * durable queue. It is stored about once a second, and a restart resumes
 * from there, so messages after it may go out twice.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "ids.h"
#include "log.h"
#include "message.h"
#include "plugin_loader.h"
#include "segments.h"
#include "service.h"
#include "store.h"
#include "sync_internal.h"

static const char STATE_WAITING[] = "waiting_for_segment";
static const char STATE_SENDING[] = "sending";
static const char STATE_DONE[] = "done";
static const char STATE_FAILED[] = "failed";
static const char STATE_REJECTED[] = "rejected";

static json_object *view_of(const manual_batch *batch)
{
    json_object *view = json_object_new_object();

    json_object_object_add(view, "id", json_object_new_string(batch->id));
    json_object_object_add(view, "connector_id", json_object_new_string(batch->connector_id));
    json_object_object_add(view, batch->target[0] == 's'   ? "segment_id"
                                 : batch->target[0] == 'u' ? "user_id"
                                                           : "account_id",
                           json_object_new_string(batch->target_id));
    json_object_object_add(view, "state", json_object_new_string(batch->state));
    json_object_object_add(view, "total", json_object_new_int64(batch->total));
    json_object_object_add(view, "sent", json_object_new_int64(batch->sent));
    json_object_object_add(view, "skipped", json_object_new_int64(batch->skipped));
    json_object_object_add(view, "failed", json_object_new_int64(batch->failed));
    json_object_object_add(view, "error",
                           batch->error != NULL ? json_object_new_string(batch->error) : NULL);
    json_object_object_add(view, "created_at", json_object_new_string(batch->created_at));
    json_object_object_add(view, "updated_at", json_object_new_string(batch->updated_at));
    return view;
}

static void save(sync_engine *engine, manual_batch *batch)
{
    json_object *view = view_of(batch);

    timestamp_now(batch->updated_at);
    json_object_object_add(view, "updated_at", json_object_new_string(batch->updated_at));
    /* What a restart resumes from; not part of the API view. */
    json_object_object_add(view, "handed_through", json_object_new_int64(batch->handed_through));
    json_object_object_add(view, "durable_sent", json_object_new_int64(batch->durable_sent));
    json_object_object_add(view, "durable_skipped", json_object_new_int64(batch->durable_skipped));
    json_object_object_add(view, "durable_failed", json_object_new_int64(batch->durable_failed));
    if (engine->store->ops->batch_save(engine->store, batch->id, batch->connector_id,
                                       json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN)) != 0)
        log_error("batch %s: cannot save its state: %s", batch->id, engine->store->error);
    json_object_put(view);
    batch->saved_ms = sync_now_ms();
}

static void set_state(sync_engine *engine, manual_batch *batch, const char *state,
                      const char *error)
{
    batch->state = state;
    if (error != NULL) {
        free(batch->error);
        batch->error = strdup(error);
    }
    save(engine, batch);
    log_info("batch %s for connector %s: %s (total %u, sent %u, skipped %u, failed %u)%s%s",
             batch->id, batch->connector_id, state, batch->total, batch->sent, batch->skipped,
             batch->failed, error != NULL ? ": " : "", error != NULL ? error : "");
}

manual_batch *manual_batch_find(sync_engine *engine, const char *id)
{
    for (manual_batch *b = engine->batches; b != NULL; b = b->next_batch) {
        if (strcmp(b->id, id) == 0)
            return b;
    }
    return NULL;
}

static void append(sync_engine *engine, manual_batch *batch)
{
    manual_batch **tail = &engine->batches;

    while (*tail != NULL)
        tail = &(*tail)->next_batch;
    *tail = batch;
}

static void release_members(sync_engine *engine, manual_batch *batch)
{
    store *st = engine->service->store;

    if (batch->members != NULL && batch->target[0] == 's' &&
        st->ops->batch_members_delete(st, batch->id) != 0)
        log_error("batch %s: cannot delete its member list: %s", batch->id, store_error(st));
    free(batch->members);
    batch->members = NULL;
    free(batch->outcomes);
    batch->outcomes = NULL;
    batch->outcomes_capacity = 0;
}

static void finish_if_done(sync_engine *engine, manual_batch *batch)
{
    if (batch->state != STATE_SENDING || !batch->exhausted || batch->outstanding > 0)
        return;
    release_members(engine, batch);
    batch->handed_through = batch->member_count;
    batch->durable_sent = batch->sent;
    batch->durable_skipped = batch->skipped;
    batch->durable_failed = batch->failed;
    if (batch->total > 0 && batch->failed == batch->total)
        set_state(engine, batch, STATE_FAILED, "every message failed; see the connector's log");
    else
        set_state(engine, batch, STATE_DONE, NULL);
}

/* Make room for the outcome of position. The ring contains the positions
 * from handed_through to next. */
static int reserve_outcome(manual_batch *batch, uint32_t position)
{
    uint32_t needed = position - batch->handed_through + 1;
    uint32_t capacity = batch->outcomes_capacity == 0 ? 256 : batch->outcomes_capacity;
    uint8_t *grown;

    if (needed <= batch->outcomes_capacity)
        return 0;
    while (capacity < needed)
        capacity *= 2;
    grown = calloc(capacity, 1);
    if (grown == NULL)
        return -1;
    for (uint32_t p = batch->handed_through; p < position; p++) {
        if (batch->outcomes != NULL)
            grown[p & (capacity - 1)] = batch->outcomes[p & (batch->outcomes_capacity - 1)];
    }
    free(batch->outcomes);
    batch->outcomes = grown;
    batch->outcomes_capacity = capacity;
    return 0;
}

static void count_outcome(manual_batch *batch, int outcome, int durable)
{
    if (outcome == POSITION_SENT) {
        batch->sent++;
        batch->durable_sent += durable;
    } else if (outcome == POSITION_SKIPPED) {
        batch->skipped++;
        batch->durable_skipped += durable;
    } else if (outcome == POSITION_FAILED) {
        batch->failed++;
        batch->durable_failed += durable;
    }
}

void manual_batch_settle(sync_engine *engine, outgoing *item, int outcome)
{
    manual_batch *batch = item->batch;
    uint32_t mask;

    if (batch == NULL)
        return;
    count_outcome(batch, outcome, 0);
    if (outcome != POSITION_QUEUED)
        batch->outstanding--;
    if (batch->outcomes != NULL && item->position >= batch->handed_through &&
        item->position < batch->next) {
        mask = batch->outcomes_capacity - 1;
        batch->outcomes[item->position & mask] = (uint8_t)outcome;
        /* Advance over every position that now has an outcome. */
        while (batch->handed_through < batch->next &&
               batch->outcomes[batch->handed_through & mask] != POSITION_PENDING) {
            int settled = batch->outcomes[batch->handed_through & mask];

            if (settled == POSITION_SENT)
                batch->durable_sent++;
            else if (settled == POSITION_SKIPPED)
                batch->durable_skipped++;
            else if (settled == POSITION_FAILED)
                batch->durable_failed++;
            batch->outcomes[batch->handed_through & mask] = POSITION_PENDING;
            batch->handed_through++;
        }
    }
    finish_if_done(engine, batch);
}

void manual_batch_count_queued(sync_engine *engine, const char *batch_id, int outcome)
{
    manual_batch *batch = manual_batch_find(engine, batch_id);

    if (batch == NULL)
        return;
    count_outcome(batch, outcome, 1);
    if (batch->outstanding > 0)
        batch->outstanding--;
    finish_if_done(engine, batch);
}

void manual_batch_save_progress(sync_engine *engine, int force)
{
    int64_t now = sync_now_ms();

    /* Every loop iteration calls this, and the list also contains every
     * finished batch, so it is walked at most once a second. */
    if (!force && now - engine->progress_saved_ms < 1000)
        return;
    engine->progress_saved_ms = now;
    for (manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch) {
        if (batch->state != STATE_SENDING || batch->needs_resume)
            continue;
        if (force || now - batch->saved_ms >= 1000)
            save(engine, batch);
    }
}

/* The member list as stored: entity ids, each followed by a NUL. */
static int store_members(sync_engine *engine, manual_batch *batch)
{
    entity_set *set = entities_set(engine->service->entities, batch->kind);
    store *st = engine->service->store;
    size_t size = (size_t)batch->member_count * 37 + 1;
    char *blob = malloc(size);
    size_t used = 0;
    int rc;

    if (blob == NULL)
        return -1;
    for (uint32_t i = 0; i < batch->member_count; i++) {
        const char *id = entity_at(set, batch->members[i])->id;
        size_t length = strnlen(id, 39);

        if (used + length + 1 > size) {
            char *grown = realloc(blob, size * 2);
            if (grown == NULL) {
                free(blob);
                return -1;
            }
            blob = grown;
            size *= 2;
        }
        memcpy(blob + used, id, length);
        blob[used + length] = '\0';
        used += length + 1;
    }
    rc = st->ops->batch_members_save(st, batch->id, blob, used);
    free(blob);
    if (rc != 0)
        log_error("batch %s: cannot store its member list: %s", batch->id, store_error(st));
    return rc;
}

/* Snapshot the segment's members and start sending. */
static void start_segment(sync_engine *engine, manual_batch *batch, const segment *s)
{
    uint32_t count = 0;

    batch->kind = s->type == SEGMENT_USERS ? STORE_USERS : STORE_ACCOUNTS;
    batch->members = s->size > 0 ? malloc((size_t)s->size * sizeof(uint32_t)) : NULL;
    if (s->size > 0 && batch->members == NULL) {
        set_state(engine, batch, STATE_FAILED, "out of memory");
        return;
    }
    for (uint32_t word = 0; word < s->members_words && count < s->size; word++) {
        uint64_t bits = s->members[word];

        while (bits != 0 && count < s->size) {
            batch->members[count++] = word * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
        }
    }
    batch->member_count = count;
    batch->total = count;
    batch->next = 0;
    batch->handed_through = 0;
    if (count > 0 && store_members(engine, batch) != 0) {
        release_members(engine, batch);
        set_state(engine, batch, STATE_FAILED, "cannot store the batch's member list; see wharfd's log");
        return;
    }
    batch->exhausted = batch->total == 0;
    set_state(engine, batch, STATE_SENDING, NULL);
    finish_if_done(engine, batch);
    if (batch->state == STATE_SENDING) {
        sync_queue *q = sync_queue_of(engine, batch->connector_id);
        if (q != NULL)
            sync_pump(engine, q);
    }
}

void manual_batch_refill(sync_engine *engine, sync_queue *q, size_t count)
{
    entities *e = engine->service->entities;

    for (manual_batch *batch = engine->batches; batch != NULL && count > 0;
         batch = batch->next_batch) {
        entity_set *set;

        if (batch->state != STATE_SENDING || batch->exhausted || batch->needs_resume ||
            batch->members == NULL || strcmp(batch->connector_id, q->connector_id) != 0)
            continue;
        set = entities_set(e, batch->kind);
        while (count > 0 && batch->next < batch->member_count) {
            uint32_t position = batch->next;
            uint32_t index = batch->members[position];
            outgoing *item;

            if (reserve_outcome(batch, position) != 0)
                break;
            batch->next++;
            batch->outstanding++;
            if (index == ATTR_NO_ENTITY || index >= set->capacity ||
                entity_at(set, index)->id[0] == '\0') {
                /* Merged into another entity since the batch started. */
                outgoing gone = {.batch = batch, .position = position};
                manual_batch_settle(engine, &gone, POSITION_SKIPPED);
                continue;
            }
            item = sync_outgoing_new_export(engine, batch->kind, index, batch);
            if (item == NULL) {
                outgoing failed = {.batch = batch, .position = position};
                log_error("batch %s: out of memory building a message", batch->id);
                manual_batch_settle(engine, &failed, POSITION_FAILED);
                continue;
            }
            item->from_members = 1;
            item->position = position;
            sync_queue_push(q, item);
            count--;
        }
        if (batch->next >= batch->member_count) {
            batch->exhausted = 1;
            finish_if_done(engine, batch);
        }
        /* One batch at a time per connector, in creation order. */
        if (!batch->exhausted)
            break;
    }
}

void sync_on_segment_ready(void *user_data, segment *s)
{
    sync_engine *engine = user_data;

    for (manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch) {
        if (batch->state == STATE_WAITING && !batch->needs_resume &&
            strcmp(batch->target_id, s->id) == 0)
            start_segment(engine, batch, s);
    }
}

void manual_batch_fail_connector(sync_engine *engine, const char *connector_id, const char *reason)
{
    for (manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch) {
        uint32_t settled;

        if (strcmp(batch->connector_id, connector_id) != 0)
            continue;
        if (batch->state != STATE_SENDING && batch->state != STATE_WAITING)
            continue;
        /* Messages in flight still report back; the rest are not sent. */
        batch->exhausted = 1;
        batch->needs_resume = 0;
        release_members(engine, batch);
        settled = batch->sent + batch->skipped + batch->failed + batch->outstanding;
        batch->failed += batch->total > settled ? batch->total - settled : 0;
        set_state(engine, batch, STATE_FAILED, reason);
    }
}

static int whitelisted(const json_object *whitelist, const char *segment_id)
{
    if (sync_whitelist_has_all(whitelist))
        return 1;
    for (size_t i = 0; i < json_object_array_length(whitelist); i++) {
        if (strcmp(json_object_get_string(json_object_array_get_idx(whitelist, i)), segment_id) == 0)
            return 1;
    }
    return 0;
}

static manual_batch *new_batch(connector *c, const char *target, const char *target_id)
{
    manual_batch *batch = calloc(1, sizeof(*batch));

    if (batch == NULL)
        return NULL;
    id_generate(batch->id);
    snprintf(batch->connector_id, sizeof(batch->connector_id), "%s", c->id);
    snprintf(batch->target, sizeof(batch->target), "%s", target);
    snprintf(batch->target_id, sizeof(batch->target_id), "%s", target_id);
    timestamp_now(batch->created_at);
    memcpy(batch->updated_at, batch->created_at, sizeof(batch->updated_at));
    return batch;
}

/* Queue the one message of a single-entity batch. */
static void queue_single(sync_engine *engine, manual_batch *batch, uint32_t index)
{
    sync_queue *q = sync_queue_of(engine, batch->connector_id);
    outgoing *item;

    batch->exhausted = 1;
    batch->member_count = 1;
    if (reserve_outcome(batch, 0) != 0) {
        batch->failed = 1;
        finish_if_done(engine, batch);
        return;
    }
    batch->next = 1;
    batch->outstanding = 1;
    item = q != NULL ? sync_outgoing_new_export(engine, batch->kind, index, batch) : NULL;
    if (item == NULL) {
        outgoing failed = {.batch = batch, .position = 0};
        manual_batch_settle(engine, &failed, POSITION_FAILED);
        return;
    }
    item->from_members = 1;
    item->position = 0;
    sync_queue_push(q, item);
    sync_pump(engine, q);
}

/* Send one user or account now. */
static void start_single(sync_engine *engine, connector *c, manual_batch *batch,
                         store_entity_kind kind, uint32_t index)
{
    entities *e = engine->service->entities;
    const wharf_plugin *plugin = &c->instance->plugin->descriptor;
    const json_object *whitelist = kind == STORE_USERS ? c->user_segments : c->account_segments;
    const char *setting = kind == STORE_USERS ? "synchronized_user_segments"
                                              : "synchronized_account_segments";

    batch->kind = kind;
    batch->total = 1;
    set_state(engine, batch, STATE_SENDING, NULL);

    if (plugin->batch_policy == WHARF_BATCH_REQUIRES_WHITELIST && !sync_whitelist_has_all(whitelist)) {
        json_object *ids = segment_set_ids_of(e->segments, kind, index);
        int allowed = 0;

        for (size_t i = 0; i < json_object_array_length(ids) && !allowed; i++)
            allowed = whitelisted(whitelist, json_object_get_string(json_object_array_get_idx(ids, i)));
        json_object_put(ids);
        if (!allowed) {
            char reason[512];
            snprintf(reason, sizeof(reason),
                     "plugin \"%s\" requires the whitelist, and none of this %s's segments is in "
                     "%s; add one of them to that setting",
                     c->plugin_name, kind == STORE_USERS ? "user" : "account", setting);
            sync_log_reason(engine, c->id, SYNC_SKIP, kind, index, batch->id, reason);
            batch->skipped = 1;
            batch->durable_skipped = 1;
            batch->exhausted = 1;
            finish_if_done(engine, batch);
            return;
        }
    }
    queue_single(engine, batch, index);
}

int sync_batch_create(sync_engine *engine, connector *c, json_object *body, json_object **view,
                      char *error, size_t error_size)
{
    service *svc = engine->service;
    entities *e = svc->entities;
    const char *target = NULL;
    const char *target_id = NULL;
    static const char *const targets[] = {"segment_id", "user_id", "account_id"};
    manual_batch *batch;

    *view = NULL;
    if (body == NULL || !json_object_is_type(body, json_type_object)) {
        snprintf(error, error_size, "request body must be a JSON object");
        return 400;
    }
    json_object_object_foreach(body, key, member) {
        int known = 0;
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(key, targets[i]) == 0) {
                known = 1;
                if (target != NULL) {
                    snprintf(error, error_size,
                             "give exactly one of segment_id, user_id and account_id, not both "
                             "%s and %s",
                             target, key);
                    return 400;
                }
                if (!json_object_is_type(member, json_type_string) ||
                    json_object_get_string_len(member) == 0) {
                    snprintf(error, error_size, "\"%s\" must be a non-empty string", key);
                    return 400;
                }
                target = targets[i];
                target_id = json_object_get_string(member);
            }
        }
        if (!known) {
            snprintf(error, error_size,
                     "unknown field \"%.64s\"; a batch has one of segment_id, user_id and account_id",
                     key);
            return 400;
        }
    }
    if (target == NULL) {
        snprintf(error, error_size, "give one of segment_id, user_id and account_id");
        return 400;
    }
    if (c->instance == NULL) {
        snprintf(error, error_size, "connector %s is not running (%s); fix it before sending", c->id,
                 c->error != NULL ? c->error : "no plugin instance");
        return 409;
    }

    if (strcmp(target, "segment_id") == 0) {
        segment *s = segment_find(svc->segments, target_id);
        const json_object *whitelist;
        uint32_t needed;

        if (s == NULL) {
            snprintf(error, error_size, "segment \"%.40s\" not found", target_id);
            return 404;
        }
        needed = s->type == SEGMENT_USERS ? WHARF_ENTITY_USER : WHARF_ENTITY_ACCOUNT;
        if ((c->instance->plugin->descriptor.entity_types & needed) == 0) {
            snprintf(error, error_size,
                     "segment \"%s\" is a segment of %s, which plugin \"%s\" does not accept",
                     s->name, s->type == SEGMENT_USERS ? "users" : "accounts", c->plugin_name);
            return 400;
        }
        batch = new_batch(c, "segment", s->id);
        if (batch == NULL) {
            snprintf(error, error_size, "out of memory");
            return 500;
        }
        append(engine, batch);

        whitelist = s->type == SEGMENT_USERS ? c->user_segments : c->account_segments;
        if (c->instance->plugin->descriptor.batch_policy == WHARF_BATCH_REQUIRES_WHITELIST &&
            !whitelisted(whitelist, s->id)) {
            snprintf(error, error_size,
                     "plugin \"%s\" requires the whitelist, and segment \"%s\" (%s) is not in "
                     "connector %s's %s; add it there to send this segment",
                     c->plugin_name, s->name, s->id, c->id,
                     s->type == SEGMENT_USERS ? "synchronized_user_segments"
                                              : "synchronized_account_segments");
            set_state(engine, batch, STATE_REJECTED, error);
            *view = view_of(batch);
            return 409;
        }
        if (s->computing > 0) {
            batch->total = s->size;
            set_state(engine, batch, STATE_WAITING, NULL);
        } else {
            start_segment(engine, batch, s);
        }
        /* The batch is stored before the 202. */
        engine->store->ops->log_flush(engine->store);
        *view = view_of(batch);
        return 202;
    }

    {
        store_entity_kind kind = strcmp(target, "user_id") == 0 ? STORE_USERS : STORE_ACCOUNTS;
        uint32_t index = entities_find_by_id(entities_set(e, kind), target_id);
        uint32_t needed = kind == STORE_USERS ? WHARF_ENTITY_USER : WHARF_ENTITY_ACCOUNT;

        if (index == STRING_MAP_MISSING) {
            snprintf(error, error_size, "%s \"%.40s\" not found",
                     kind == STORE_USERS ? "user" : "account", target_id);
            return 404;
        }
        if ((c->instance->plugin->descriptor.entity_types & needed) == 0) {
            snprintf(error, error_size, "plugin \"%s\" does not accept %s", c->plugin_name,
                     kind == STORE_USERS ? "users" : "accounts");
            return 400;
        }
        batch = new_batch(c, kind == STORE_USERS ? "user" : "account", target_id);
        if (batch == NULL) {
            snprintf(error, error_size, "out of memory");
            return 500;
        }
        append(engine, batch);
        start_single(engine, c, batch, kind, index);
        engine->store->ops->log_flush(engine->store);
        *view = view_of(batch);
        return 202;
    }
}

json_object *sync_batch_view(sync_engine *engine, const char *id)
{
    manual_batch *batch = manual_batch_find(engine, id);

    return batch != NULL ? view_of(batch) : NULL;
}

json_object *sync_batch_list(sync_engine *engine, const char *connector_id)
{
    json_object *list = json_object_new_array();

    for (manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch) {
        if (strcmp(batch->connector_id, connector_id) == 0)
            json_object_array_add(list, view_of(batch));
    }
    return list;
}

static const char *state_from_text(const char *text)
{
    static const char *const states[] = {STATE_WAITING, STATE_SENDING, STATE_DONE, STATE_FAILED,
                                         STATE_REJECTED};

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (text != NULL && strcmp(text, states[i]) == 0)
            return states[i];
    }
    return STATE_FAILED;
}

static const char *string_field(json_object *doc, const char *key)
{
    json_object *value;

    return json_object_object_get_ex(doc, key, &value) && json_object_is_type(value, json_type_string)
               ? json_object_get_string(value)
               : NULL;
}

static uint32_t count_field(json_object *doc, const char *key)
{
    json_object *value;

    return json_object_object_get_ex(doc, key, &value) ? (uint32_t)json_object_get_int64(value) : 0;
}

static int restore_one(const char *id, const char *document, void *user_data)
{
    sync_engine *engine = user_data;
    json_object *doc = json_tokener_parse(document);
    manual_batch *batch = calloc(1, sizeof(*batch));
    const char *text;

    if (doc == NULL || batch == NULL) {
        json_object_put(doc);
        free(batch);
        return 0;
    }
    snprintf(batch->id, sizeof(batch->id), "%s", id);
    snprintf(batch->connector_id, sizeof(batch->connector_id), "%s",
             string_field(doc, "connector_id") != NULL ? string_field(doc, "connector_id") : "");
    if ((text = string_field(doc, "segment_id")) != NULL)
        snprintf(batch->target, sizeof(batch->target), "segment");
    else if ((text = string_field(doc, "user_id")) != NULL)
        snprintf(batch->target, sizeof(batch->target), "user");
    else if ((text = string_field(doc, "account_id")) != NULL)
        snprintf(batch->target, sizeof(batch->target), "account");
    snprintf(batch->target_id, sizeof(batch->target_id), "%s", text != NULL ? text : "");
    batch->state = state_from_text(string_field(doc, "state"));
    batch->total = count_field(doc, "total");
    batch->sent = count_field(doc, "sent");
    batch->skipped = count_field(doc, "skipped");
    batch->failed = count_field(doc, "failed");
    if (string_field(doc, "error") != NULL)
        batch->error = strdup(string_field(doc, "error"));
    snprintf(batch->created_at, sizeof(batch->created_at), "%s",
             string_field(doc, "created_at") != NULL ? string_field(doc, "created_at") : "");
    snprintf(batch->updated_at, sizeof(batch->updated_at), "%s",
             string_field(doc, "updated_at") != NULL ? string_field(doc, "updated_at") : "");
    batch->handed_through = count_field(doc, "handed_through");
    batch->durable_sent = count_field(doc, "durable_sent");
    batch->durable_skipped = count_field(doc, "durable_skipped");
    batch->durable_failed = count_field(doc, "durable_failed");
    json_object_put(doc);
    append(engine, batch);

    /* A running batch resumes once connectors and segments are back. */
    if (batch->state == STATE_SENDING || batch->state == STATE_WAITING) {
        batch->needs_resume = 1;
        batch->sent = batch->durable_sent;
        batch->skipped = batch->durable_skipped;
        batch->failed = batch->durable_failed;
    }
    return 0;
}

typedef struct members_context {
    entity_set *set;
    manual_batch *batch;
    int failed;
} members_context;

static void read_members(const void *blob, size_t size, void *user_data)
{
    members_context *context = user_data;
    manual_batch *batch = context->batch;
    const char *text = blob;
    uint32_t count = 0;

    for (size_t i = 0; i < size; i++)
        count += text[i] == '\0';
    batch->members = count > 0 ? malloc((size_t)count * sizeof(uint32_t)) : NULL;
    if (count > 0 && batch->members == NULL) {
        context->failed = 1;
        return;
    }
    for (size_t i = 0, n = 0; i < size && n < count; n++) {
        const char *id = text + i;
        size_t length = strnlen(id, size - i);

        batch->members[n] = entities_find_by_id(context->set, id);
        i += length + 1;
    }
    batch->member_count = count;
}

/* Messages of each batch waiting in the durable queue (retries). */
static int count_queued_row(const store_delivery_row *row, void *user_data)
{
    sync_engine *engine = user_data;
    manual_batch *batch = row->batch_id != NULL ? manual_batch_find(engine, row->batch_id) : NULL;

    if (batch != NULL && batch->needs_resume)
        batch->outstanding++;
    return 0;
}

static void resume_one(sync_engine *engine, manual_batch *batch)
{
    service *svc = engine->service;
    store *st = svc->store;

    batch->needs_resume = 0;
    if (batch->target[0] == 's') {
        segment *s = segment_find(svc->segments, batch->target_id);
        members_context context = {NULL, batch, 0};

        if (batch->state == STATE_WAITING) {
            batch->outstanding = 0;
            if (s == NULL)
                set_state(engine, batch, STATE_FAILED, "its segment was deleted");
            else if (s->computing == 0)
                start_segment(engine, batch, s);
            return;
        }
        batch->kind = s != NULL && s->type == SEGMENT_ACCOUNTS ? STORE_ACCOUNTS : STORE_USERS;
        context.set = entities_set(svc->entities, batch->kind);
        if (st->ops->batch_members_load(st, batch->id, read_members, &context) != 0 ||
            context.failed) {
            set_state(engine, batch, STATE_FAILED,
                      "wharfd restarted and the batch's member list could not be read; send it "
                      "again");
            return;
        }
    } else {
        store_entity_kind kind = batch->target[0] == 'u' ? STORE_USERS : STORE_ACCOUNTS;
        uint32_t index = entities_find_by_id(entities_set(svc->entities, kind), batch->target_id);

        batch->kind = kind;
        if (batch->handed_through == 0) {
            if (index == STRING_MAP_MISSING) {
                batch->failed = 1;
                batch->exhausted = 1;
                finish_if_done(engine, batch);
            } else {
                queue_single(engine, batch, index);
            }
            return;
        }
        batch->member_count = 1;
    }
    batch->next = batch->handed_through < batch->member_count ? batch->handed_through
                                                                : batch->member_count;
    batch->handed_through = batch->next;
    batch->exhausted = batch->next >= batch->member_count;
    log_info("batch %s for connector %s: resuming at message %u of %u", batch->id,
             batch->connector_id, batch->next, batch->member_count);
    finish_if_done(engine, batch);
}

void manual_batch_resume(sync_engine *engine)
{
    store *st = engine->service->store;
    int any = 0;

    for (manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch)
        any |= batch->needs_resume;
    if (!any)
        return;
    if (st->ops->delivery_each(st, NULL, 0, 0, 0, count_queued_row, engine) != 0)
        log_error("cannot read the delivery queue: %s", store_error(st));
    for (manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch) {
        if (batch->needs_resume)
            resume_one(engine, batch);
    }
}

void manual_batch_restore(sync_engine *engine)
{
    if (engine->store->ops->batch_each(engine->store, NULL, restore_one, engine) != 0)
        log_error("cannot load manual batches: %s", engine->store->error);
}

size_t manual_batch_count_unfinished(const sync_engine *engine)
{
    size_t count = 0;

    for (const manual_batch *batch = engine->batches; batch != NULL; batch = batch->next_batch) {
        if (batch->state == STATE_SENDING || batch->state == STATE_WAITING)
            count++;
    }
    return count;
}

void manual_batch_free_all(sync_engine *engine)
{
    while (engine->batches != NULL) {
        manual_batch *batch = engine->batches;
        engine->batches = batch->next_batch;
        free(batch->members);
        free(batch->outcomes);
        free(batch->error);
        free(batch);
    }
}
