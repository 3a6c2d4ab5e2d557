/*
 * Attribute-to-field mappings: which attribute of a user or account fills
 * which field at the destination, read from a STRING_MAP setting of the
 * form {"destination_field": "attribute", ...}.
 *
 * Each field has a declared type. Applying a mapping to an entity's
 * attributes checks every mapped value against that type and length and
 * writes the fields as one JSON object. A value that does not fit gives a
 * reason that names the attribute, the field, the value's type and the fix,
 * so the plugin can set an ERROR on that one message and send the rest.
 *
 * A plugin that has its field list when create() runs passes it to
 * wharf_field_mapping_read(), which rejects unknown fields at save time. A
 * plugin that learns them later from the destination (a metadata request)
 * reads the mapping without fields and calls wharf_field_mapping_resolve()
 * once it has them. A field that is still unknown then gives a per-message
 * reason when a message carries a value for it.
 *
 * The functions only read their inputs, so one mapping may be applied from
 * several threads at once; resolve() modifies the mapping and must not run
 * meanwhile.
 */
#ifndef WHARF_SDK_FIELD_MAPPING_H
#define WHARF_SDK_FIELD_MAPPING_H

#include <stddef.h>

#include "wharf/sdk/buffer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

/* Declared type of a destination field, and the JSON values it accepts. */
typedef enum wharf_field_type {
    /* A string; numbers and booleans are written as their JSON text
     * ("42", "true"). */
    WHARF_FIELD_STRING = 1,
    /* A JSON number (integer or decimal). Strings are rejected, even "42". */
    WHARF_FIELD_NUMBER = 2,
    /* JSON true or false. */
    WHARF_FIELD_BOOLEAN = 3,
    /* An ISO 8601 calendar date, "2026-12-04", or a date-time whose date
     * part is used; written as "YYYY-MM-DD". */
    WHARF_FIELD_DATE = 4,
    /* An ISO 8601 date-time with a time zone ("2026-12-04T10:00:00Z",
     * "...+01:00"), written as given, or an integer of milliseconds since
     * the Unix epoch, written as that integer. */
    WHARF_FIELD_DATETIME = 5
} wharf_field_type;

/* One field the destination declares. */
typedef struct wharf_field {
    const char *name;
    wharf_field_type type;
    /* STRING only: maximum length in bytes of the written text; 0 means no
     * limit. */
    size_t max_length;
} wharf_field;

/* One mapped field. type and max_length are meaningful when known is 1. */
typedef struct wharf_field_mapping_entry {
    char *field;
    char *attribute;
    int known;
    wharf_field_type type;
    size_t max_length;
} wharf_field_mapping_entry;

typedef struct wharf_field_mapping {
    char *setting; /* name of the setting it was read from, for reasons */
    wharf_field_mapping_entry *entries;
    size_t count;
} wharf_field_mapping;

/* Read the mapping from settings[setting], a JSON object of field name to
 * attribute name, in the object's key order. An absent or null setting
 * gives an empty mapping.
 *
 * fields/field_count: the destination's fields, or NULL/0 when they are
 * not known yet (every entry then has known 0). With fields, a field not
 * among them is rejected.
 *
 * Returns 0, -EINVAL or -ENOMEM. -EINVAL comes with an operator-facing
 * message in error: the setting is not an object, a value is not a string,
 * a name is empty, or a field is unknown. On failure *mapping is left
 * empty. */
int wharf_field_mapping_read(const struct json_object *settings, const char *setting,
                             const wharf_field *fields, size_t field_count,
                             wharf_field_mapping *mapping, char *error,
                             size_t error_size);

/* Look each entry's field up in fields and set known, type and max_length.
 * Entries whose field is not among fields get known 0. Returns the number
 * of entries left unknown. */
size_t wharf_field_mapping_resolve(wharf_field_mapping *mapping,
                                   const wharf_field *fields, size_t field_count);

/* Release the mapping's memory and leave it empty. */
void wharf_field_mapping_free(wharf_field_mapping *mapping);

/* Append the mapped fields of attributes (an entity's "attributes" object,
 * or NULL for none) to out as one JSON object, {"field": value, ...}, in
 * mapping order. An attribute that is absent or null leaves its field out.
 *
 * Returns 0; -EINVAL when a value does not fit its field (wrong type, too
 * long, invalid date, unknown field), with a reason for the operator in
 * reason; or -ENOMEM. On failure out keeps its old length. */
int wharf_field_mapping_append_object(const wharf_field_mapping *mapping,
                                      const struct json_object *attributes,
                                      wharf_buffer *out, char *reason,
                                      size_t reason_size);

/* Check one value against the entry's field and append its JSON form to
 * out, without the field name. Same returns as
 * wharf_field_mapping_append_object(). */
int wharf_field_value_append(const wharf_field_mapping_entry *entry,
                             const struct json_object *value, wharf_buffer *out,
                             char *reason, size_t reason_size);

/* "string", "number", "boolean", "date" or "datetime". */
const char *wharf_field_type_name(wharf_field_type type);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_FIELD_MAPPING_H */
