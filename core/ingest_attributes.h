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

#endif
