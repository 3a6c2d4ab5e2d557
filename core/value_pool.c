#include "value_pool.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iso8601.h"
#include "utf8_text.h"

/*
 * A slot contains a pooled value's address and, while the pool uses tags,
 * the top 16 bits of the value's hash in bits 48 to 63 of the slot. Linux
 * gives user space addresses below 2^47 on x86-64 and below 2^48 on
 * AArch64 unless a program requests higher ones from mmap(2), so those
 * bits are free. A probe then compares the tag and reads the value only
 * when the tag matches. In a pool of millions of values each value read is
 * a cache miss, and they took a seventh of the loop thread's time during
 * ingest. A value at an address that needs those bits turns tags off for
 * the pool.
 */
#if UINTPTR_MAX > UINT32_MAX
#define TAG_SHIFT 48
#define ADDRESS_MASK (((uintptr_t)1 << TAG_SHIFT) - 1)
#endif

struct value_pool {
    uintptr_t *slots; /* open addressing, linear probing; 0 is empty */
    size_t slot_mask;
    size_t count;
    size_t value_bytes; /* pooled values and their element arrays */
    bool tagged;
};

value_pool *value_pool_create(void)
{
    value_pool *pool = calloc(1, sizeof(value_pool));

#ifdef TAG_SHIFT
    if (pool != NULL)
        pool->tagged = true;
#endif
    return pool;
}

static pooled_value *slot_value(const value_pool *pool, uintptr_t slot)
{
#ifdef TAG_SHIFT
    if (pool->tagged)
        return (pooled_value *)(slot & ADDRESS_MASK);
#endif
    (void)pool;
    return (pooled_value *)slot;
}

static uintptr_t slot_entry(const value_pool *pool, const pooled_value *value)
{
#ifdef TAG_SHIFT
    if (pool->tagged)
        return (uintptr_t)value | ((uintptr_t)(value->hash >> 16) << TAG_SHIFT);
#endif
    (void)pool;
    return (uintptr_t)value;
}

/* Whether the slot's value may have this hash (always, without tags). */
static bool slot_may_match(const value_pool *pool, uintptr_t slot, uint32_t hash)
{
#ifdef TAG_SHIFT
    if (pool->tagged)
        return (slot >> TAG_SHIFT) == (hash >> 16);
#endif
    (void)pool;
    (void)slot;
    (void)hash;
    return true;
}

/* Make room for value's address: without tags when it needs their bits. */
static void fit_address(value_pool *pool, const pooled_value *value)
{
#ifdef TAG_SHIFT
    if (!pool->tagged || ((uintptr_t)value & ~ADDRESS_MASK) == 0)
        return;
    for (size_t slot = 0; pool->slots != NULL && slot <= pool->slot_mask; slot++)
        pool->slots[slot] &= ADDRESS_MASK;
    pool->tagged = false;
#else
    (void)pool;
    (void)value;
#endif
}

static void free_value(pooled_value *value)
{
    if (value->type == ATTR_TYPE_ARRAY)
        free(value->parsed.elements);
    free(value);
}

void value_pool_free(value_pool *pool)
{
    if (pool == NULL)
        return;
    if (pool->slots != NULL) {
        for (size_t slot = 0; slot <= pool->slot_mask; slot++) {
            if (pool->slots[slot] != 0)
                free_value(slot_value(pool, pool->slots[slot]));
        }
    }
    free(pool->slots);
    free(pool);
}

static size_t find_slot(const value_pool *pool, attr_type type, const char *text, size_t length,
                        uint32_t hash)
{
    size_t slot = hash & pool->slot_mask;

    for (;; slot = (slot + 1) & pool->slot_mask) {
        uintptr_t entry = pool->slots[slot];
        const pooled_value *value;

        if (entry == 0)
            return slot;
        if (!slot_may_match(pool, entry, hash))
            continue;
        value = slot_value(pool, entry);
        if (value->hash == hash && value->type == type && value->length == length &&
            memcmp(value->text, text, length) == 0)
            return slot;
    }
}

void value_pool_prefetch(const value_pool *pool, uint32_t hash, int stage)
{
    size_t slot;
    uintptr_t entry;

    if (pool->slots == NULL)
        return;
    slot = hash & pool->slot_mask;
    if (stage == 0) {
        __builtin_prefetch(&pool->slots[slot]);
        return;
    }
    /* The first slot of the probe run is the likely one. */
    entry = pool->slots[slot];
    if (entry != 0 && slot_may_match(pool, entry, hash))
        __builtin_prefetch(slot_value(pool, entry));
}

/* Keep the table at most three quarters full so probes stay short.
 * NOTE: the table never shrinks, so after mass removals it keeps 8 bytes
 * per slot of its largest size. */
