/*
 * One attribute value as attr_table stores it and segment evaluation reads
 * it: a type and an 8-byte payload. Strings, arrays and objects point into
 * the table's value pool (value_pool.h), shared by every entity holding the
 * same value.
 */
#ifndef WHARF_CORE_ATTR_VALUE_H
#define WHARF_CORE_ATTR_VALUE_H

#include <stdint.h>

#include "attr_table.h"

struct pooled_value;

typedef enum attr_type {
    /* Never a stored attribute. Inside a pooled array it marks an element
     * that is null, an array or an object, which conditions skip. */
    ATTR_TYPE_NONE = 0,
    ATTR_TYPE_BOOLEAN,
    ATTR_TYPE_INTEGER,
    ATTR_TYPE_DOUBLE,
    ATTR_TYPE_STRING,
    ATTR_TYPE_ARRAY,
    ATTR_TYPE_OBJECT
} attr_type;

typedef union attr_payload {
    int64_t boolean; /* 0 or 1 */
    int64_t integer;
    double number;
    const struct pooled_value *pooled; /* strings, arrays, objects */
} attr_payload;

typedef struct attr_value {
    attr_type type;
    attr_payload payload;
} attr_value;

/* Find the attribute with an interned name id (attr_table_intern_name) on
 * the entity at index. Returns 1 and fills *value when the attribute is
 * set, 0 when it is not or the index is not in use. The value stays valid
 * while the caller holds the read lock, or until the loop thread next
 * writes to the table. */
int attr_table_find(const attr_table *table, uint32_t index, uint32_t name_id,
                    attr_value *value);

#endif
