#include "attr_table.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr_value.h"
#include "double_text.h"
#include "name_table.h"
#include "utf8_text.h"
#include "value_pool.h"

/*
 * The attributes of one entity: one allocation holding, for capacity
 * slots, the name ids in ascending order, then one type byte per slot,
 * then the 8-byte payloads. Keeping the name ids together lets a lookup
 * binary-search them within one or two cache lines.
 */
typedef struct attr_record {
    uint32_t count;
    uint32_t capacity;
} attr_record;

/* Entries of the cache of recent name strings. */
#define NAME_CACHE_SIZE 64

/* How many entities ahead attr_table_find() prefetches a record. */
#define PREFETCH_DISTANCE 16

/* Entities that exist but have no attributes share this record, so an
 * empty entity costs no allocation. It is never written. */
static attr_record empty_record = {0, 0};

struct attr_table {
    pthread_rwlock_t lock;
    name_table *names;
    value_pool *pool;
    attr_record **records; /* by entity index; NULL when the index is free */
    uint32_t count;        /* one past the highest index ever handed out */
    uint32_t capacity;     /* of records */
    uint32_t *free_indexes;
    uint32_t free_count;
    uint32_t free_capacity;
    size_t record_bytes;
    /* By name id: the name as a JSON object key with its colon ("name":),
     * made by attr_table_json_text() on first use; NULL until then. */
    char **key_texts;
    uint32_t key_text_capacity;
    size_t key_text_bytes;
    /* Name ids of recent name strings, by address: ingest passes the same
     * kept strings for the names of every entity. Checked against the
     * name, so a reused address never gives a wrong id. Loop thread only. */
    struct {
        const char *name;
        uint32_t id;
    } recent_names[NAME_CACHE_SIZE];
};

/* The id of name from the cache of recent names, or NAME_NONE. */
static uint32_t recent_name_id(const attr_table *table, const char *name)
{
    size_t slot = ((uintptr_t)name >> 4) % NAME_CACHE_SIZE;
    const char *known;

    if (table->recent_names[slot].name != name)
        return NAME_NONE;
    known = name_table_name(table->names, table->recent_names[slot].id);
    return known != NULL && strcmp(known, name) == 0 ? table->recent_names[slot].id : NAME_NONE;
}

static void remember_name(attr_table *table, const char *name, uint32_t id)
{
    size_t slot = ((uintptr_t)name >> 4) % NAME_CACHE_SIZE;

    table->recent_names[slot].name = name;
    table->recent_names[slot].id = id;
}

static size_t types_offset(uint32_t capacity)
{
    return sizeof(attr_record) + (size_t)capacity * sizeof(uint32_t);
}

static size_t payloads_offset(uint32_t capacity)
{
    size_t end_of_types = types_offset(capacity) + capacity;

    return (end_of_types + 7) & ~(size_t)7;
}

static size_t record_size(uint32_t capacity)
{
    return payloads_offset(capacity) + (size_t)capacity * sizeof(attr_payload);
}

static uint32_t *record_names(const attr_record *record)
{
    return (uint32_t *)(record + 1);
}

static uint8_t *record_types(const attr_record *record)
{
    return (uint8_t *)record + types_offset(record->capacity);
}

static attr_payload *record_payloads(const attr_record *record)
{
    return (attr_payload *)((uint8_t *)record + payloads_offset(record->capacity));
}

/* The slot of name_id in record, or the slot where it would go (then
 * *found is 0). */
static uint32_t search(const attr_record *record, uint32_t name_id, int *found)
{
    const uint32_t *names = record_names(record);
    uint32_t low = 0;
    uint32_t high = record->count;

    while (low < high) {
        uint32_t middle = low + (high - low) / 2;

        if (names[middle] < name_id)
            low = middle + 1;
        else
            high = middle;
    }
    *found = low < record->count && names[low] == name_id;
    return low;
}

