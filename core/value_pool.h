/*
 * Interned attribute values of one attr_table: strings, and arrays and
 * objects as JSON text. Entities share one pooled value per distinct value
 * and count references to it, so a value no entity holds any more is
 * freed. Date strings are parsed once here, when first interned, so that
 * segment evaluation compares dates as integers.
 *
 * Not synchronized: attr_table takes its write lock around every call that
 * changes the pool.
 */
#ifndef WHARF_CORE_VALUE_POOL_H
#define WHARF_CORE_VALUE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "attr_value.h"

struct json_object;

typedef struct pooled_value {
    uint32_t references;
    uint32_t hash;        /* utf8_hash() of text */
    uint32_t folded_hash; /* utf8_folded_hash() of text; strings only */
    uint32_t length;      /* bytes of text, without the terminating NUL */
    uint8_t type;         /* ATTR_TYPE_STRING, ATTR_TYPE_ARRAY or ATTR_TYPE_OBJECT */
    uint8_t is_date;      /* strings: text is ISO 8601, parsed into date_ms */
    uint32_t element_count;
    union {
        int64_t date_ms;      /* strings, when is_date: Unix epoch milliseconds */
        attr_value *elements; /* arrays: element_count elements, strings pooled */
    } parsed;
    char text[]; /* the string, or compact JSON text for arrays and objects */
} pooled_value;

typedef struct value_pool value_pool;

value_pool *value_pool_create(void);

/* Free the pool and every value in it, whatever its references. */
void value_pool_free(value_pool *pool);

/* The pooled string with these bytes, added if new, with one more
 * reference for the caller; NULL when out of memory. */
const pooled_value *value_pool_intern_string(value_pool *pool, const char *text,
                                             size_t length);

/* value_pool_intern_string() for a caller that has the utf8_hash() of the
 * text already. */
const pooled_value *value_pool_intern_string_hashed(value_pool *pool, const char *text,
                                                    size_t length, uint32_t hash);

/* The pooled array or object with the JSON text of value, added if new,
 * with one more reference for the caller; NULL when out of memory. */
const pooled_value *value_pool_intern_json(value_pool *pool, const struct json_object *value);

/* Start loading into the cache what interning a string with this
 * utf8_hash() reads. Stage 0 loads its slot, and stage 1 the value that
 * the slot names, if its tag matches. A caller about to intern several
 * strings runs stage 0 for all of them, then stage 1, so that their cache
 * misses overlap instead of following one another. */
void value_pool_prefetch(const value_pool *pool, uint32_t hash, int stage);

/* Drop one reference; the value is freed with its last one. */
void value_pool_release(value_pool *pool, const pooled_value *value);

/* Fill value from a JSON boolean or number; returns 1, or 0 (value
 * untouched) for any other JSON type. Integers above INT64_MAX become
 * doubles. */
int value_pool_scalar_from_json(const struct json_object *json, attr_value *value);

/* Convert any JSON value into an attr_value, interning strings, arrays and
 * objects with one reference for the caller. JSON null (a NULL json) gives
 * ATTR_TYPE_NONE. Returns 0 or -ENOMEM. */
int value_pool_intern_json_value(value_pool *pool, const struct json_object *json,
                                 attr_value *value);

/* Take one more reference on the pooled value an attr_value points to, if
 * any. */
void value_pool_retain_value(const attr_value *value);

/* Drop the reference an attr_value holds, if it points into the pool. */
void value_pool_release_value(value_pool *pool, const attr_value *value);

/* Distinct values in the pool. */
size_t value_pool_size(const value_pool *pool);

size_t value_pool_memory_bytes(const value_pool *pool);

#endif
