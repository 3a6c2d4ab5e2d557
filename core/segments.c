#include "segments.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#include "connector.h"
#include "entities.h"
#include "ids.h"
#include "log.h"
#include "service.h"

/* Entities a recomputation evaluates between two lock releases, so that the
 * loop thread's writes never wait long. */
#define RECOMPUTE_CHUNK 65536
#define NAME_MAX_LENGTH 200

struct segment_set {
    service *service;
    struct entities *entities;
    segment *first;
    uv_timer_t *timer;
    segment_ready_fn on_ready;
    void *on_ready_data;
};

typedef struct recompute_work {
    uv_work_t work;
    segment_set *set;
    segment *segment;
    compiled_query *compiled;
    uint64_t generation;
    uint64_t start_sequence;
    int64_t now_ms;
    uint64_t *members;
    uint32_t words;
} recompute_work;

static int64_t current_ms(void)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
}

static compiled_query *compiled_new(segment_query *query)
{
    compiled_query *compiled = calloc(1, sizeof(*compiled));

    if (compiled == NULL) {
        segment_query_free(query);
        return NULL;
    }
    compiled->query = query;
    compiled->references = 1;
    return compiled;
}

static void compiled_release(compiled_query *compiled)
{
    if (compiled == NULL || --compiled->references > 0)
        return;
    segment_query_free(compiled->query);
    free(compiled);
}

segment_set *segment_set_create(service *svc, struct entities *e)
{
    segment_set *set = calloc(1, sizeof(*set));

    if (set != NULL) {
        set->service = svc;
        set->entities = e;
    }
    return set;
}

segment *segment_find(segment_set *set, const char *id)
{
    for (segment *s = set->first; s != NULL; s = s->next) {
        if (strcmp(s->id, id) == 0)
            return s;
    }
    return NULL;
}