static int reserve_slot(value_pool *pool)
{
    size_t slot_count = pool->slots == NULL ? 64 : (pool->slot_mask + 1);
    uintptr_t *old = pool->slots;
    size_t old_count = pool->slots == NULL ? 0 : pool->slot_mask + 1;
    uintptr_t *slots;

    if (pool->slots != NULL && (pool->count + 1) * 4 <= slot_count * 3)
        return 0;
    if (pool->slots != NULL)
        slot_count *= 2;
    slots = calloc(slot_count, sizeof(uintptr_t));
    if (slots == NULL)
        return -1;

    pool->slots = slots;
    pool->slot_mask = slot_count - 1;
    for (size_t i = 0; i < old_count; i++) {
        size_t slot;

        if (old[i] == 0)
            continue;
        for (slot = slot_value(pool, old[i])->hash & pool->slot_mask; slots[slot] != 0;
             slot = (slot + 1) & pool->slot_mask)
            ;
        slots[slot] = old[i];
    }
    free(old);
    return 0;
}

/* Put a new value into the free slot that find_slot() returned. */
static void place_value(value_pool *pool, size_t slot, pooled_value *value)
{
    fit_address(pool, value);
    pool->slots[slot] = slot_entry(pool, value);
    pool->count++;
}

/* A new value with one reference, not yet in the table. */
static pooled_value *new_value(attr_type type, const char *text, size_t length, uint32_t hash)
{
    pooled_value *value;

    if (length > UINT32_MAX - 1)
        return NULL;
    value = malloc(sizeof(pooled_value) + length + 1);
    if (value == NULL)
        return NULL;
    memset(value, 0, sizeof(*value));
    value->references = 1;
    value->hash = hash;
    value->length = (uint32_t)length;
    value->type = (uint8_t)type;
    memcpy(value->text, text, length);
    value->text[length] = '\0';
    return value;
}

const pooled_value *value_pool_intern_string(value_pool *pool, const char *text, size_t length)
{
    return value_pool_intern_string_hashed(pool, text, length, utf8_hash(text, length));
}

const pooled_value *value_pool_intern_string_hashed(value_pool *pool, const char *text,
                                                    size_t length, uint32_t hash)
{
    pooled_value *value;
    size_t slot;

    if (reserve_slot(pool) != 0)
        return NULL;
    slot = find_slot(pool, ATTR_TYPE_STRING, text, length, hash);
    if (pool->slots[slot] != 0) {
        value = slot_value(pool, pool->slots[slot]);
        value->references++;
        return value;
    }

    value = new_value(ATTR_TYPE_STRING, text, length, hash);
    if (value == NULL)
        return NULL;
    value->folded_hash = utf8_folded_hash(text, length);
    if (iso8601_parse(text, length, &value->parsed.date_ms) == 0)
        value->is_date = 1;

    place_value(pool, slot, value);
    pool->value_bytes += sizeof(pooled_value) + length + 1;
    return value;
}

int value_pool_scalar_from_json(const json_object *json, attr_value *value)
{
    json_object *item = (json_object *)json;

    switch (json_object_get_type(item)) {
    case json_type_boolean:
        value->type = ATTR_TYPE_BOOLEAN;
        value->payload.boolean = json_object_get_boolean(item) ? 1 : 0;
        return 1;
    case json_type_int:
        /* json-c keeps integers above INT64_MAX as uint64; such a value is
         * only comparable as a double. */
        if (json_object_get_int64(item) == INT64_MAX &&
            json_object_get_uint64(item) > (uint64_t)INT64_MAX) {
            value->type = ATTR_TYPE_DOUBLE;
            value->payload.number = (double)json_object_get_uint64(item);
        } else {
            value->type = ATTR_TYPE_INTEGER;
            value->payload.integer = json_object_get_int64(item);
        }
        return 1;
    case json_type_double:
        value->type = ATTR_TYPE_DOUBLE;
        value->payload.number = json_object_get_double(item);
        return 1;
    default:
        return 0;
    }
}

static void release_elements(value_pool *pool, attr_value *elements, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (elements[i].type == ATTR_TYPE_STRING)
            value_pool_release(pool, elements[i].payload.pooled);
    }
}

/* Parse the scalar elements of array once, so that conditions on array
 * attributes never parse JSON. Returns 0 or -1 when out of memory. */
static int parse_elements(value_pool *pool, const json_object *array, attr_value **elements,
                          uint32_t *count)
{
    json_object *items = (json_object *)array;
    size_t length = json_object_array_length(items);
    attr_value *parsed;

    *elements = NULL;
    *count = 0;
    if (length == 0)
        return 0;
    if (length > UINT32_MAX)
        return -1;
    parsed = calloc(length, sizeof(attr_value));
    if (parsed == NULL)
        return -1;

    for (size_t i = 0; i < length; i++) {
        json_object *item = json_object_array_get_idx(items, i);

        if (value_pool_scalar_from_json(item, &parsed[i]))
            continue;
        if (json_object_is_type(item, json_type_string)) {
            parsed[i].payload.pooled = value_pool_intern_string(
                pool, json_object_get_string(item), (size_t)json_object_get_string_len(item));
            if (parsed[i].payload.pooled == NULL) {
                release_elements(pool, parsed, i);
                free(parsed);
                return -1;
            }
            parsed[i].type = ATTR_TYPE_STRING;
        }
        /* Nested arrays, objects and nulls stay ATTR_TYPE_NONE. */
    }
    *elements = parsed;
    *count = (uint32_t)length;
    return 0;
}