attr_table *attr_table_create(void)
{
    attr_table *table = calloc(1, sizeof(attr_table));
    pthread_rwlockattr_t attributes;

    if (table == NULL)
        return NULL;
    table->names = name_table_create();
    table->pool = value_pool_create();
    if (table->names == NULL || table->pool == NULL) {
        name_table_free(table->names);
        value_pool_free(table->pool);
        free(table);
        return NULL;
    }

    /* Recomputation takes the read lock chunk after chunk on worker
     * threads. With glibc's default reader preference, the loop thread's
     * writes could wait for as long as the recomputation runs. */
    pthread_rwlockattr_init(&attributes);
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&table->lock, &attributes);
    pthread_rwlockattr_destroy(&attributes);
    return table;
}

void attr_table_free(attr_table *table)
{
    if (table == NULL)
        return;
    for (uint32_t index = 0; index < table->count; index++) {
        if (table->records[index] != &empty_record)
            free(table->records[index]);
    }
    /* The pool goes as a whole, so the records' references need no
     * releasing one by one. */
    value_pool_free(table->pool);
    name_table_free(table->names);
    for (uint32_t id = 0; id < table->key_text_capacity; id++)
        free(table->key_texts[id]);
    free(table->key_texts);
    free(table->records);
    free(table->free_indexes);
    pthread_rwlock_destroy(&table->lock);
    free(table);
}

static int grow_records(attr_table *table)
{
    uint32_t capacity = table->capacity == 0 ? 1024 : table->capacity * 2;
    attr_record **records;

    if (table->capacity >= ATTR_NO_ENTITY / 2)
        return -ENOMEM;
    records = realloc(table->records, sizeof(attr_record *) * capacity);
    if (records == NULL)
        return -ENOMEM;
    table->records = records;
    table->capacity = capacity;
    return 0;
}

uint32_t attr_table_add(attr_table *table)
{
    uint32_t index = ATTR_NO_ENTITY;

    pthread_rwlock_wrlock(&table->lock);
    if (table->free_count > 0) {
        index = table->free_indexes[--table->free_count];
    } else if (table->count < table->capacity || grow_records(table) == 0) {
        index = table->count++;
    }
    if (index != ATTR_NO_ENTITY)
        table->records[index] = &empty_record;
    pthread_rwlock_unlock(&table->lock);
    return index;
}

static void drop_record(attr_table *table, attr_record *record)
{
    if (record == &empty_record)
        return;
    table->record_bytes -= record_size(record->capacity);
    free(record);
}

static void release_record(attr_table *table, attr_record *record)
{
    const uint8_t *types = record_types(record);
    const attr_payload *payloads = record_payloads(record);

    for (uint32_t slot = 0; slot < record->count; slot++) {
        attr_value value = {(attr_type)types[slot], payloads[slot]};

        value_pool_release_value(table->pool, &value);
    }
    drop_record(table, record);
}

void attr_table_remove(attr_table *table, uint32_t index)
{
    if (!attr_table_exists(table, index))
        return;

    pthread_rwlock_wrlock(&table->lock);
    /* Reserve room first, so a failed allocation leaks an index rather
     * than leaving the table inconsistent. */
    if (table->free_count == table->free_capacity) {
        uint32_t capacity = table->free_capacity == 0 ? 64 : table->free_capacity * 2;
        uint32_t *indexes = realloc(table->free_indexes, sizeof(uint32_t) * capacity);

        if (indexes != NULL) {
            table->free_indexes = indexes;
            table->free_capacity = capacity;
        }
    }
    release_record(table, table->records[index]);
    table->records[index] = NULL;
    if (table->free_count < table->free_capacity)
        table->free_indexes[table->free_count++] = index;
    pthread_rwlock_unlock(&table->lock);
}

uint32_t attr_table_count(const attr_table *table)
{
    return table->count;
}

int attr_table_exists(const attr_table *table, uint32_t index)
{
    return index < table->count && table->records[index] != NULL;
}

uint32_t attr_table_intern_name(attr_table *table, const char *name)
{
    uint32_t id = recent_name_id(table, name);

    if (id != NAME_NONE)
        return id;
    /* Only the loop thread interns, so the lookup below needs no lock;
     * the insertion does, because readers may look names up meanwhile. */
    id = name_table_find(table->names, name);
    if (id == NAME_NONE) {
        pthread_rwlock_wrlock(&table->lock);
        id = name_table_intern(table->names, name);
        pthread_rwlock_unlock(&table->lock);
    }
    if (id != NAME_NONE)
        remember_name(table, name, id);
    return id;
}

