#include "entities.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "attr_value.h"
#include "ids.h"
#include "ingest_attributes.h"
#include "ingest_claims.h"
#include "log.h"
#include "name_table.h"
#include "segments.h"
#include "service.h"
#include "value_pool.h"

/* Random bytes for new entity ids, fetched from getrandom(2) a page at a
 * time because a system call per entity showed in ingest profiles. Only
 * the loop thread creates entities. */
static uint8_t random_pool[4096];
static size_t random_pool_used = sizeof(random_pool);

/* The text of an entity's attributes for the store, reused from one save
 * to the next (loop thread only). */
static char *save_buffer;
static size_t save_buffer_capacity;

static void take_random(uint8_t *bytes, size_t count)
{
    if (sizeof(random_pool) - random_pool_used < count) {
        size_t filled = 0;

        while (filled < sizeof(random_pool)) {
            ssize_t got = getrandom(random_pool + filled, sizeof(random_pool) - filled, 0);

            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                /* Without randomness ids could repeat, as in id_generate(). */
                log_error("getrandom failed: %s", strerror(errno));
                abort();
            }
            filled += (size_t)got;
        }
        random_pool_used = 0;
    }
    memcpy(bytes, random_pool + random_pool_used, count);
    random_pool_used += count;
}

/* A new entity id: a UUID of version 7 (RFC 9562, section 5.7), 48 bits
 * of Unix time in milliseconds followed by 74 random bits. Ids made later
 * sort after earlier ones, so the store's primary key index grows at its
 * end. With random (version 4) ids every new entity wrote an index page at
 * a random place, and SQLite took about six times as long per insert at a
 * million users (bench_ingest_sqlite in docs/benchmarks.md). */
static void generate_entity_id(char id[ID_TEXT_SIZE], int64_t created_ms)
{
    uint8_t bytes[ID_BYTES];
    uint64_t ms = (uint64_t)created_ms;

    for (int i = 0; i < 6; i++)
        bytes[i] = (uint8_t)(ms >> (40 - 8 * i));
    take_random(bytes + 6, 10);
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x70);
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80);
    id_format(bytes, id);
}

static int64_t now_ms(void)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
}