segment *segment_find_by_name(segment_set *set, const char *name, const segment *except)
{
    for (segment *s = set->first; s != NULL; s = s->next) {
        if (s != except && strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

segment *segment_first(segment_set *set)
{
    return set->first;
}

static store_entity_kind kind_of(const segment *s)
{
    return s->type == SEGMENT_USERS ? STORE_USERS : STORE_ACCOUNTS;
}

static int bit_get(const uint64_t *bits, uint32_t words, uint32_t index)
{
    return index / 64 < words && (bits[index / 64] >> (index % 64)) & 1u;
}

/* Set or clear a member bit, growing the bitset. Returns -ENOMEM on failure. */
static int member_put(segment *s, uint32_t index, int member)
{
    uint32_t word = index / 64;

    if (word >= s->members_words) {
        uint32_t words;
        uint64_t *grown;

        if (!member)
            return 0;
        words = s->members_words == 0 ? 16 : s->members_words;
        while (words <= word)
            words *= 2;
        grown = realloc(s->members, (size_t)words * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        memset(grown + s->members_words, 0, (size_t)(words - s->members_words) * sizeof(*grown));
        s->members = grown;
        s->members_words = words;
    }
    if (member)
        s->members[word] |= (uint64_t)1 << (index % 64);
    else
        s->members[word] &= ~((uint64_t)1 << (index % 64));
    return 0;
}

static int evaluate(segment_set *set, const segment *s, const compiled_query *compiled,
                    uint32_t index, int64_t now_ms)
{
    struct entities *e = set->entities;
    segment_subject subject;

    memset(&subject, 0, sizeof(subject));
    subject.now_ms = now_ms;
    subject.index = index;
    subject.account_index = ATTR_NO_ENTITY;
    if (s->type == SEGMENT_USERS) {
        subject.table = e->users.attributes;
        subject.account_table = e->accounts.attributes;
        subject.account_index = (*entity_at(&e->users, index)).account;
        subject.events = e->events;
    } else {
        subject.table = e->accounts.attributes;
    }
    return segment_query_matches(compiled->query, &subject);
}

static const char *entity_id(segment_set *set, const segment *s, uint32_t index)
{
    return entity_at(entities_set(set->entities, kind_of(s)), index)->id;
}

/* Record a membership change in memory and in the store. */
static void change_membership(segment_set *set, segment *s, uint32_t index, int member)
{
    store *st = set->service->store;
    entity_update *update;

    if (member_put(s, index, member) != 0) {
        log_error("segment %s: out of memory recording a member", s->id);
        return;
    }
    if (member)
        s->size++;
    else
        s->size--;
    st->ops->membership_set(st, s->id, entity_id(set, s, index), member);
    update = entities_update_of(set->entities, kind_of(s), index);
    if (update != NULL)
        entities_update_add_segment(update, member, s->id);
    log_debug("segment %s: %s %s %s", s->id, s->type == SEGMENT_USERS ? "user" : "account",
              entity_id(set, s, index), member ? "entered" : "left");
}

static void reevaluate_one(segment_set *set, segment *s, uint32_t index, int64_t now_ms)
{
    int member = evaluate(set, s, s->compiled, index, now_ms);

    if (member != bit_get(s->members, s->members_words, index))
        change_membership(set, s, index, member);
}

void segment_set_entity_changed(segment_set *set, store_entity_kind kind, uint32_t index)
{
    int64_t now_ms = current_ms();
    entity_set *users = &set->entities->users;

    if (set == NULL)
        return;
    for (segment *s = set->first; s != NULL; s = s->next) {
        if (s->deleted || s->compiled == NULL)
            continue;
        if (kind_of(s) == kind) {
            reevaluate_one(set, s, index, now_ms);
            continue;
        }
        /* An account change can move its users in or out of user segments
         * that read account attributes.
         * NOTE: this scans every user; an account-to-users index would make
         * it proportional to the account's users. */
        if (kind == STORE_ACCOUNTS && s->type == SEGMENT_USERS) {
            for (uint32_t user = 0; user < users->capacity; user++) {
                if ((*entity_at(users, user)).id[0] != '\0' && (*entity_at(users, user)).account == index)
                    reevaluate_one(set, s, user, now_ms);
            }
        }
    }
}

void segment_set_entity_removed(segment_set *set, store_entity_kind kind, uint32_t index,
                                const char *id)
{
    store *st = set->service->store;

    for (segment *s = set->first; s != NULL; s = s->next) {
        if (kind_of(s) != kind || !bit_get(s->members, s->members_words, index))
            continue;
        member_put(s, index, 0);
        s->size--;
        st->ops->membership_set(st, s->id, id, 0);
    }
}

int segment_has_member(const segment *s, uint32_t index)
{
    return bit_get(s->members, s->members_words, index);
}

void segment_set_on_ready(segment_set *set, segment_ready_fn fn, void *user_data)
{
    set->on_ready = fn;
    set->on_ready_data = user_data;
}

static json_object *segment_ref(const char *id, const char *name)
{
    json_object *ref = json_object_new_object();

    json_object_object_add(ref, "id", json_object_new_string(id));
    json_object_object_add(ref, "name", name != NULL ? json_object_new_string(name) : NULL);
    return ref;
}

json_object *segment_set_refs_of(segment_set *set, store_entity_kind kind, uint32_t index)
{
    json_object *refs = json_object_new_array();

    for (segment *s = set->first; s != NULL; s = s->next) {
        if (!s->deleted && kind_of(s) == kind && bit_get(s->members, s->members_words, index))
            json_object_array_add(refs, segment_ref(s->id, s->name));
    }
    return refs;
}

json_object *segment_set_refs_from_ids(segment_set *set, const json_object *ids)
{
    json_object *refs = json_object_new_array();

    for (size_t i = 0; i < json_object_array_length(ids); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
        segment *s = segment_find(set, id);
        json_object_array_add(refs, segment_ref(id, s != NULL ? s->name : NULL));
    }
    return refs;
}

json_object *segment_set_ids_of(segment_set *set, store_entity_kind kind, uint32_t index)
{
    json_object *ids = json_object_new_array();

    for (segment *s = set->first; s != NULL; s = s->next) {
        if (!s->deleted && kind_of(s) == kind && bit_get(s->members, s->members_words, index))
            json_object_array_add(ids, json_object_new_string(s->id));
    }
    return ids;
}

/* Worker thread: evaluate every entity into a fresh bitset. */
static void recompute_on_thread(uv_work_t *work)
{
    recompute_work *job = work->data;
    segment_set *set = job->set;
    struct entities *e = set->entities;
    entity_set *entities = entities_set(e, kind_of(job->segment));
    uint32_t count;

    /* The loop thread adds entities under the write lock. */
    attr_table_read_lock(entities->attributes);
    count = attr_table_count(entities->attributes);
    attr_table_read_unlock(entities->attributes);

    job->words = count / 64 + 1;
    job->members = calloc(job->words, sizeof(*job->members));
    if (job->members == NULL)
        return;

    for (uint32_t start = 0; start < count; start += RECOMPUTE_CHUNK) {
        uint32_t end = count - start > RECOMPUTE_CHUNK ? start + RECOMPUTE_CHUNK : count;

        attr_table_read_lock(e->users.attributes);
        attr_table_read_lock(e->accounts.attributes);
        event_index_read_lock(e->events);
        for (uint32_t index = start; index < end; index++) {
            if (!attr_table_exists(entities->attributes, index))
                continue;
            if (evaluate(set, job->segment, job->compiled, index, job->now_ms))
                job->members[index / 64] |= (uint64_t)1 << (index % 64);
        }
        event_index_read_unlock(e->events);
        attr_table_read_unlock(e->accounts.attributes);
        attr_table_read_unlock(e->users.attributes);
    }
}

static void free_segment(segment *s)
{
    json_object_put(s->query);
    compiled_release(s->compiled);
    free(s->members);
    free(s->id);
    free(s->name);
    free(s->created_at);
    free(s->updated_at);
    free(s);
}

/* Loop thread: reconcile with changes made meanwhile, then apply the diff. */
static void recompute_done(uv_work_t *work, int status)
{
    recompute_work *job = work->data;
    segment_set *set = job->set;
    segment *s = job->segment;
    entity_set *entities = entities_set(set->entities, kind_of(s));
    store *st = set->service->store;
    uint32_t entered = 0;
    uint32_t left = 0;
    uint32_t words;

    (void)status;
    compiled_release(job->compiled);
    if (s->deleted) {
        free(job->members);
        free(job);
        /* The last recomputation of a deleted segment frees it. */
        if (--s->computing <= 0)
            free_segment(s);
        return;
    }
    s->computing--;
    if (job->generation != s->generation || job->members == NULL) {
        if (job->members == NULL)
            log_error("segment %s: out of memory during recomputation", s->id);
        free(job->members);
        free(job);
        return;
    }

    /* Entities changed after the worker started were evaluated on the loop
     * with newer data; evaluate them again now rather than trust the
     * worker's view. */
    for (uint32_t index = 0; index < entities->capacity; index++) {
        if ((*entity_at(entities, index)).id[0] == '\0' ||
            (*entity_at(entities, index)).change_sequence <= job->start_sequence)
            continue;
        if (index / 64 >= job->words)
            continue;
        if (evaluate(set, s, s->compiled, index, job->now_ms))
            job->members[index / 64] |= (uint64_t)1 << (index % 64);
        else
            job->members[index / 64] &= ~((uint64_t)1 << (index % 64));
    }

    /* NOTE: the diff is written on the loop thread; a first computation of
     * a segment with a million members blocks the loop for about a second. */
    words = job->words > s->members_words ? job->words : s->members_words;
    st->ops->begin(st);
    for (uint32_t word = 0; word < words; word++) {
        uint64_t before = word < s->members_words ? s->members[word] : 0;
        uint64_t after = word < job->words ? job->members[word] : 0;
        uint64_t diff = before ^ after;

        while (diff != 0) {
            uint32_t bit = (uint32_t)__builtin_ctzll(diff);
            uint32_t index = word * 64 + bit;
            int member = (after >> bit) & 1u;

            diff &= diff - 1;
            if (index >= entities->capacity || (*entity_at(entities, index)).id[0] == '\0')
                continue;
            change_membership(set, s, index, member);
            if (member)
                entered++;
            else
                left++;
        }
    }
    entities_prepare_updates(set->entities);
    if (st->ops->commit(st) != 0) {
        st->ops->rollback(st);
        log_error("segment %s: cannot store memberships: %s", s->id, store_error(st));
        entities_deliver_updates(set->entities, 0);
    } else {
        entities_deliver_updates(set->entities, 1);
    }

    if (s->computing == 0) {
        log_info("segment %s \"%s\" ready: %u members (%u entered, %u left)", s->id, s->name,
                 s->size, entered, left);
        if (set->on_ready != NULL)
            set->on_ready(set->on_ready_data, s);
    }
    free(job->members);
    free(job);
}

static void start_recompute(segment_set *set, segment *s)
{
    recompute_work *job = calloc(1, sizeof(*job));

    if (job == NULL) {
        log_error("segment %s: out of memory starting recomputation", s->id);
        return;
    }
    job->work.data = job;
    job->set = set;
    job->segment = s;
    job->compiled = s->compiled;
    s->compiled->references++;
    job->generation = s->generation;
    job->start_sequence = set->entities->sequence;
    job->now_ms = current_ms();
    s->computing++;
    if (uv_queue_work(set->service->loop, &job->work, recompute_on_thread, recompute_done) != 0) {
        s->computing--;
        compiled_release(job->compiled);
        log_error("segment %s: cannot queue recomputation", s->id);
        free(job);
    }
}

static const char *type_name(segment_type type)
{
    return type == SEGMENT_USERS ? "users" : "accounts";
}

json_object *segment_to_json(const segment *s)
{
    json_object *object = json_object_new_object();

    json_object_object_add(object, "id", json_object_new_string(s->id));
    json_object_object_add(object, "name", json_object_new_string(s->name));
    json_object_object_add(object, "type", json_object_new_string(type_name(s->type)));
    json_object_object_add(object, "query", json_object_get(s->query));
    json_object_object_add(object, "status",
                           json_object_new_string(s->computing > 0 ? "computing" : "ready"));
    json_object_object_add(object, "size", json_object_new_int64(s->size));
    json_object_object_add(object, "created_at", json_object_new_string(s->created_at));
    json_object_object_add(object, "updated_at", json_object_new_string(s->updated_at));
    return object;
}

static char *document_of(const segment *s)
{
    json_object *doc = json_object_new_object();
    char *text;

    json_object_object_add(doc, "name", json_object_new_string(s->name));
    json_object_object_add(doc, "type", json_object_new_string(type_name(s->type)));
    json_object_object_add(doc, "query", json_object_get(s->query));
    json_object_object_add(doc, "created_at", json_object_new_string(s->created_at));
    json_object_object_add(doc, "updated_at", json_object_new_string(s->updated_at));
    text = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
    return text;
}

static int save(segment_set *set, const segment *s, char *error, size_t error_size)
{
    store *st = set->service->store;
    char *document = document_of(s);
    int rc = document != NULL ? st->ops->segment_save(st, s->id, document) : -ENOMEM;

    free(document);
    if (rc != 0) {
        snprintf(error, error_size, "cannot save segment %s: %s", s->id, store_error(st));
        log_error("%s", error);
        return 500;
    }
    return 0;
}

/* Parsed and compiled body of a create or update. */
typedef struct segment_body {
    const char *name;
    segment_type type;
    json_object *query;
    segment_query *compiled;
} segment_body;

static int read_body(segment_set *set, json_object *body, segment_body *out, char *error,
                     size_t error_size)
{
    struct entities *e = set->entities;
    json_object *value;
    const char *type;

    memset(out, 0, sizeof(*out));
    if (body == NULL || !json_object_is_type(body, json_type_object)) {
        snprintf(error, error_size, "request body must be a JSON object");
        return -1;
    }
    json_object_object_foreach(body, key, member) {
        (void)member;
        if (strcmp(key, "name") != 0 && strcmp(key, "type") != 0 && strcmp(key, "query") != 0 &&
            strcmp(key, "id") != 0 && strcmp(key, "status") != 0 && strcmp(key, "size") != 0 &&
            strcmp(key, "created_at") != 0 && strcmp(key, "updated_at") != 0) {
            snprintf(error, error_size,
                     "unknown field \"%.64s\"; a segment has name, type and query", key);
            return -1;
        }
    }
    if (!json_object_object_get_ex(body, "name", &value) ||
        !json_object_is_type(value, json_type_string) || json_object_get_string_len(value) == 0 ||
        json_object_get_string_len(value) > NAME_MAX_LENGTH) {
        snprintf(error, error_size, "\"name\" must be a string of 1 to %d bytes", NAME_MAX_LENGTH);
        return -1;
    }
    out->name = json_object_get_string(value);

    if (!json_object_object_get_ex(body, "type", &value) ||
        !json_object_is_type(value, json_type_string)) {
        snprintf(error, error_size, "\"type\" must be \"users\" or \"accounts\"");
        return -1;
    }
    type = json_object_get_string(value);
    if (strcmp(type, "users") == 0) {
        out->type = SEGMENT_USERS;
    } else if (strcmp(type, "accounts") == 0) {
        out->type = SEGMENT_ACCOUNTS;
    } else {
        snprintf(error, error_size, "\"type\" must be \"users\" or \"accounts\", got \"%.32s\"",
                 type);
        return -1;
    }

    if (!json_object_object_get_ex(body, "query", &value) ||
        !json_object_is_type(value, json_type_object)) {
        snprintf(error, error_size, "\"query\" must be a JSON object; see docs/segments.md");
        return -1;
    }
    out->query = value;
    if (out->type == SEGMENT_USERS) {
        if (segment_query_compile(value, SEGMENT_USERS, e->users.attributes, e->accounts.attributes,
                                  e->events, &out->compiled, error, error_size) != 0)
            return -1;
    } else if (segment_query_compile(value, SEGMENT_ACCOUNTS, e->accounts.attributes, NULL, NULL,
                                     &out->compiled, error, error_size) != 0) {
        return -1;
    }
    return 0;
}

/* Names are unique so that wharfctl and operators can select a segment by
 * its name. Returns 0 when no segment but except has name, else -1 with error. */
static int check_name_free(segment_set *set, const char *name, const segment *except,
                           char *error, size_t error_size)
{
    const segment *other = segment_find_by_name(set, name, except);

    if (other == NULL)
        return 0;
    snprintf(error, error_size,
             "segment name \"%s\" is already used by segment %s; choose another name, or "
             "update that segment with PUT /api/v1/segments/%s",
             name, other->id, other->id);
    return -1;
}

int segment_create(segment_set *set, json_object *body, segment **created, char *error,
                   size_t error_size)
{
    segment_body parsed;
    segment *s;
    segment **tail;
    char id[ID_TEXT_SIZE];
    char now[TIMESTAMP_TEXT_SIZE];
    int rc;

    *created = NULL;
    if (read_body(set, body, &parsed, error, error_size) != 0)
        return 400;
    if (check_name_free(set, parsed.name, NULL, error, error_size) != 0) {
        segment_query_free(parsed.compiled);
        return 409;
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        segment_query_free(parsed.compiled);
        snprintf(error, error_size, "out of memory");
        return 500;
    }
    id_generate(id);
    timestamp_now(now);
    s->id = strdup(id);
    s->name = strdup(parsed.name);
    s->type = parsed.type;
    s->query = json_object_get(parsed.query);
    s->compiled = compiled_new(parsed.compiled);
    s->created_at = strdup(now);
    s->updated_at = strdup(now);

    rc = save(set, s, error, error_size);
    if (rc != 0) {
        free_segment(s);
        return rc;
    }
    for (tail = &set->first; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = s;
    log_info("segment %s created: \"%s\" over %s", s->id, s->name, type_name(s->type));
    start_recompute(set, s);
    *created = s;
    return 0;
}

int segment_update(segment_set *set, segment *s, json_object *body, char *error,
                   size_t error_size)
{
    segment_body parsed;
    compiled_query *compiled;
    char now[TIMESTAMP_TEXT_SIZE];
    int rc;

    if (read_body(set, body, &parsed, error, error_size) != 0)
        return 400;
    if (parsed.type != s->type) {
        segment_query_free(parsed.compiled);
        snprintf(error, error_size,
                 "segment %s is a %s segment; its type cannot change, so create a new segment",
                 s->id, type_name(s->type));
        return 400;
    }
    /* Keeping its own name is always allowed, so that a segment loaded
     * with a duplicate name can still change its query. */
    if (strcmp(parsed.name, s->name) != 0 &&
        check_name_free(set, parsed.name, s, error, error_size) != 0) {
        segment_query_free(parsed.compiled);
        return 409;
    }

    free(s->name);
    s->name = strdup(parsed.name);
    json_object_put(s->query);
    s->query = json_object_get(parsed.query);
    /* A recomputation still running keeps its own reference to the old query. */
    compiled = compiled_new(parsed.compiled);
    if (compiled == NULL) {
        snprintf(error, error_size, "out of memory");
        return 500;
    }
    compiled_release(s->compiled);
    s->compiled = compiled;
    s->generation++;
    timestamp_now(now);
    free(s->updated_at);
    s->updated_at = strdup(now);

    rc = save(set, s, error, error_size);
    if (rc != 0)
        return rc;
    log_info("segment %s updated; recomputing", s->id);
    start_recompute(set, s);
    return 0;
}

int segment_delete(segment_set *set, segment *target, char *error, size_t error_size)
{
    store *st = set->service->store;

    if (st->ops->segment_delete(st, target->id) != 0 ||
        st->ops->membership_clear(st, target->id) != 0) {
        snprintf(error, error_size, "cannot delete segment %s: %s", target->id, store_error(st));
        log_error("%s", error);
        return 500;
    }
    for (segment **link = &set->first; *link != NULL; link = &(*link)->next) {
        if (*link == target) {
            *link = target->next;
            break;
        }
    }
    connector_set_forget_segment(set->service->connectors, target->id);
    log_info("segment %s \"%s\" deleted", target->id, target->name);
    target->deleted = 1;
    if (target->computing == 0)
        free_segment(target);
    return 0;
}

static int restore_segment(const char *id, const char *document, void *user_data)
{
    segment_set *set = user_data;
    json_object *doc = json_tokener_parse(document);
    segment_body parsed;
    char error[1024];
    json_object *value;
    segment *s;
    segment **tail;

    if (doc == NULL || read_body(set, doc, &parsed, error, sizeof(error)) != 0) {
        log_error("stored segment %s is unreadable and was skipped: %s", id,
                  doc == NULL ? "invalid JSON" : error);
        json_object_put(doc);
        return 0;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        segment_query_free(parsed.compiled);
        json_object_put(doc);
        return -1;
    }
    s->id = strdup(id);
    s->name = strdup(parsed.name);
    s->type = parsed.type;
    s->query = json_object_get(parsed.query);
    s->compiled = compiled_new(parsed.compiled);
    s->created_at = strdup(json_object_object_get_ex(doc, "created_at", &value)
                               ? json_object_get_string(value) : "");
    s->updated_at = strdup(json_object_object_get_ex(doc, "updated_at", &value)
                               ? json_object_get_string(value) : "");
    json_object_put(doc);
    for (tail = &set->first; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = s;
    return 0;
}

static int restore_membership(const char *segment_id, const char *entity_id, void *user_data)
{
    segment_set *set = user_data;
    segment *s = segment_find(set, segment_id);
    uint32_t index;

    if (s == NULL)
        return 0;
    index = entities_find_by_id(entities_set(set->entities, kind_of(s)), entity_id);
    if (index == STRING_MAP_MISSING)
        return 0;
    if (member_put(s, index, 1) == 0)
        s->size++;
    return 0;
}

/* A store written before names were unique may hold several segments with
 * one name. They all load, because dropping one would lose its memberships
 * and whitelist entries. The warning names the segment to rename. */
static void warn_duplicate_names(segment_set *set)
{
    for (segment *s = set->first; s != NULL; s = s->next) {
        segment *first = segment_find_by_name(set, s->name, NULL);

        if (first == s)
            continue;
        log_warn("segments %s and %s share the name \"%s\", so that name cannot select one "
                 "of them; rename segment %s with PUT /api/v1/segments/%s",
                 first->id, s->id, s->name, s->id, s->id);
    }
}

int segment_set_restore(segment_set *set, char *error, size_t error_size)
{
    store *st = set->service->store;

    if (st->ops->segment_each(st, restore_segment, set) != 0 ||
        st->ops->membership_each(st, restore_membership, set) != 0) {
        snprintf(error, error_size, "cannot load segments: %s", store_error(st));
        return -1;
    }
    warn_duplicate_names(set);
    return 0;
}

static void on_timer(uv_timer_t *timer)
{
    segment_set *set = timer->data;

    for (segment *s = set->first; s != NULL; s = s->next) {
        if (s->computing == 0 && s->compiled != NULL &&
            segment_query_is_time_relative(s->compiled->query))
            start_recompute(set, s);
    }
}

int segment_set_start_timer(segment_set *set, unsigned interval_ms)
{
    set->timer = calloc(1, sizeof(*set->timer));
    if (set->timer == NULL)
        return -ENOMEM;
    uv_timer_init(set->service->loop, set->timer);
    set->timer->data = set;
    return uv_timer_start(set->timer, on_timer, interval_ms, interval_ms);
}

static void free_handle(uv_handle_t *handle)
{
    free(handle);
}

void segment_set_stop(segment_set *set)
{
    if (set == NULL || set->timer == NULL)
        return;
    uv_timer_stop(set->timer);
    uv_close((uv_handle_t *)set->timer, free_handle);
    set->timer = NULL;
}

void segment_set_free(segment_set *set)
{
    if (set == NULL)
        return;
    while (set->first != NULL) {
        segment *s = set->first;
        set->first = s->next;
        free_segment(s);
    }
    free(set);
}