/* Copy record into one with new_capacity slots, leaving a gap at slot gap
 * when insert is set. Returns NULL when out of memory. */
static attr_record *resize_record(attr_table *table, const attr_record *record,
                                  uint32_t new_capacity, uint32_t gap, int insert)
{
    attr_record *resized = malloc(record_size(new_capacity));
    uint32_t before = insert ? gap : record->count;
    uint32_t after = record->count - before;

    if (resized == NULL)
        return NULL;
    resized->count = record->count;
    resized->capacity = new_capacity;

    memcpy(record_names(resized), record_names(record), before * sizeof(uint32_t));
    memcpy(record_types(resized), record_types(record), before);
    memcpy(record_payloads(resized), record_payloads(record), before * sizeof(attr_payload));
    memcpy(record_names(resized) + before + 1, record_names(record) + before,
           after * sizeof(uint32_t));
    memcpy(record_types(resized) + before + 1, record_types(record) + before, after);
    memcpy(record_payloads(resized) + before + 1, record_payloads(record) + before,
           after * sizeof(attr_payload));

    table->record_bytes += record_size(new_capacity);
    return resized;
}

/* Store value in a new slot at position slot. */
static int insert_slot(attr_table *table, uint32_t index, uint32_t slot, uint32_t name_id,
                       const attr_value *value)
{
    attr_record *record = table->records[index];

    if (record->count == record->capacity) {
        /* Grow by a quarter, at least 4 slots: entities gain attributes
         * one at a time while they load. */
        uint32_t grow_by = record->capacity / 4 < 4 ? 4 : record->capacity / 4;
        attr_record *grown = resize_record(table, record, record->capacity + grow_by, slot, 1);

        if (grown == NULL)
            return -ENOMEM;
        drop_record(table, record);
        record = grown;
        table->records[index] = record;
    } else if (slot < record->count) {
        uint32_t after = record->count - slot;

        memmove(record_names(record) + slot + 1, record_names(record) + slot,
                after * sizeof(uint32_t));
        memmove(record_types(record) + slot + 1, record_types(record) + slot, after);
        memmove(record_payloads(record) + slot + 1, record_payloads(record) + slot,
                after * sizeof(attr_payload));
    }

    record_names(record)[slot] = name_id;
    record_types(record)[slot] = (uint8_t)value->type;
    record_payloads(record)[slot] = value->payload;
    record->count++;
    return 0;
}

static void erase_slot(attr_table *table, uint32_t index, uint32_t slot)
{
    attr_record *record = table->records[index];
    uint32_t after = record->count - slot - 1;
    attr_record *shrunk;

    memmove(record_names(record) + slot, record_names(record) + slot + 1,
            after * sizeof(uint32_t));
    memmove(record_types(record) + slot, record_types(record) + slot + 1, after);
    memmove(record_payloads(record) + slot, record_payloads(record) + slot + 1,
            after * sizeof(attr_payload));
    record->count--;

    /* Give memory back once at most half of the slots are used. */
    if (record->count == 0) {
        drop_record(table, record);
        table->records[index] = &empty_record;
    } else if (record->capacity > 4 && record->count * 2 <= record->capacity) {
        shrunk = resize_record(table, record, (record->count + 3) & ~3u, 0, 0);
        if (shrunk != NULL) {
            drop_record(table, record);
            table->records[index] = shrunk;
        }
    }
}

/* Intern value, a JSON string whose utf8_hash() is hash, into stored. */
static int intern_hashed_string(attr_table *table, const struct json_object *value,
                                uint32_t hash, attr_value *stored)
{
    json_object *string = (json_object *)value;

    stored->type = ATTR_TYPE_STRING;
    stored->payload.pooled = value_pool_intern_string_hashed(
        table->pool, json_object_get_string(string), (size_t)json_object_get_string_len(string),
        hash);
    if (stored->payload.pooled == NULL) {
        stored->type = ATTR_TYPE_NONE;
        return -ENOMEM;
    }
    return 0;
}

/* Set the attribute name_id (interned) under the write lock. string_hash
 * is the utf8_hash() of value when the caller has it (value is then a
 * string), or NULL. */