static void put_digits(char *at, int value, int count)
{
    for (int i = count - 1; i >= 0; i--) {
        at[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* timestamp_format_ms() with the digits written by hand for times from
 * 1970 to 9999, the ones ingest writes twice per saved entity, because
 * strftime() and snprintf() showed in ingest profiles. */
static void format_ms(int64_t ms, char text[TIMESTAMP_TEXT_SIZE])
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm utc;

    if (ms < 0 || gmtime_r(&seconds, &utc) == NULL || utc.tm_year + 1900 > 9999) {
        timestamp_format_ms(ms, text);
        return;
    }
    put_digits(text, utc.tm_year + 1900, 4);
    text[4] = '-';
    put_digits(text + 5, utc.tm_mon + 1, 2);
    text[7] = '-';
    put_digits(text + 8, utc.tm_mday, 2);
    text[10] = 'T';
    put_digits(text + 11, utc.tm_hour, 2);
    text[13] = ':';
    put_digits(text + 14, utc.tm_min, 2);
    text[16] = ':';
    put_digits(text + 17, utc.tm_sec, 2);
    text[19] = '.';
    put_digits(text + 20, (int)(ms % 1000), 3);
    text[23] = 'Z';
    text[24] = '\0';
}

/* Parse the "YYYY-MM-DDTHH:MM:SS.mmmZ" form this module writes. */
static int64_t parse_ms(const char *text)
{
    struct tm utc;
    int milliseconds = 0;

    memset(&utc, 0, sizeof(utc));
    if (text == NULL || sscanf(text, "%d-%d-%dT%d:%d:%d.%dZ", &utc.tm_year, &utc.tm_mon,
                               &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec,
                               &milliseconds) < 6)
        return now_ms();
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    return (int64_t)timegm(&utc) * 1000 + milliseconds;
}

static int set_init(entity_set *set, store_entity_kind kind)
{
    memset(set, 0, sizeof(*set));
    set->kind = kind;
    set->attributes = attr_table_create();
    set->pages = calloc(ENTITY_MAX_PAGES, sizeof(*set->pages));
    string_map_init(&set->by_id);
    string_map_init(&set->by_external_id);
    string_map_init(&set->by_key_claim);
    string_map_init(&set->by_anonymous_id);
    return set->attributes != NULL && set->pages != NULL ? 0 : -ENOMEM;
}

static void record_clear(entity_record *record)
{
    free(record->external_id);
    free(record->key_claim);
    for (uint32_t i = 0; i < record->anonymous_count; i++)
        free(record->anonymous_ids[i]);
    free(record->anonymous_ids);
    memset(record, 0, sizeof(*record));
    record->account = ATTR_NO_ENTITY;
    record->next_same_key = ATTR_NO_ENTITY;
}

static void set_free(entity_set *set)
{
    for (uint32_t i = 0; i < set->capacity; i++)
        record_clear(entity_at(set, i));
    for (uint32_t page = 0; set->pages != NULL && page < ENTITY_MAX_PAGES; page++)
        free(set->pages[page]);
    free(set->pages);
    attr_table_free(set->attributes);
    string_map_free(&set->by_id);
    string_map_free(&set->by_external_id);
    string_map_free(&set->by_key_claim);
    string_map_free(&set->by_anonymous_id);
}

entities *entities_create(service *svc)
{
    entities *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->service = svc;
    e->events = event_index_create();
    if (set_init(&e->users, STORE_USERS) != 0 || set_init(&e->accounts, STORE_ACCOUNTS) != 0 ||
        e->events == NULL) {
        entities_free(e);
        return NULL;
    }
    return e;
}

void entities_free(entities *e)
{
    if (e == NULL)
        return;
    set_free(&e->users);
    set_free(&e->accounts);
    event_index_free(e->events);
    free(e->updates);
    free(e);
    free(save_buffer);
    save_buffer = NULL;
    save_buffer_capacity = 0;
}

entity_set *entities_set(entities *e, store_entity_kind kind)
{
    return kind == STORE_USERS ? &e->users : &e->accounts;
}

uint64_t entities_next_sequence(entities *e)
{
    return ++e->sequence;
}

uint32_t entities_find_by_id(const entity_set *set, const char *id)
{
    return string_map_get(&set->by_id, id);
}

/* Allocate the page that holds index. */
static int reserve(entity_set *set, uint32_t index)
{
    uint32_t page = index >> ENTITY_PAGE_BITS;
    entity_record *records;

    if (index < set->capacity)
        return 0;
    if (page >= ENTITY_MAX_PAGES)
        return -ENOMEM;
    while (set->capacity <= index) {
        page = set->capacity >> ENTITY_PAGE_BITS;
        records = calloc(ENTITY_PAGE_SIZE, sizeof(*records));
        if (records == NULL)
            return -ENOMEM;
        for (uint32_t i = 0; i < ENTITY_PAGE_SIZE; i++) {
            records[i].account = ATTR_NO_ENTITY;
            records[i].next_same_key = ATTR_NO_ENTITY;
        }
        set->pages[page] = records;
        set->capacity += ENTITY_PAGE_SIZE;
    }
    return 0;
}

/* A new, empty entity; id NULL generates one. */
static uint32_t create_entity(entity_set *set, const char *id, int64_t created_ms)
{
    uint32_t index = attr_table_add(set->attributes);
    entity_record *record;

    if (index == ATTR_NO_ENTITY || reserve(set, index) != 0)
        return ATTR_NO_ENTITY;
    record = entity_at(set, index);
    record_clear(record);
    if (id != NULL)
        snprintf(record->id, sizeof(record->id), "%s", id);
    else
        generate_entity_id(record->id, created_ms);
    record->created_ms = created_ms;
    record->updated_ms = created_ms;
    string_map_put(&set->by_id, record->id, index);
    set->count++;
    return index;
}

/* Claims: the email or domain chain links all entities sharing it. */
static void key_claim_link(entity_set *set, uint32_t index)
{
    entity_record *record = entity_at(set, index);
    uint32_t head = string_map_get(&set->by_key_claim, record->key_claim);

    record->next_same_key = ATTR_NO_ENTITY;
    if (head == STRING_MAP_MISSING) {
        string_map_put(&set->by_key_claim, record->key_claim, index);
        return;
    }
    /* Append, so the oldest entity stays first and is found first. */
    while ((*entity_at(set, head)).next_same_key != ATTR_NO_ENTITY)
        head = (*entity_at(set, head)).next_same_key;
    (*entity_at(set, head)).next_same_key = index;
}

static void key_claim_unlink(entity_set *set, uint32_t index)
{
    entity_record *record = entity_at(set, index);
    uint32_t head;

    if (record->key_claim == NULL)
        return;
    head = string_map_get(&set->by_key_claim, record->key_claim);
    if (head == index) {
        if (record->next_same_key == ATTR_NO_ENTITY)
            string_map_remove(&set->by_key_claim, record->key_claim);
        else
            string_map_put(&set->by_key_claim, record->key_claim, record->next_same_key);
    } else {
        while (head != STRING_MAP_MISSING && head != ATTR_NO_ENTITY &&
               (*entity_at(set, head)).next_same_key != index)
            head = (*entity_at(set, head)).next_same_key;
        if (head != STRING_MAP_MISSING && head != ATTR_NO_ENTITY)
            (*entity_at(set, head)).next_same_key = record->next_same_key;
    }
    record->next_same_key = ATTR_NO_ENTITY;
}

static void set_key_claim(entity_set *set, uint32_t index, const char *value)
{
    entity_record *record = entity_at(set, index);

    if (value == NULL || (record->key_claim != NULL && strcmp(record->key_claim, value) == 0))
        return;
    key_claim_unlink(set, index);
    free(record->key_claim);
    record->key_claim = strdup(value);
    if (record->key_claim != NULL)
        key_claim_link(set, index);
}

static void set_external_id(entity_set *set, uint32_t index, const char *value)
{
    entity_record *record = entity_at(set, index);

    if (value == NULL || record->external_id != NULL)
        return;
    record->external_id = strdup(value);
    if (record->external_id != NULL)
        string_map_put(&set->by_external_id, value, index);
}

static void add_anonymous_id(entity_set *set, uint32_t index, const char *value)
{
    entity_record *record = entity_at(set, index);
    char **grown;

    if (value == NULL)
        return;
    for (uint32_t i = 0; i < record->anonymous_count; i++) {
        if (strcmp(record->anonymous_ids[i], value) == 0)
            return;
    }
    grown = realloc(record->anonymous_ids, (record->anonymous_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return;
    record->anonymous_ids = grown;
    grown[record->anonymous_count] = strdup(value);
    if (grown[record->anonymous_count] == NULL)
        return;
    record->anonymous_count++;
    string_map_put(&set->by_anonymous_id, value, index);
}

static void delete_entity(entity_set *set, uint32_t index)
{
    entity_record *record = entity_at(set, index);

    string_map_remove(&set->by_id, record->id);
    if (record->external_id != NULL)
        string_map_remove(&set->by_external_id, record->external_id);
    key_claim_unlink(set, index);
    for (uint32_t i = 0; i < record->anonymous_count; i++) {
        if (string_map_get(&set->by_anonymous_id, record->anonymous_ids[i]) == index)
            string_map_remove(&set->by_anonymous_id, record->anonymous_ids[i]);
    }
    record_clear(record);
    attr_table_remove(set->attributes, index);
    set->count--;
}

/* Checks a domain claim: lower-case labels of letters, digits and '-',
 * at least two labels, and an alphabetic top-level label of 2+ letters. */
static int valid_domain(const char *domain)
{
    const char *last_dot = strrchr(domain, '.');
    size_t label_length = 0;

    if (last_dot == NULL || last_dot == domain || strlen(last_dot + 1) < 2)
        return 0;
    for (const char *p = last_dot + 1; *p != '\0'; p++) {
        if (!isalpha((unsigned char)*p))
            return 0;
    }
    for (const char *p = domain; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (label_length == 0)
                return 0;
            label_length = 0;
            continue;
        }
        if (!(isalnum(c) || c == '-') || ++label_length > 63)
            return 0;
    }
    return label_length > 0;
}

/* The lower-cased domain, or NULL (logged) when malformed. */
static char *normalise_domain(const char *domain)
{
    char *copy = strdup(domain);

    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!valid_domain(copy)) {
        log_warn("domain claim \"%.100s\" is malformed and was ignored; a domain needs "
                 "labels of letters, digits or '-' and a top-level part such as .com",
                 domain);
        free(copy);
        return NULL;
    }
    return copy;
}

static void expand_all_new(attr_table *table, uint32_t index, entity_update *update);

/* Move attributes, claims, events and the account link of from onto into;
 * attributes already set on into win. Then delete from. */
static void merge_entities(entities *e, entity_set *set, uint32_t from, uint32_t into)
{
    entity_record *source = entity_at(set, from);
    entity_record *target = entity_at(set, into);
    json_object *attributes = attr_table_to_json(set->attributes, from);
    char now[TIMESTAMP_TEXT_SIZE];

    /* The attributes taken from the other entity are not changes of the
     * update, so an update that records them only as "all new" lists
     * them now, before they mix. */
    if (target->pending != 0)
        expand_all_new(set->attributes, into, &e->updates[target->pending - 1]);
    json_object_object_foreach(attributes, name, value) {
        json_object *existing = attr_table_get(set->attributes, into, name);
        if (existing == NULL)
            attr_table_set(set->attributes, into, name, value);
        json_object_put(existing);
    }
    json_object_put(attributes);

    for (uint32_t i = 0; i < source->anonymous_count; i++) {
        char *anonymous_id = strdup(source->anonymous_ids[i]);
        string_map_remove(&set->by_anonymous_id, anonymous_id);
        add_anonymous_id(set, into, anonymous_id);
        free(anonymous_id);
        source = entity_at(set, from);
        target = entity_at(set, into);
    }
    if (target->key_claim == NULL && source->key_claim != NULL) {
        char *claim = strdup(source->key_claim);
        key_claim_unlink(set, from);
        free(source->key_claim);
        source->key_claim = NULL;
        set_key_claim(set, into, claim);
        free(claim);
    }
    if (set->kind == STORE_USERS) {
        if (target->account == ATTR_NO_ENTITY)
            target->account = source->account;
        event_index_merge(e->events, from, into);
        e->service->store->ops->events_move(e->service->store, source->id, target->id);
    }

    timestamp_now(now);
    e->service->store->ops->merge_record(e->service->store, set->kind, source->id, target->id,
                                         now);
    log_info("%s %s merged into %s", set->kind == STORE_USERS ? "user" : "account", source->id,
             target->id);
    segment_set_entity_removed(e->segments, set->kind, from, source->id);
    e->service->store->ops->entity_delete(e->service->store, set->kind, source->id);
    /* The merged entity's pending update would name a reusable index. */
    if (source->pending != 0)
        e->updates[source->pending - 1].index = ATTR_NO_ENTITY;
    delete_entity(set, from);
}

static uint32_t lookup(const string_map *map, const char *key)
{
    uint32_t index = key != NULL ? string_map_get(map, key) : STRING_MAP_MISSING;
    return index == STRING_MAP_MISSING ? ATTR_NO_ENTITY : index;
}

/* The first entity sharing this email or domain whose external_id is
 * compatible with external_id (unset, or equal). */
static uint32_t lookup_key_claim(const entity_set *set, const char *claim, const char *external_id)
{
    uint32_t index = lookup(&set->by_key_claim, claim);

    while (index != ATTR_NO_ENTITY) {
        const entity_record *record = entity_at(set, index);
        if (external_id == NULL || record->external_id == NULL ||
            strcmp(record->external_id, external_id) == 0)
            return index;
        index = record->next_same_key;
    }
    return ATTR_NO_ENTITY;
}

/* Resolve (and create when needed) the entity the claims name. *created is
 * set when a new entity was made. Returns ATTR_NO_ENTITY with error set when
 * the claims are empty. */
static uint32_t resolve(entities *e, entity_set *set, const entity_claims *claims, int *created,
                        char *error, size_t error_size)
{
    const char *external_id = claims->external_id;
    const char *key_claim = set->kind == STORE_USERS ? claims->email : claims->domain;
    char *domain = NULL;
    uint32_t by_external;
    uint32_t by_key;
    uint32_t by_anonymous;
    uint32_t target;

    *created = 0;
    if (set->kind == STORE_ACCOUNTS && key_claim != NULL) {
        domain = normalise_domain(key_claim);
        key_claim = domain;
    }
    if (external_id == NULL && key_claim == NULL && claims->anonymous_id == NULL) {
        snprintf(error, error_size,
                 set->kind == STORE_USERS
                     ? "no usable claim: give external_id, email or anonymous_id"
                     : "no usable claim: give external_id, a well-formed domain or anonymous_id");
        free(domain);
        return ATTR_NO_ENTITY;
    }

    by_external = lookup(&set->by_external_id, external_id);
    by_key = key_claim != NULL ? lookup_key_claim(set, key_claim, external_id) : ATTR_NO_ENTITY;
    by_anonymous = lookup(&set->by_anonymous_id, claims->anonymous_id);
    /* An anonymous match that already has another external_id is someone else. */
    if (by_anonymous != ATTR_NO_ENTITY && external_id != NULL &&
        (*entity_at(set, by_anonymous)).external_id != NULL &&
        strcmp((*entity_at(set, by_anonymous)).external_id, external_id) != 0)
        by_anonymous = ATTR_NO_ENTITY;

    if (by_external != ATTR_NO_ENTITY)
        target = by_external;
    else if (by_key != ATTR_NO_ENTITY)
        target = by_key;
    else if (by_anonymous != ATTR_NO_ENTITY)
        target = by_anonymous;
    else {
        target = create_entity(set, NULL, now_ms());
        if (target == ATTR_NO_ENTITY) {
            snprintf(error, error_size, "out of memory");
            free(domain);
            return ATTR_NO_ENTITY;
        }
        *created = 1;
    }

    /* Claims that point at a second entity without an external_id fold it in. */
    if (by_key != ATTR_NO_ENTITY && by_key != target && (*entity_at(set, by_key)).external_id == NULL)
        merge_entities(e, set, by_key, target);
    if (by_anonymous != ATTR_NO_ENTITY && by_anonymous != target &&
        string_map_get(&set->by_anonymous_id, claims->anonymous_id) == by_anonymous &&
        (*entity_at(set, by_anonymous)).external_id == NULL)
        merge_entities(e, set, by_anonymous, target);

    set_external_id(set, target, external_id);
    set_key_claim(set, target, key_claim);
    add_anonymous_id(set, target, claims->anonymous_id);
    free(domain);
    return target;
}

static void update_clear(entities *e, entity_update *update)
{
    attr_table *table = entities_set(e, update->kind)->attributes;

    for (uint32_t i = 0; i < update->attribute_change_count; i++)
        attr_table_release_value(table, &update->attribute_changes[i].old);
    free(update->attribute_changes);
    json_object_put(update->segments_entered);
    json_object_put(update->segments_left);
    json_object_put(update->events);
    free(update->previous_account_id);
    memset(update, 0, sizeof(*update));
}

entity_update *entities_update_of(entities *e, store_entity_kind kind, uint32_t index)
{
    entity_record *record = entity_at(entities_set(e, kind), index);
    entity_update *update;

    if (record->pending != 0)
        return &e->updates[record->pending - 1];
    if (e->update_count == e->update_capacity) {
        size_t capacity = e->update_capacity == 0 ? 64 : e->update_capacity * 2;
        entity_update *grown = realloc(e->updates, capacity * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        e->updates = grown;
        e->update_capacity = capacity;
    }
    update = &e->updates[e->update_count++];
    memset(update, 0, sizeof(*update));
    update->kind = kind;
    update->index = index;
    /* The arrays are made on first use, or shared at delivery: most
     * updates enter no segment and add no event. */
    record->pending = (uint32_t)e->update_count;
    return update;
}

/* Add a string to *array, making the array on first use. */
static void array_add_string(json_object **array, const char *text)
{
    if (*array == NULL)
        *array = json_object_new_array_ext(2);
    if (*array != NULL)
        json_object_array_add(*array, json_object_new_string(text));
}

void entities_update_add_segment(entity_update *update, int entered, const char *segment_id)
{
    array_add_string(entered ? &update->segments_entered : &update->segments_left, segment_id);
}

/* Point each array that an update never made at one shared empty array,
 * because the hook reads them all. */
static void fill_empty_arrays(entity_update *updates, size_t count)
{
    json_object *empty = NULL;

    for (size_t i = 0; i < count; i++) {
        json_object **arrays[] = {&updates[i].segments_entered, &updates[i].segments_left,
                                  &updates[i].events};

        for (size_t j = 0; j < sizeof(arrays) / sizeof(arrays[0]); j++) {
            if (*arrays[j] != NULL)
                continue;
            if (empty == NULL)
                empty = json_object_new_array_ext(1);
            *arrays[j] = json_object_get(empty);
        }
    }
    json_object_put(empty);
}

void entities_set_update_hook(entities *e, entities_update_fn fn, void *user_data)
{
    e->on_update = fn;
    e->on_update_data = user_data;
}

void entities_set_prepare_hook(entities *e, entities_update_fn fn, void *user_data)
{
    e->on_prepare = fn;
    e->on_prepare_data = user_data;
}

void entities_prepare_updates(entities *e)
{
    if (e->on_prepare == NULL || e->update_count == 0)
        return;
    fill_empty_arrays(e->updates, e->update_count);
    e->on_prepare(e->on_prepare_data, e->updates, e->update_count);
}

void entities_deliver_updates(entities *e, int committed)
{
    if (committed && e->on_update != NULL && e->update_count > 0) {
        fill_empty_arrays(e->updates, e->update_count);
        e->on_update(e->on_update_data, e->updates, e->update_count);
    }
    for (size_t i = 0; i < e->update_count; i++) {
        entity_set *set = entities_set(e, e->updates[i].kind);
        if (e->updates[i].index != ATTR_NO_ENTITY && e->updates[i].index < set->capacity)
            entity_at(set, e->updates[i].index)->pending = 0;
        update_clear(e, &e->updates[i]);
    }
    e->update_count = 0;
}

/* Add name: [old, new] to changes, with name as a key kept for the life
 * of the process where possible, so that json-c need not copy it. */
static void add_pair(json_object *changes, const char *name, json_object *old_value,
                     json_object *new_value)
{
    const char *key = ingest_attributes_name_key(name);
    /* Room for 3: json-c 0.16 grows an array when an element fills it,
     * and two slots would be grown at the second one. */
    json_object *pair = json_object_new_array_ext(3);

    if (pair == NULL || json_object_array_add(pair, old_value) != 0) {
        json_object_put(old_value);
        json_object_put(new_value);
        json_object_put(pair);
        return;
    }
    if (json_object_array_add(pair, new_value) != 0) {
        json_object_put(new_value);
        json_object_put(pair);
        return;
    }
    if (json_object_object_add_ex(changes, key != NULL ? key : name, pair,
                                  key != NULL ? JSON_C_OBJECT_ADD_KEY_IS_NEW |
                                                    JSON_C_OBJECT_KEY_IS_CONSTANT
                                              : JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0)
        json_object_put(pair);
}

static void add_new_pair(void *user_data, uint32_t name_id, const attr_value *value)
{
    void **context = user_data;
    const attr_table *table = context[1];

    add_pair(context[0], attr_table_name(table, name_id), NULL, attr_table_value_to_json(value));
}

json_object *entities_update_attributes(entities *e, const entity_update *update)
{
    const attr_table *table = entities_set(e, update->kind)->attributes;
    json_object *changes = json_object_new_object();

    if (changes == NULL || update->index == ATTR_NO_ENTITY)
        return changes;
    if (update->attributes_all_new) {
        void *context[2] = {changes, (void *)table};

        attr_table_each(table, update->index, add_new_pair, context);
        return changes;
    }
    for (uint32_t i = 0; i < update->attribute_change_count; i++) {
        const entity_attribute_change *change = &update->attribute_changes[i];
        attr_value current;
        json_object *new_value = NULL;

        if (attr_table_find(table, update->index, change->name_id, &current))
            new_value = attr_table_value_to_json(&current);
        add_pair(changes, attr_table_name(table, change->name_id),
                 attr_table_value_to_json(&change->old), new_value);
    }
    return changes;
}

static int is_operation(json_object *value)
{
    json_object *operation;

    return json_object_is_type(value, json_type_object) &&
           json_object_object_get_ex(value, "operation", &operation) &&
           json_object_is_type(operation, json_type_string) &&
           json_object_object_length(value) <= 2;
}

static int is_number(json_object *value)
{
    return json_object_is_type(value, json_type_int) || json_object_is_type(value, json_type_double);
}

/* Whether the stored value equals value as json_object_equal() finds it
 * on the stored value's JSON form, compared without making that form.
 * Returns 1 or 0, or -1 when only json_object_equal() can tell (arrays,
 * objects, integers above INT64_MAX). */
static int stored_value_equals(const attr_value *stored, json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_boolean:
        return stored->type == ATTR_TYPE_BOOLEAN &&
               (stored->payload.boolean != 0) == (json_object_get_boolean(value) != 0);
    case json_type_int:
        if (json_object_get_int64(value) == INT64_MAX &&
            json_object_get_uint64(value) > (uint64_t)INT64_MAX)
            return -1;
        return stored->type == ATTR_TYPE_INTEGER &&
               stored->payload.integer == json_object_get_int64(value);
    case json_type_double:
        return stored->type == ATTR_TYPE_DOUBLE &&
               stored->payload.number == json_object_get_double(value);
    case json_type_string:
        return stored->type == ATTR_TYPE_STRING &&
               stored->payload.pooled->length == (uint32_t)json_object_get_string_len(value) &&
               memcmp(stored->payload.pooled->text, json_object_get_string(value),
                      stored->payload.pooled->length) == 0;
    default:
        return -1;
    }
}

/* Whether the stored value (type ATTR_TYPE_NONE when unset) equals value
 * (NULL for JSON null) as json_object_equal() finds it on the stored
 * value's JSON form. */
static int value_equals(const attr_value *stored, json_object *value)
{
    json_object *old;
    int equal;

    if (stored->type == ATTR_TYPE_NONE)
        return value == NULL;
    if (value == NULL)
        return 0;
    equal = stored_value_equals(stored, value);
    if (equal >= 0)
        return equal;
    old = attr_table_value_to_json(stored);
    equal = json_object_equal(old, value);
    json_object_put(old);
    return equal;
}

static entity_attribute_change *find_change(entity_update *update, uint32_t name_id)
{
    for (uint32_t i = 0; i < update->attribute_change_count; i++) {
        if (update->attribute_changes[i].name_id == name_id)
            return &update->attribute_changes[i];
    }
    return NULL;
}

/* Record that name_id changed from old, taking a reference on a pooled
 * old value. Out of memory, the change goes unrecorded. */
static void add_change(attr_table *table, entity_update *update, uint32_t name_id,
                       const attr_value *old)
{
    entity_attribute_change *change;

    if (update->attribute_change_count == update->attribute_change_capacity) {
        uint32_t capacity =
            update->attribute_change_capacity == 0 ? 8 : update->attribute_change_capacity * 2;
        entity_attribute_change *grown =
            realloc(update->attribute_changes, capacity * sizeof(*grown));

        if (grown == NULL)
            return;
        update->attribute_changes = grown;
        update->attribute_change_capacity = capacity;
    }
    change = &update->attribute_changes[update->attribute_change_count++];
    change->name_id = name_id;
    change->old = *old;
    attr_table_retain_value(table, old);
}

/* Forget a recorded change, keeping the order of the others, because the
 * changes object lists attributes in the order they first changed. */
static void remove_change(attr_table *table, entity_update *update,
                          entity_attribute_change *change)
{
    size_t after = (size_t)(update->attribute_changes + update->attribute_change_count -
                            (change + 1));

    attr_table_release_value(table, &change->old);
    memmove(change, change + 1, after * sizeof(*change));
    update->attribute_change_count--;
}

static void record_new_attribute(void *user_data, uint32_t name_id, const attr_value *value)
{
    void **context = user_data;
    const attr_value unset = {ATTR_TYPE_NONE, {0}};

    (void)value;
    add_change(context[0], context[1], name_id, &unset);
}

/* Turn an update's "all attributes are new" mark into one recorded change
 * per attribute, so that the entity's attributes can change again. */
static void expand_all_new(attr_table *table, uint32_t index, entity_update *update)
{
    void *context[2] = {table, update};

    if (!update->attributes_all_new)
        return;
    update->attributes_all_new = 0;
    attr_table_each(table, index, record_new_attribute, context);
}

/* Set one attribute (value NULL unsets) and note the change in update:
 * name goes from old to new, and an attribute that ends where it started
 * in this transaction is dropped. Only the name and the old value are
 * kept, because the new value is the one the table holds. */
static void write_attribute(entity_set *set, uint32_t index, entity_update *update,
                            const char *name, json_object *value)
{
    const attr_value unset = {ATTR_TYPE_NONE, {0}};
    entity_attribute_change *change;
    attr_value stored;
    uint32_t name_id;

    name_id = attr_table_intern_name(set->attributes, name);
    if (update == NULL || name_id == NAME_NONE) {
        attr_table_set(set->attributes, index, name, value);
        return;
    }
    expand_all_new(set->attributes, index, update);

    /* A later write in the same transaction keeps the first old value. */
    change = find_change(update, name_id);
    if (change != NULL) {
        attr_table_set_id(set->attributes, index, name_id, value);
        if (value_equals(&change->old, value))
            remove_change(set->attributes, update, change);
        return;
    }

    if (!attr_table_find(set->attributes, index, name_id, &stored))
        stored = unset;
    /* The record takes its reference on the old value before the table
     * drops its own. */
    if (!value_equals(&stored, value))
        add_change(set->attributes, update, name_id, &stored);
    attr_table_set_id(set->attributes, index, name_id, value);
}

/* Whether every write of writes is a plain value or null (no operation
 * and no nested object, which traits wrap in a set operation). */
static int only_plain_writes(json_object *writes)
{
    json_object_object_foreach(writes, name, value) {
        (void)name;
        if (json_object_is_type(value, json_type_object))
            return 0;
    }
    return 1;
}

/* Set plain values on an entity that the change just created. Every
 * attribute goes from unset to its value, so the update records that
 * once instead of per attribute. */
static void apply_to_new(entity_set *set, uint32_t index, entity_update *update,
                         json_object *writes)
{
    attr_table_set_all(set->attributes, index, writes);
    update->attributes_all_new = 1;
}

/* Apply the attribute writes of a change to one entity, which this change
 * made when created is set. Returns 0, or -1 with error naming the
 * attribute (writes before it stay applied). */
static int apply_attributes(entity_set *set, uint32_t index, entity_update *update,
                            json_object *writes, int created, char *error, size_t error_size)
{
    if (writes == NULL)
        return 0;
    /* A new entity takes its attributes in one allocation. */
    if (update != NULL && update->is_new)
        attr_table_reserve(set->attributes, index, (uint32_t)json_object_object_length(writes));

    /* An entity made by this change has no attribute and no recorded
     * change yet: resolve() makes one only when no claim found another
     * entity, so nothing was merged into it. */
    if (created && update != NULL && update->attribute_change_count == 0 &&
        !update->attributes_all_new && only_plain_writes(writes)) {
        apply_to_new(set, index, update, writes);
        return 0;
    }

    json_object_object_foreach(writes, name, value) {
        json_object *operation;
        json_object *operand = NULL;
        const char *op = "set";

        if (value == NULL || !is_operation(value)) {
            write_attribute(set, index, update, name, value);
            continue;
        }
        json_object_object_get_ex(value, "operation", &operation);
        json_object_object_get_ex(value, "value", &operand);
        op = json_object_get_string(operation);

        if (strcmp(op, "set") == 0) {
            write_attribute(set, index, update, name, operand);
        } else if (strcmp(op, "setIfNull") == 0) {
            json_object *existing = attr_table_get(set->attributes, index, name);
            if (existing == NULL)
                write_attribute(set, index, update, name, operand);
            json_object_put(existing);
        } else if (strcmp(op, "inc") == 0 || strcmp(op, "dec") == 0) {
            json_object *existing = attr_table_get(set->attributes, index, name);
            json_object *result;
            int sign = op[0] == 'i' ? 1 : -1;

            if (!is_number(operand) || (existing != NULL && !is_number(existing))) {
                snprintf(error, error_size,
                         "attribute \"%.64s\": %s needs a number operand and a numeric (or "
                         "unset) attribute",
                         name, op);
                json_object_put(existing);
                return -1;
            }
            if ((existing == NULL || json_object_is_type(existing, json_type_int)) &&
                json_object_is_type(operand, json_type_int))
                result = json_object_new_int64(
                    (existing != NULL ? json_object_get_int64(existing) : 0) +
                    sign * json_object_get_int64(operand));
            else
                result = json_object_new_double(
                    (existing != NULL ? json_object_get_double(existing) : 0.0) +
                    sign * json_object_get_double(operand));
            write_attribute(set, index, update, name, result);
            json_object_put(result);
            json_object_put(existing);
        } else {
            snprintf(error, error_size,
                     "attribute \"%.64s\": unknown operation \"%.32s\"; use set, setIfNull, "
                     "inc or dec",
                     name, op);
            return -1;
        }
    }
    return 0;
}

static int save_entity(entities *e, entity_set *set, uint32_t index)
{
    entity_record *record = entity_at(set, index);
    json_object *anonymous = NULL;
    char created[TIMESTAMP_TEXT_SIZE];
    char updated[TIMESTAMP_TEXT_SIZE];
    const char *account_id = NULL;
    store_entity_row row;
    int rc;

    /* Most entities have no anonymous id, and "[]" needs no json-c array. */
    row.anonymous_ids_json = "[]";
    if (record->anonymous_count > 0) {
        anonymous = json_object_new_array();
        for (uint32_t i = 0; i < record->anonymous_count; i++)
            json_object_array_add(anonymous, json_object_new_string(record->anonymous_ids[i]));
        row.anonymous_ids_json = json_object_to_json_string_ext(anonymous, JSON_C_TO_STRING_PLAIN);
    }
    if (attr_table_json_text(set->attributes, index, &save_buffer, &save_buffer_capacity) < 0) {
        json_object_put(anonymous);
        snprintf(e->service->store->error, sizeof(e->service->store->error),
                 "out of memory writing the attributes of %s", record->id);
        return -ENOMEM;
    }
    if (set->kind == STORE_USERS && record->account != ATTR_NO_ENTITY)
        account_id = (*entity_at(&e->accounts, record->account)).id;
    format_ms(record->created_ms, created);
    format_ms(record->updated_ms, updated);

    row.id = record->id;
    row.external_id = record->external_id;
    row.key_claim = record->key_claim;
    row.account_id = account_id;
    row.attributes_json = save_buffer;
    row.created_at = created;
    row.updated_at = updated;
    rc = e->service->store->ops->entity_save(e->service->store, set->kind, &row);
    json_object_put(anonymous);
    return rc;
}

/* Bookkeeping after an entity changed: timestamps, segments, the store. */
static int touch(entities *e, entity_set *set, uint32_t index)
{
    (*entity_at(set, index)).updated_ms = now_ms();
    (*entity_at(set, index)).change_sequence = entities_next_sequence(e);
    segment_set_entity_changed(e->segments, set->kind, index);
    return save_entity(e, set, index);
}

static void copy_id(char *out, size_t size, const entity_set *set, uint32_t index)
{
    snprintf(out, size, "%s", index != ATTR_NO_ENTITY ? (*entity_at(set, index)).id : "");
}

static int has_claims(const entity_claims *claims)
{
    return claims->external_id != NULL || claims->email != NULL || claims->domain != NULL ||
           claims->anonymous_id != NULL;
}

/* An event as messages carry it. */
static json_object *event_json(const entity_change *change)
{
    json_object *event = json_object_new_object();
    char timestamp[TIMESTAMP_TEXT_SIZE];

    format_ms(change->timestamp_ms, timestamp);
    json_object_object_add(event, "event", json_object_new_string(change->event));
    json_object_object_add(event, "properties",
                           change->properties != NULL ? json_object_get(change->properties)
                                                      : json_object_new_object());
    json_object_object_add(event, "timestamp", json_object_new_string(timestamp));
    json_object_object_add(event, "message_id",
                           change->message_id != NULL ? json_object_new_string(change->message_id)
                                                      : NULL);
    return event;
}

/* Apply one change; fills result. */
static void apply_one(entities *e, entity_change *change, entity_result *result)
{
    uint32_t user = ATTR_NO_ENTITY;
    uint32_t account = ATTR_NO_ENTITY;
    entity_update *update;
    int created;
    int user_changed = 0;

    memset(result, 0, sizeof(*result));

    if (change->kind == CHANGE_ACCOUNT || has_claims(&change->account)) {
        account = resolve(e, &e->accounts, &change->account, &created, result->error,
                          sizeof(result->error));
        if (account == ATTR_NO_ENTITY && change->kind == CHANGE_ACCOUNT)
            return;
        if (account != ATTR_NO_ENTITY) {
            json_object *writes = change->kind == CHANGE_ACCOUNT ? change->attributes
                                                                 : change->account_attributes;
            update = entities_update_of(e, STORE_ACCOUNTS, account);
            if (update != NULL && created)
                update->is_new = 1;
            if (apply_attributes(&e->accounts, account, update, writes, created, result->error,
                                 sizeof(result->error)) != 0)
                return;
            touch(e, &e->accounts, account);
        }
        /* A malformed domain never fails a user change: the link is skipped. */
        result->error[0] = '\0';
    }

    if (change->kind != CHANGE_ACCOUNT || has_claims(&change->user)) {
        user = resolve(e, &e->users, &change->user, &created, result->error, sizeof(result->error));
        if (user == ATTR_NO_ENTITY)
            return;
        update = entities_update_of(e, STORE_USERS, user);
        if (update != NULL && created)
            update->is_new = 1;
        user_changed = created;
        if (change->kind == CHANGE_USER) {
            if (apply_attributes(&e->users, user, update, change->attributes, created,
                                 result->error, sizeof(result->error)) != 0)
                return;
            user_changed = 1;
        }
        if (account != ATTR_NO_ENTITY && entity_at(&e->users, user)->account != account) {
            uint32_t previous = entity_at(&e->users, user)->account;

            if (update != NULL && !update->account_changed) {
                update->account_changed = 1;
                update->previous_account_id =
                    previous != ATTR_NO_ENTITY ? strdup(entity_at(&e->accounts, previous)->id)
                                               : NULL;
            }
            entity_at(&e->users, user)->account = account;
            user_changed = 1;
        }
        if (change->kind == CHANGE_EVENT) {
            store_event_row row = {
                .user_id = entity_at(&e->users, user)->id,
                .event = change->event,
                .properties_json = change->properties != NULL
                                       ? json_object_to_json_string_ext(
                                             change->properties,
                                             JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                                       : "{}",
                .timestamp_ms = change->timestamp_ms,
                .message_id = change->message_id,
            };
            event_index_add(e->events, user, change->event, change->timestamp_ms);
            e->service->store->ops->event_insert(e->service->store, &row);
            if (update != NULL) {
                update->events_added++;
                if (update->events == NULL)
                    update->events = json_object_new_array_ext(4);
                if (update->events != NULL)
                    json_object_array_add(update->events, event_json(change));
            }
            user_changed = 1;
        }
        if (user_changed)
            touch(e, &e->users, user);
    }

    result->ok = 1;
    copy_id(result->user_id, sizeof(result->user_id), &e->users, user);
    copy_id(result->account_id, sizeof(result->account_id), &e->accounts, account);
}

int entities_apply(entities *e, entity_change *changes, size_t count, entity_result *results)
{
    store *s = e->service->store;
    int rc = s->ops->begin(s);

    if (rc != 0) {
        for (size_t i = 0; i < count; i++) {
            memset(&results[i], 0, sizeof(results[i]));
            snprintf(results[i].error, sizeof(results[i].error), "store unavailable: %.200s",
                     store_error(s));
        }
        log_error("cannot apply %zu changes: %s", count, store_error(s));
        return rc;
    }
    for (size_t i = 0; i < count; i++)
        apply_one(e, &changes[i], &results[i]);

    entities_prepare_updates(e);
    rc = s->ops->commit(s);
    entities_deliver_updates(e, rc == 0);
    if (rc != 0) {
        /* NOTE: memory already holds the changes; a restart reloads the
         * store's state. */
        s->ops->rollback(s);
        log_error("cannot commit %zu changes: %s", count, store_error(s));
        for (size_t i = 0; i < count; i++) {
            results[i].ok = 0;
            snprintf(results[i].error, sizeof(results[i].error), "store commit failed: %.200s",
                     store_error(s));
        }
    }
    return rc;
}

static json_object *string_or_null(const char *text)
{
    return text != NULL ? json_object_new_string(text) : NULL;
}

json_object *entities_to_json(entities *e, store_entity_kind kind, uint32_t index)
{
    entity_set *set = entities_set(e, kind);
    entity_record *record = entity_at(set, index);
    json_object *object = json_object_new_object();
    json_object *anonymous = json_object_new_array();
    char created[TIMESTAMP_TEXT_SIZE];
    char updated[TIMESTAMP_TEXT_SIZE];

    for (uint32_t i = 0; i < record->anonymous_count; i++)
        json_object_array_add(anonymous, json_object_new_string(record->anonymous_ids[i]));
    format_ms(record->created_ms, created);
    format_ms(record->updated_ms, updated);

    json_object_object_add(object, "id", json_object_new_string(record->id));
    json_object_object_add(object, "external_id", string_or_null(record->external_id));
    json_object_object_add(object, kind == STORE_USERS ? "email" : "domain",
                           string_or_null(record->key_claim));
    json_object_object_add(object, "anonymous_ids", anonymous);
    if (kind == STORE_USERS)
        json_object_object_add(object, "account_id",
                               record->account != ATTR_NO_ENTITY
                                   ? json_object_new_string((*entity_at(&e->accounts, record->account)).id)
                                   : NULL);
    json_object_object_add(object, "attributes", attr_table_to_json(set->attributes, index));
    json_object_object_add(object, "segment_ids", segment_set_ids_of(e->segments, kind, index));
    json_object_object_add(object, "created_at", json_object_new_string(created));
    json_object_object_add(object, "updated_at", json_object_new_string(updated));
    return object;
}

json_object *entities_account_users(entities *e, uint32_t account)
{
    json_object *users = json_object_new_array();

    for (uint32_t i = 0; i < e->users.capacity; i++) {
        if ((*entity_at(&e->users, i)).id[0] != '\0' && (*entity_at(&e->users, i)).account == account)
            json_object_array_add(users, entities_to_json(e, STORE_USERS, i));
    }
    return users;
}

json_object *entities_lookup(entities *e, store_entity_kind kind, const char *claim,
                             const char *value)
{
    entity_set *set = entities_set(e, kind);
    json_object *list = json_object_new_array();
    uint32_t index = ATTR_NO_ENTITY;

    if (strcmp(claim, "external_id") == 0) {
        index = lookup(&set->by_external_id, value);
    } else if (strcmp(claim, "anonymous_id") == 0) {
        index = lookup(&set->by_anonymous_id, value);
    } else {
        /* email or domain: every entity sharing it, in the normal form the
         * ingest parsers store. */
        char *normalised = NULL;

        if (kind == STORE_ACCOUNTS)
            normalised = normalise_domain(value);
        else
            ingest_claim_email(value, &normalised);
        for (index = normalised != NULL ? lookup(&set->by_key_claim, normalised) : ATTR_NO_ENTITY;
             index != ATTR_NO_ENTITY; index = (*entity_at(set, index)).next_same_key)
            json_object_array_add(list, entities_to_json(e, kind, index));
        free(normalised);
        return list;
    }
    if (index != ATTR_NO_ENTITY)
        json_object_array_add(list, entities_to_json(e, kind, index));
    return list;
}

/* Restore one stored entity into memory. */
static int restore_entity(const store_entity_row *row, void *user_data)
{
    void **context = user_data;
    entities *e = context[0];
    entity_set *set = context[1];
    uint32_t index = create_entity(set, row->id, parse_ms(row->created_at));
    json_object *attributes;
    json_object *anonymous;

    if (index == ATTR_NO_ENTITY)
        return -1;
    (*entity_at(set, index)).updated_ms = parse_ms(row->updated_at);
    set_external_id(set, index, row->external_id);
    if (row->key_claim != NULL)
        set_key_claim(set, index, row->key_claim);
    anonymous = json_tokener_parse(row->anonymous_ids_json);
    for (size_t i = 0; anonymous != NULL && i < json_object_array_length(anonymous); i++)
        add_anonymous_id(set, index, json_object_get_string(json_object_array_get_idx(anonymous, i)));
    json_object_put(anonymous);

    attributes = json_tokener_parse(row->attributes_json);
    if (attributes != NULL) {
        json_object_object_foreach(attributes, name, value)
            attr_table_set(set->attributes, index, name, value);
    }
    json_object_put(attributes);

    if (set->kind == STORE_USERS && row->account_id != NULL)
        (*entity_at(set, index)).account = lookup(&e->accounts.by_id, row->account_id);
    return 0;
}

static int restore_event(const store_event_row *row, void *user_data)
{
    entities *e = user_data;
    uint32_t user = lookup(&e->users.by_id, row->user_id);

    if (user != ATTR_NO_ENTITY)
        event_index_add(e->events, user, row->event, row->timestamp_ms);
    return 0;
}

int entities_restore(entities *e, char *error, size_t error_size)
{
    store *s = e->service->store;
    void *accounts_context[2] = {e, &e->accounts};
    void *users_context[2] = {e, &e->users};

    /* Accounts first, so that users can link to them. */
    if (s->ops->entity_each(s, STORE_ACCOUNTS, restore_entity, accounts_context) != 0 ||
        s->ops->entity_each(s, STORE_USERS, restore_entity, users_context) != 0 ||
        s->ops->events_each(s, restore_event, e) != 0) {
        snprintf(error, error_size, "cannot load customer data: %s", store_error(s));
        return -1;
    }
    log_info("loaded %u users and %u accounts", e->users.count, e->accounts.count);
    return 0;
}
