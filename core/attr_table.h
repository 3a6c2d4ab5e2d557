/*
 * Attributes of all entities of one type (users or accounts), held in
 * memory in a compact form for segment evaluation: attribute names are
 * interned to small integers, each entity's attributes are one packed
 * allocation sorted by name id, and string values are interned in a shared
 * pool (so one heap object per entity, never one per attribute).
 *
 * Entities are addressed by a dense index assigned by attr_table_add().
 * Only the event loop thread writes. Worker threads that read many entities
 * (segment recomputation) hold the read lock around each chunk they read;
 * the loop thread reads without it.
 */
#ifndef WHARF_CORE_ATTR_TABLE_H
#define WHARF_CORE_ATTR_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct attr_value;

#define ATTR_NO_ENTITY UINT32_MAX

typedef struct attr_table attr_table;

attr_table *attr_table_create(void);
void attr_table_free(attr_table *table);

/* A new entity with no attributes; returns its index, or ATTR_NO_ENTITY
 * when out of memory. Indexes of removed entities are reused. */
uint32_t attr_table_add(attr_table *table);
void attr_table_remove(attr_table *table, uint32_t index);

/* One past the highest index in use; recomputation iterates 0..count-1 and
 * skips indexes for which attr_table_exists() is 0. */
uint32_t attr_table_count(const attr_table *table);
int attr_table_exists(const attr_table *table, uint32_t index);

/* Set one attribute to a JSON value (scalar, array or object); value NULL
 * unsets it. Returns 0 or -ENOMEM. */
int attr_table_set(attr_table *table, uint32_t index, const char *name,
                   const struct json_object *value);

/* attr_table_set() for a name id from attr_table_intern_name(); -EINVAL
 * for an id that was never handed out. */
int attr_table_set_id(attr_table *table, uint32_t index, uint32_t name_id,
                      const struct json_object *value);

/* Set every member of writes, an object of attribute names to values, on
 * the entity as attr_table_set() would one by one (a null value unsets).
 * It takes the write lock once and overlaps the cache misses of the
 * string values. Returns 0, or -ENOMEM when a value could not be set (the
 * others are set). */
int attr_table_set_all(attr_table *table, uint32_t index, const struct json_object *writes);

/* The attribute's value as a new json-c object (caller puts it); NULL when
 * unset. A stored JSON null is returned as NULL too. */
struct json_object *attr_table_get(const attr_table *table, uint32_t index,
                                   const char *name);

/* The name of an interned name id, or NULL for an id never handed out. */
const char *attr_table_name(const attr_table *table, uint32_t name_id);

/* Call fn with the name id and value of each attribute of the entity, in
 * name id order. fn must not write to the table. Loop thread only. */
void attr_table_each(const attr_table *table, uint32_t index,
                     void (*fn)(void *user_data, uint32_t name_id,
                                const struct attr_value *value),
                     void *user_data);

/* Take one more reference on the pooled part of a value from
 * attr_table_find(), so that it stays valid after the attribute changes.
 * Loop thread only. Give it back with attr_table_release_value(). */
void attr_table_retain_value(attr_table *table, const struct attr_value *value);
void attr_table_release_value(attr_table *table, const struct attr_value *value);

/* A value as a new json-c object, as attr_table_get() returns it. */
struct json_object *attr_table_value_to_json(const struct attr_value *value);

/* All attributes of the entity as a new JSON object. */
struct json_object *attr_table_to_json(const attr_table *table, uint32_t index);

/* Write the entity's attributes as compact JSON text into *text, a
 * malloc'ed buffer of *capacity bytes that grows as needed (both may start
 * as NULL and 0). The text is the one json-c writes for
 * attr_table_to_json() with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE, without building that object. Loop
 * thread only: it keeps the key text of each attribute name it writes.
 * Returns the length of the text (NUL-terminated), or -ENOMEM, or -EINVAL
 * when the index is not in use. */
long attr_table_json_text(const attr_table *table, uint32_t index, char **text,
                          size_t *capacity);

/* Make room for slots attributes on the entity, so that setting that many
 * allocates once. Returns 0 or -ENOMEM. */
int attr_table_reserve(attr_table *table, uint32_t index, uint32_t slots);

/* Intern an attribute name; returns its id (stable for the table's life). */
uint32_t attr_table_intern_name(attr_table *table, const char *name);

/* Bulk-reader lock (see above). */
void attr_table_read_lock(attr_table *table);
void attr_table_read_unlock(attr_table *table);

/* Bytes allocated for the table, its records and its string pool. */
size_t attr_table_memory_bytes(const attr_table *table);

#endif