static int set_locked(attr_table *table, uint32_t index, uint32_t name_id,
                      const struct json_object *value, const uint32_t *string_hash)
{
    attr_value stored;
    attr_value previous;
    attr_record *record;
    uint32_t slot;
    int found;
    int result;

    /* The new value is interned before the old one is released, so that
     * setting a value again never frees and re-creates it. */
    if (string_hash != NULL)
        result = intern_hashed_string(table, value, *string_hash, &stored);
    else
        result = value_pool_intern_json_value(table->pool, value, &stored);
    if (result != 0)
        return result;

    record = table->records[index];
    slot = search(record, name_id, &found);
    if (found) {
        previous.type = (attr_type)record_types(record)[slot];
        previous.payload = record_payloads(record)[slot];
        if (stored.type == ATTR_TYPE_NONE) {
            erase_slot(table, index, slot);
        } else {
            record_types(record)[slot] = (uint8_t)stored.type;
            record_payloads(record)[slot] = stored.payload;
        }
        value_pool_release_value(table->pool, &previous);
    } else if (stored.type != ATTR_TYPE_NONE) {
        result = insert_slot(table, index, slot, name_id, &stored);
        if (result != 0)
            value_pool_release_value(table->pool, &stored);
    }
    return result;
}

int attr_table_set(attr_table *table, uint32_t index, const char *name,
                   const struct json_object *value)
{
    uint32_t name_id;
    int result = -ENOMEM;

    if (!attr_table_exists(table, index))
        return -EINVAL;

    name_id = recent_name_id(table, name);
    pthread_rwlock_wrlock(&table->lock);
    if (name_id == NAME_NONE) {
        name_id = name_table_intern(table->names, name);
        if (name_id != NAME_NONE)
            remember_name(table, name, name_id);
    }
    if (name_id != NAME_NONE)
        result = set_locked(table, index, name_id, value, NULL);
    pthread_rwlock_unlock(&table->lock);
    return result;
}

int attr_table_set_id(attr_table *table, uint32_t index, uint32_t name_id,
                      const struct json_object *value)
{
    int result;

    if (!attr_table_exists(table, index) || name_table_name(table->names, name_id) == NULL)
        return -EINVAL;

    pthread_rwlock_wrlock(&table->lock);
    result = set_locked(table, index, name_id, value, NULL);
    pthread_rwlock_unlock(&table->lock);
    return result;
}

/* String values whose hashes attr_table_set_all() computes ahead and
 * whose pooled strings it loads at once. More than a cache's worth of
 * misses in flight gains nothing. */
#define PREFETCH_VALUES 32

int attr_table_set_all(attr_table *table, uint32_t index, const struct json_object *writes)
{
    json_object *object = (json_object *)writes;
    uint32_t hashes[PREFETCH_VALUES];
    size_t hashed = 0;
    size_t strings = 0;
    int result = 0;

    if (!attr_table_exists(table, index))
        return -EINVAL;
    if (!json_object_is_type(object, json_type_object))
        return 0;

    /* Hash the first string values once, both to start loading their
     * pool slots and to intern them below, so that the cache misses of a
     * whole entity overlap. */
    json_object_object_foreach(object, key, member) {
        (void)key;
        if (hashed == PREFETCH_VALUES)
            break;
        if (!json_object_is_type(member, json_type_string))
            continue;
        hashes[hashed] = utf8_hash(json_object_get_string(member),
                                   (size_t)json_object_get_string_len(member));
        value_pool_prefetch(table->pool, hashes[hashed], 0);
        hashed++;
    }
    for (size_t i = 0; i < hashed; i++)
        value_pool_prefetch(table->pool, hashes[i], 1);

    pthread_rwlock_wrlock(&table->lock);
    json_object_object_foreach(object, name, value) {
        uint32_t name_id = recent_name_id(table, name);
        const uint32_t *string_hash = NULL;
        int rc = -ENOMEM;

        if (json_object_is_type(value, json_type_string)) {
            if (strings < hashed)
                string_hash = &hashes[strings];
            strings++;
        }
        if (name_id == NAME_NONE) {
            name_id = name_table_intern(table->names, name);
            if (name_id != NAME_NONE)
                remember_name(table, name, name_id);
        }
        if (name_id != NAME_NONE)
            rc = set_locked(table, index, name_id, value, string_hash);
        if (rc != 0)
            result = rc;
    }
    pthread_rwlock_unlock(&table->lock);
    return result;
}

