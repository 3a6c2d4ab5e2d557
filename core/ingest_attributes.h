/*
 * Attribute writes read from ingest bodies, in the form entity_change
 * carries them: an object mapping each attribute name to
 *   - a scalar or an array of scalars: set to that value,
 *   - null: unset,
 *   - {"operation": "set"|"setIfNull"|"inc"|"dec", "value": V}.
 * A nested object value is always wrapped in {"operation": "set", ...}, so
 * every object value in the output is an operation and the store never has
 * to guess whether {"operation": ...} was data.
 *
 * Attribute values follow the rules of the data model: scalars, arrays of
 * scalars, or nested objects whose members follow the same rules.
 */
#ifndef WHARF_CORE_INGEST_ATTRIBUTES_H
#define WHARF_CORE_INGEST_ATTRIBUTES_H

#include <stddef.h>

struct json_object;

/* Build writes from Segment traits: every trait is a set, null unsets.
 * path names the traits in messages ("traits"). Returns 0 and a new object
 * in *writes (NULL when traits has no members), or -EINVAL with a message
 * naming the attribute, or -ENOMEM. traits must be an object. */
int ingest_attributes_from_traits(const struct json_object *traits, const char *path,
                                  struct json_object **writes, char *error,
                                  size_t error_size);

/* Build writes from native API "attributes". A plain value sets, null
 * unsets, and an object with an "operation" member is an operation. inc
 * and dec need a finite number, set and setIfNull need a "value", and an
 * unknown operation is an error naming it and the known ones. An object
 * without "operation" is a nested value to set. Same returns as above. */
int ingest_attributes_from_native(const struct json_object *attributes, const char *path,
                                  struct json_object **writes, char *error,
                                  size_t error_size);

/* Most distinct names that ingest_attributes_name_key() keeps. */
#define INGEST_ATTRIBUTES_NAME_KEYS_MAX 65536

/* name as a string kept for the life of the process, to use as a json-c
 * key without a copy (JSON_C_OBJECT_KEY_IS_CONSTANT): json-c copies every
 * other key of every object, and ingest made two such copies per
 * attribute of every message. Thread-safe. NULL (copy the key then) once
 * INGEST_ATTRIBUTES_NAME_KEYS_MAX names are kept, for a name longer than
 * 255 bytes, or when out of memory. */
const char *ingest_attributes_name_key(const char *name);

/* A copy of an attribute value that shares no object with it, so that
 * either can be freed on any thread; NULL for JSON null or when out of
 * memory. Serializes as value does. */
struct json_object *ingest_attributes_copy_value(const struct json_object *value);

/* Attach to writes (from one of the functions above) the changes that
 * applying them to a new entity records in its entity_update (entities.h):
 * {"name": [null, value]} for each write that sets a value, in order, with
 * the value objects of writes. Ingest calls it on a worker thread, so that
 * the event loop takes the prepared object for a new entity instead of
 * building it. Whoever takes it shares the values with writes, so it must
 * release writes on its own thread before writes can go to another.
 * Nothing is attached when a write is an operation or a nested object, or
 * when writes is NULL. Returns 0 or -ENOMEM. */
int ingest_attributes_prepare_new_changes(struct json_object *writes);

/* The object that ingest_attributes_prepare_new_changes() attached to
 * writes, or NULL. It stays owned by writes. */
struct json_object *ingest_attributes_new_changes(const struct json_object *writes);

/* Give up writes' reference to the attached object, if any; the caller
 * takes its own before. */
void ingest_attributes_detach_new_changes(struct json_object *writes);

#endif