const pooled_value *value_pool_intern_json(value_pool *pool, const json_object *json)
{
    /* NOTE: json-c caches the serialized text inside the object, so this
     * writes to the caller's object although the argument is const. */
    json_object *object = (json_object *)json;
    attr_type type = json_object_is_type(object, json_type_array) ? ATTR_TYPE_ARRAY
                                                                   : ATTR_TYPE_OBJECT;
    const char *text = json_object_to_json_string_ext(
        object, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t length;
    uint32_t hash;
    pooled_value *value;
    attr_value *elements = NULL;
    uint32_t element_count = 0;
    size_t slot;

    if (text == NULL)
        return NULL;
    length = strlen(text);
    hash = utf8_hash(text, length);
    if (reserve_slot(pool) != 0)
        return NULL;
    slot = find_slot(pool, type, text, length, hash);
    if (pool->slots[slot] != 0) {
        value = slot_value(pool, pool->slots[slot]);
        value->references++;
        return value;
    }

    /* Element strings are interned first; that may grow the table, so the
     * slot is looked up again afterwards. */
    if (type == ATTR_TYPE_ARRAY && parse_elements(pool, object, &elements, &element_count) != 0)
        return NULL;
    value = new_value(type, text, length, hash);
    if (value == NULL || reserve_slot(pool) != 0) {
        release_elements(pool, elements, element_count);
        free(elements);
        free(value);
        return NULL;
    }
    value->element_count = element_count;
    value->parsed.elements = elements;

    slot = find_slot(pool, type, text, length, hash);
    place_value(pool, slot, value);
    pool->value_bytes += sizeof(pooled_value) + length + 1 + element_count * sizeof(attr_value);
    return value;
}

/* Remove the value in slot hole and shift later entries of its probe run
 * back, so lookups never need tombstones. */
static void remove_slot(value_pool *pool, size_t hole)
{
    size_t mask = pool->slot_mask;
    size_t next = (hole + 1) & mask;

    while (pool->slots[next] != 0) {
        size_t home = slot_value(pool, pool->slots[next])->hash & mask;

        /* The entry at next may fill the hole unless its home lies
         * between the hole and next. */
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            pool->slots[hole] = pool->slots[next];
            hole = next;
        }
        next = (next + 1) & mask;
    }
    pool->slots[hole] = 0;
}

void value_pool_release(value_pool *pool, const pooled_value *value)
{
    pooled_value *owned = (pooled_value *)value;
    size_t slot;

    if (value == NULL || --owned->references > 0)
        return;

    for (slot = value->hash & pool->slot_mask; slot_value(pool, pool->slots[slot]) != value;
         slot = (slot + 1) & pool->slot_mask)
        ;
    remove_slot(pool, slot);
    pool->count--;
    pool->value_bytes -= sizeof(pooled_value) + value->length + 1;

    if (value->type == ATTR_TYPE_ARRAY) {
        pool->value_bytes -= value->element_count * sizeof(attr_value);
        release_elements(pool, value->parsed.elements, value->element_count);
    }
    free_value(owned);
}

int value_pool_intern_json_value(value_pool *pool, const json_object *json, attr_value *value)
{
    json_object *object = (json_object *)json;

    memset(value, 0, sizeof(*value));
    if (object == NULL || value_pool_scalar_from_json(object, value))
        return 0;

    if (json_object_is_type(object, json_type_string)) {
        value->payload.pooled = value_pool_intern_string(
            pool, json_object_get_string(object), (size_t)json_object_get_string_len(object));
        value->type = ATTR_TYPE_STRING;
    } else {
        value->payload.pooled = value_pool_intern_json(pool, object);
        value->type = json_object_is_type(object, json_type_array) ? ATTR_TYPE_ARRAY
                                                                  : ATTR_TYPE_OBJECT;
    }
    if (value->payload.pooled == NULL) {
        value->type = ATTR_TYPE_NONE;
        return -ENOMEM;
    }
    return 0;
}

void value_pool_retain_value(const attr_value *value)
{
    if (value->type == ATTR_TYPE_STRING || value->type == ATTR_TYPE_ARRAY ||
        value->type == ATTR_TYPE_OBJECT)
        ((pooled_value *)value->payload.pooled)->references++;
}

void value_pool_release_value(value_pool *pool, const attr_value *value)
{
    if (value->type == ATTR_TYPE_STRING || value->type == ATTR_TYPE_ARRAY ||
        value->type == ATTR_TYPE_OBJECT)
        value_pool_release(pool, value->payload.pooled);
}

size_t value_pool_size(const value_pool *pool)
{
    return pool->count;
}

size_t value_pool_memory_bytes(const value_pool *pool)
{
    size_t slots = pool->slots == NULL ? 0 : pool->slot_mask + 1;

    return sizeof(*pool) + slots * sizeof(uintptr_t) + pool->value_bytes;
}