int attr_table_find(const attr_table *table, uint32_t index, uint32_t name_id,
                    attr_value *value)
{
    const attr_record *record;
    uint32_t slot;
    int found;

    if (index >= table->count || table->records[index] == NULL)
        return 0;

    /* Recomputation reads entities in index order and spends much of its
     * time waiting for records to come from memory, so start loading a
     * record further on. Four cache lines cover most of a record with 20
     * attributes, and a prefetch never faults, even past its end. */
    if (index + PREFETCH_DISTANCE < table->count &&
        table->records[index + PREFETCH_DISTANCE] != NULL) {
        const char *ahead = (const char *)table->records[index + PREFETCH_DISTANCE];

        __builtin_prefetch(ahead);
        __builtin_prefetch(ahead + 64);
        __builtin_prefetch(ahead + 128);
        __builtin_prefetch(ahead + 192);
    }

    record = table->records[index];
    slot = search(record, name_id, &found);
    if (!found)
        return 0;
    value->type = (attr_type)record_types(record)[slot];
    value->payload = record_payloads(record)[slot];
    return 1;
}

json_object *attr_table_value_to_json(const attr_value *value)
{
    const pooled_value *pooled = value->payload.pooled;

    switch (value->type) {
    case ATTR_TYPE_BOOLEAN:
        return json_object_new_boolean(value->payload.boolean != 0);
    case ATTR_TYPE_INTEGER:
        return json_object_new_int64(value->payload.integer);
    case ATTR_TYPE_DOUBLE:
        return json_object_new_double(value->payload.number);
    case ATTR_TYPE_STRING:
        return json_object_new_string_len(pooled->text, (int)pooled->length);
    case ATTR_TYPE_ARRAY:
    case ATTR_TYPE_OBJECT:
        return json_tokener_parse(pooled->text);
    case ATTR_TYPE_NONE:
        break;
    }
    return NULL;
}

struct json_object *attr_table_get(const attr_table *table, uint32_t index, const char *name)
{
    uint32_t name_id = name_table_find(table->names, name);
    attr_value value;

    if (name_id == NAME_NONE || !attr_table_find(table, index, name_id, &value))
        return NULL;
    return attr_table_value_to_json(&value);
}

const char *attr_table_name(const attr_table *table, uint32_t name_id)
{
    return name_table_name(table->names, name_id);
}

void attr_table_each(const attr_table *table, uint32_t index,
                     void (*fn)(void *user_data, uint32_t name_id, const attr_value *value),
                     void *user_data)
{
    const attr_record *record;

    if (!attr_table_exists(table, index))
        return;
    record = table->records[index];
    for (uint32_t slot = 0; slot < record->count; slot++) {
        attr_value value = {(attr_type)record_types(record)[slot],
                            record_payloads(record)[slot]};

        fn(user_data, record_names(record)[slot], &value);
    }
}

/* Only the loop thread counts references, and readers on workers never
 * read the count, so taking one needs no lock. Giving one back may free
 * the value, which readers must not see: that takes the write lock. */
void attr_table_retain_value(attr_table *table, const attr_value *value)
{
    (void)table;
    value_pool_retain_value(value);
}

void attr_table_release_value(attr_table *table, const attr_value *value)
{
    if (value->type != ATTR_TYPE_STRING && value->type != ATTR_TYPE_ARRAY &&
        value->type != ATTR_TYPE_OBJECT)
        return;
    pthread_rwlock_wrlock(&table->lock);
    value_pool_release_value(table->pool, value);
    pthread_rwlock_unlock(&table->lock);
}

struct json_object *attr_table_to_json(const attr_table *table, uint32_t index)
{
    const attr_record *record;
    json_object *object;

    if (!attr_table_exists(table, index))
        return NULL;
    object = json_object_new_object();
    if (object == NULL)
        return NULL;

    record = table->records[index];
    for (uint32_t slot = 0; slot < record->count; slot++) {
        attr_value value = {(attr_type)record_types(record)[slot],
                            record_payloads(record)[slot]};
        json_object *member = attr_table_value_to_json(&value);
        const char *name = name_table_name(table->names, record_names(record)[slot]);

        if (member == NULL || json_object_object_add(object, name, member) != 0) {
            json_object_put(member);
            json_object_put(object);
            return NULL;
        }
    }
    return object;
}

/* A growing text buffer for attr_table_json_text(); failed sticks once an
 * allocation failed, so that the steps need no checks of their own. */
typedef struct json_text {
    char *data;
    size_t length;
    size_t capacity;
    int failed;
} json_text;

static int text_reserve(json_text *out, size_t more)
{
    size_t capacity = out->capacity < 256 ? 256 : out->capacity;
    char *grown;

    if (out->failed)
        return -1;
    if (out->length + more + 1 <= out->capacity)
        return 0;
    while (capacity < out->length + more + 1)
        capacity *= 2;
    grown = realloc(out->data, capacity);
    if (grown == NULL) {
        out->failed = 1;
        return -1;
    }
    out->data = grown;
    out->capacity = capacity;
    return 0;
}

static void text_append(json_text *out, const char *bytes, size_t length)
{
    if (text_reserve(out, length) != 0)
        return;
    memcpy(out->data + out->length, bytes, length);
    out->length += length;
}

/* Bytes that a JSON string escapes: control characters, quote, backslash. */
static const bool needs_escape[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

/* Append a JSON string with the escapes that json-c 0.16 writes under
 * JSON_C_TO_STRING_NOSLASHESCAPE: the two-character forms for backspace,
 * form feed, newline, carriage return, tab, quote and backslash, \u00xx
 * for other control characters, and every other byte as it is. */
static void text_append_string(json_text *out, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    /* At most 6 bytes per input byte, plus the quotes. */
    if (text_reserve(out, length * 6 + 2) != 0)
        return;
    out->data[out->length++] = '"';
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        char *at;

        if (!needs_escape[c])
            continue;
        memcpy(out->data + out->length, text + run, i - run);
        out->length += i - run;
        run = i + 1;
        at = out->data + out->length;
        at[0] = '\\';
        switch (c) {
        case '\b': at[1] = 'b'; break;
        case '\f': at[1] = 'f'; break;
        case '\n': at[1] = 'n'; break;
        case '\r': at[1] = 'r'; break;
        case '\t': at[1] = 't'; break;
        case '"': at[1] = '"'; break;
        case '\\': at[1] = '\\'; break;
        default:
            memcpy(at + 1, "u00", 3);
            at[4] = hex[c >> 4];
            at[5] = hex[c & 0xf];
            out->length += 4;
            break;
        }
        out->length += 2;
    }
    memcpy(out->data + out->length, text + run, length - run);
    out->length += length - run;
    out->data[out->length++] = '"';
}

/* Append a double as json_object_new_double() serializes it in json-c
 * 0.16 without a custom format (double_text.h). */
static void text_append_double(json_text *out, double number)
{
    char buffer[DOUBLE_TEXT_SIZE];
    size_t length = double_text_format(number, buffer);

    text_append(out, buffer, length);
}

/* Append an integer in decimal, as "%" PRId64 writes it, because
 * snprintf() took a third of the instructions of saving an entity. */
static void text_append_integer(json_text *out, int64_t number)
{
    char digits[24];
    char *end = digits + sizeof(digits);
    char *at = end;
    /* The magnitude as unsigned, which also fits that of INT64_MIN. */
    uint64_t magnitude = number < 0 ? (uint64_t)0 - (uint64_t)number : (uint64_t)number;

    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (number < 0)
        *--at = '-';
    text_append(out, at, (size_t)(end - at));
}

static void text_append_value(json_text *out, const attr_value *value)
{
    switch (value->type) {
    case ATTR_TYPE_BOOLEAN:
        if (value->payload.boolean != 0)
            text_append(out, "true", 4);
        else
            text_append(out, "false", 5);
        break;
    case ATTR_TYPE_INTEGER:
        text_append_integer(out, value->payload.integer);
        break;
    case ATTR_TYPE_DOUBLE:
        text_append_double(out, value->payload.number);
        break;
    case ATTR_TYPE_STRING:
        text_append_string(out, value->payload.pooled->text, value->payload.pooled->length);
        break;
    case ATTR_TYPE_ARRAY:
    case ATTR_TYPE_OBJECT:
        /* The pool keeps the compact text that json-c wrote for the value,
         * and json-c writes the same text again for the value it parses
         * from it. */
        text_append(out, value->payload.pooled->text, value->payload.pooled->length);
        break;
    case ATTR_TYPE_NONE:
        text_append(out, "null", 4);
        break;
    }
}

/* The key text of name_id ("name":), made on first use; NULL when out of
 * memory. */
static const char *key_text(attr_table *table, uint32_t name_id)
{
    json_text key = {0};
    const char *name;

    if (name_id >= table->key_text_capacity) {
        uint32_t capacity = table->key_text_capacity == 0 ? 64 : table->key_text_capacity;
        char **grown;

        while (capacity <= name_id)
            capacity *= 2;
        grown = realloc(table->key_texts, capacity * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        memset(grown + table->key_text_capacity, 0,
               (capacity - table->key_text_capacity) * sizeof(*grown));
        table->key_texts = grown;
        table->key_text_capacity = capacity;
    }
    if (table->key_texts[name_id] != NULL)
        return table->key_texts[name_id];

    name = name_table_name(table->names, name_id);
    if (name == NULL)
        return NULL;
    text_append_string(&key, name, strlen(name));
    text_append(&key, ":", 1);
    if (text_reserve(&key, 0) != 0)
        return NULL;
    key.data[key.length] = '\0';
    table->key_texts[name_id] = key.data;
    table->key_text_bytes += key.length + 1;
    return key.data;
}

long attr_table_json_text(const attr_table *table, uint32_t index, char **text,
                          size_t *capacity)
{
    /* Only the key text cache changes, on the loop thread. */
    attr_table *cache = (attr_table *)table;
    json_text out = {*text, 0, *capacity, 0};
    const attr_record *record;

    if (!attr_table_exists(table, index))
        return -EINVAL;
    record = table->records[index];

    text_append(&out, "{", 1);
    for (uint32_t slot = 0; slot < record->count; slot++) {
        attr_value value = {(attr_type)record_types(record)[slot],
                            record_payloads(record)[slot]};
        const char *key = key_text(cache, record_names(record)[slot]);

        if (key == NULL) {
            out.failed = 1;
            break;
        }
        if (slot > 0)
            text_append(&out, ",", 1);
        text_append(&out, key, strlen(key));
        text_append_value(&out, &value);
    }
    text_append(&out, "}", 1);
    if (text_reserve(&out, 0) == 0)
        out.data[out.length] = '\0';

    *text = out.data;
    *capacity = out.capacity;
    return out.failed ? -ENOMEM : (long)out.length;
}

int attr_table_reserve(attr_table *table, uint32_t index, uint32_t slots)
{
    attr_record *record;
    attr_record *grown;

    if (!attr_table_exists(table, index))
        return -EINVAL;
    record = table->records[index];
    if (record->capacity >= slots)
        return 0;

    pthread_rwlock_wrlock(&table->lock);
    grown = resize_record(table, record, slots, 0, 0);
    if (grown != NULL) {
        drop_record(table, record);
        table->records[index] = grown;
    }
    pthread_rwlock_unlock(&table->lock);
    return grown != NULL ? 0 : -ENOMEM;
}

void attr_table_read_lock(attr_table *table)
{
    pthread_rwlock_rdlock(&table->lock);
}

void attr_table_read_unlock(attr_table *table)
{
    pthread_rwlock_unlock(&table->lock);
}

size_t attr_table_memory_bytes(const attr_table *table)
{
    return sizeof(*table) + (size_t)table->capacity * sizeof(attr_record *) +
           (size_t)table->free_capacity * sizeof(uint32_t) + table->record_bytes +
           (size_t)table->key_text_capacity * sizeof(char *) + table->key_text_bytes +
           name_table_memory_bytes(table->names) + value_pool_memory_bytes(table->pool);
}
