#include "wharf/sdk/field_mapping.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/json_writer.h"

/* Characters of a value quoted in a reason; values may be long or personal,
 * so reasons show only their start. */
#define QUOTED_VALUE_MAX 40

const char *wharf_field_type_name(wharf_field_type type)
{
    switch (type) {
    case WHARF_FIELD_STRING:
        return "string";
    case WHARF_FIELD_NUMBER:
        return "number";
    case WHARF_FIELD_BOOLEAN:
        return "boolean";
    case WHARF_FIELD_DATE:
        return "date";
    case WHARF_FIELD_DATETIME:
        return "datetime";
    }
    return "unknown";
}

static const wharf_field *find_field(const wharf_field *fields, size_t count,
                                     const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    }
    return NULL;
}

static void set_known(wharf_field_mapping_entry *entry, const wharf_field *field)
{
    entry->known = field != NULL;
    entry->type = field != NULL ? field->type : WHARF_FIELD_STRING;
    entry->max_length = field != NULL ? field->max_length : 0;
}

void wharf_field_mapping_free(wharf_field_mapping *mapping)
{
    for (size_t i = 0; i < mapping->count; i++) {
        free(mapping->entries[i].field);
        free(mapping->entries[i].attribute);
    }
    free(mapping->entries);
    free(mapping->setting);
    memset(mapping, 0, sizeof(*mapping));
}

static int read_entry(const char *setting, const char *field, struct json_object *value,
                      const wharf_field *fields, size_t field_count,
                      wharf_field_mapping_entry *entry, char *error, size_t error_size)
{
    const wharf_field *declared = NULL;

    if (field[0] == '\0') {
        snprintf(error, error_size,
                 "setting \"%s\" has an empty field name; remove that entry", setting);
        return -EINVAL;
    }
    if (!json_object_is_type(value, json_type_string) ||
        json_object_get_string_len(value) == 0) {
        snprintf(error, error_size,
                 "setting \"%s\": field \"%.64s\" must map to an attribute name "
                 "(a non-empty string), got %s",
                 setting, field,
                 json_object_is_type(value, json_type_string) ? "an empty string"
                                                              : json_type_to_name(json_object_get_type(value)));
        return -EINVAL;
    }

    if (fields != NULL) {
        declared = find_field(fields, field_count, field);
        if (declared == NULL) {
            snprintf(error, error_size,
                     "setting \"%s\" maps attribute \"%.64s\" to field \"%.64s\", "
                     "which does not exist at the destination; create that field there "
                     "or remove it from the mapping",
                     setting, json_object_get_string(value), field);
            return -EINVAL;
        }
    }

    entry->field = strdup(field);
    entry->attribute = strdup(json_object_get_string(value));
    if (entry->field == NULL || entry->attribute == NULL) {
        snprintf(error, error_size, "out of memory while reading setting \"%s\"", setting);
        return -ENOMEM;
    }
    set_known(entry, declared);
    return 0;
}

int wharf_field_mapping_read(const struct json_object *settings, const char *setting,
                             const wharf_field *fields, size_t field_count,
                             wharf_field_mapping *mapping, char *error,
                             size_t error_size)
{
    struct json_object *object = NULL;
    int rc = 0;

    memset(mapping, 0, sizeof(*mapping));
    mapping->setting = strdup(setting);
    if (mapping->setting == NULL) {
        snprintf(error, error_size, "out of memory while reading setting \"%s\"", setting);
        return -ENOMEM;
    }

    if (settings == NULL || !json_object_object_get_ex(settings, setting, &object) ||
        object == NULL)
        return 0;
    if (!json_object_is_type(object, json_type_object)) {
        snprintf(error, error_size,
                 "setting \"%s\" must be an object of field name to attribute name, "
                 "such as {\"firstname\": \"first_name\"}, got %s",
                 setting, json_type_to_name(json_object_get_type(object)));
        rc = -EINVAL;
        goto fail;
    }

    mapping->entries = calloc((size_t)json_object_object_length(object) + 1,
                              sizeof(*mapping->entries));
    if (mapping->entries == NULL) {
        snprintf(error, error_size, "out of memory while reading setting \"%s\"", setting);
        rc = -ENOMEM;
        goto fail;
    }

    json_object_object_foreach(object, field, value) {
        rc = read_entry(setting, field, value, fields, field_count,
                        &mapping->entries[mapping->count], error, error_size);
        mapping->count++;
        if (rc != 0)
            goto fail;
    }
    return 0;

fail:
    wharf_field_mapping_free(mapping);
    return rc;
}

size_t wharf_field_mapping_resolve(wharf_field_mapping *mapping,
                                   const wharf_field *fields, size_t field_count)
{
    size_t unknown = 0;

    for (size_t i = 0; i < mapping->count; i++) {
        wharf_field_mapping_entry *entry = &mapping->entries[i];

        set_known(entry, find_field(fields, field_count, entry->field));
        if (!entry->known)
            unknown++;
    }
    return unknown;
}

/* ---- value checks ---------------------------------------------------- */

static int digits(const char *text, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
    }
    return 1;
}

static int number_at(const char *text, size_t count)
{
    int value = 0;

    for (size_t i = 0; i < count; i++)
        value = value * 10 + (text[i] - '0');
    return value;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* "YYYY-MM-DD" at the start of text, a real calendar date. */
static int is_calendar_date(const char *text, size_t length)
{
    int year;
    int month;
    int day;

    if (length < 10 || !digits(text, 4) || text[4] != '-' || !digits(text + 5, 2) ||
        text[7] != '-' || !digits(text + 8, 2))
        return 0;
    year = number_at(text, 4);
    month = number_at(text + 5, 2);
    day = number_at(text + 8, 2);
    return month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", the RFC 3339 form of
 * ISO 8601. A date-time without a zone is rejected because its instant
 * depends on where it is read. */
static int is_date_time(const char *text, size_t length)
{
    size_t at = 19;

    if (!is_calendar_date(text, length) || length < 20)
        return 0;
    if ((text[10] != 'T' && text[10] != 't') || !digits(text + 11, 2) || text[13] != ':' ||
        !digits(text + 14, 2) || text[16] != ':' || !digits(text + 17, 2))
        return 0;
    /* 60 is a leap second. */
    if (number_at(text + 11, 2) > 23 || number_at(text + 14, 2) > 59 ||
        number_at(text + 17, 2) > 60)
        return 0;

    if (text[at] == '.') {
        size_t first = ++at;

        while (at < length && text[at] >= '0' && text[at] <= '9')
            at++;
        if (at == first)
            return 0;
    }
    if (at + 1 == length && (text[at] == 'Z' || text[at] == 'z'))
        return 1;
    if (at + 6 != length || (text[at] != '+' && text[at] != '-') || !digits(text + at + 1, 2) ||
        text[at + 3] != ':' || !digits(text + at + 4, 2))
        return 0;
    return number_at(text + at + 1, 2) <= 23 && number_at(text + at + 4, 2) <= 59;
}

/* The start of a value as JSON text, for a reason. */
static void quote_value(const struct json_object *value, char *quoted, size_t size)
{
    wharf_buffer text = WHARF_BUFFER_INIT;

    if (wharf_json_append(&text, value) != 0 || text.data == NULL) {
        snprintf(quoted, size, "(a %s)", json_type_to_name(json_object_get_type(value)));
    } else if (text.length > QUOTED_VALUE_MAX) {
        snprintf(quoted, size, "%.*s...", QUOTED_VALUE_MAX, text.data);
    } else {
        snprintf(quoted, size, "%s", text.data);
    }
    wharf_buffer_free(&text);
}

static int wrong_type(const wharf_field_mapping_entry *entry,
                      const struct json_object *value, const char *expected,
                      char *reason, size_t reason_size)
{
    char quoted[QUOTED_VALUE_MAX + 8];

    quote_value(value, quoted, sizeof(quoted));
    snprintf(reason, reason_size,
             "attribute \"%.64s\" has the %s value %s, but field \"%.64s\" is a %s field "
             "and takes %s; correct the attribute or map another one",
             entry->attribute, json_type_to_name(json_object_get_type(value)), quoted,
             entry->field, wharf_field_type_name(entry->type), expected);
    return -EINVAL;
}

static int append_string_field(const wharf_field_mapping_entry *entry,
                               const struct json_object *value, wharf_buffer *out,
                               char *reason, size_t reason_size)
{
    wharf_buffer text = WHARF_BUFFER_INIT;
    const char *bytes;
    size_t length;
    int rc;

    switch (json_object_get_type(value)) {
    case json_type_string:
        bytes = json_object_get_string((struct json_object *)value);
        length = (size_t)json_object_get_string_len(value);
        break;
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        rc = wharf_json_append(&text, value);
        if (rc != 0)
            return rc;
        bytes = text.data;
        length = text.length;
        break;
    default:
        return wrong_type(entry, value, "a string, number or boolean", reason, reason_size);
    }

    if (entry->max_length > 0 && length > entry->max_length) {
        snprintf(reason, reason_size,
                 "attribute \"%.64s\" is %zu bytes long, but field \"%.64s\" takes at most "
                 "%zu; shorten the value or map another attribute",
                 entry->attribute, length, entry->field, entry->max_length);
        wharf_buffer_free(&text);
        return -EINVAL;
    }

    rc = wharf_json_append_string(out, bytes, length);
    wharf_buffer_free(&text);
    return rc;
}

static int append_date_field(const wharf_field_mapping_entry *entry,
                             const struct json_object *value, wharf_buffer *out,
                             char *reason, size_t reason_size)
{
    const char *text;
    size_t length;

    if (!json_object_is_type(value, json_type_string))
        return wrong_type(entry, value, "a date such as \"2026-12-04\"", reason, reason_size);

    text = json_object_get_string((struct json_object *)value);
    length = (size_t)json_object_get_string_len(value);
    if ((length == 10 && is_calendar_date(text, length)) || is_date_time(text, length))
        return wharf_json_append_string(out, text, 10);
    return wrong_type(entry, value, "a date such as \"2026-12-04\"", reason, reason_size);
}

static int append_datetime_field(const wharf_field_mapping_entry *entry,
                                 const struct json_object *value, wharf_buffer *out,
                                 char *reason, size_t reason_size)
{
    static const char expected[] =
        "an ISO 8601 date-time with a zone, such as \"2026-12-04T10:00:00Z\", "
        "or milliseconds since 1970 as an integer";
    const char *text;
    size_t length;

    if (json_object_is_type(value, json_type_int))
        return wharf_json_append(out, value);
    if (!json_object_is_type(value, json_type_string))
        return wrong_type(entry, value, expected, reason, reason_size);

    text = json_object_get_string((struct json_object *)value);
    length = (size_t)json_object_get_string_len(value);
    if (!is_date_time(text, length))
        return wrong_type(entry, value, expected, reason, reason_size);
    return wharf_json_append_string(out, text, length);
}

int wharf_field_value_append(const wharf_field_mapping_entry *entry,
                             const struct json_object *value, wharf_buffer *out,
                             char *reason, size_t reason_size)
{
    size_t old_length = out->length;
    int rc;

    if (!entry->known) {
        snprintf(reason, reason_size,
                 "attribute \"%.64s\" is mapped to field \"%.64s\", which does not exist "
                 "at the destination; create that field there or remove it from the mapping",
                 entry->attribute, entry->field);
        return -EINVAL;
    }

    switch (entry->type) {
    case WHARF_FIELD_STRING:
        rc = append_string_field(entry, value, out, reason, reason_size);
        break;
    case WHARF_FIELD_NUMBER:
        if (!json_object_is_type(value, json_type_int) &&
            !json_object_is_type(value, json_type_double))
            return wrong_type(entry, value, "a number", reason, reason_size);
        rc = wharf_json_append(out, value);
        break;
    case WHARF_FIELD_BOOLEAN:
        if (!json_object_is_type(value, json_type_boolean))
            return wrong_type(entry, value, "true or false", reason, reason_size);
        rc = wharf_json_append(out, value);
        break;
    case WHARF_FIELD_DATE:
        rc = append_date_field(entry, value, out, reason, reason_size);
        break;
    case WHARF_FIELD_DATETIME:
        rc = append_datetime_field(entry, value, out, reason, reason_size);
        break;
    default:
        snprintf(reason, reason_size, "field \"%.64s\" has an invalid declared type %d",
                 entry->field, (int)entry->type);
        rc = -EINVAL;
        break;
    }

    if (rc == -ENOMEM)
        snprintf(reason, reason_size, "out of memory while writing field \"%.64s\"",
                 entry->field);
    if (rc != 0)
        out->length = old_length;
    if (out->data != NULL)
        out->data[out->length] = '\0';
    return rc;
}

int wharf_field_mapping_append_object(const wharf_field_mapping *mapping,
                                      const struct json_object *attributes,
                                      wharf_buffer *out, char *reason,
                                      size_t reason_size)
{
    size_t old_length = out->length;
    int first = 1;
    int rc = wharf_buffer_append_char(out, '{');

    for (size_t i = 0; rc == 0 && i < mapping->count; i++) {
        const wharf_field_mapping_entry *entry = &mapping->entries[i];
        struct json_object *value = NULL;

        if (attributes == NULL ||
            !json_object_object_get_ex(attributes, entry->attribute, &value) || value == NULL)
            continue;

        if (!first)
            rc = wharf_buffer_append_char(out, ',');
        if (rc == 0)
            rc = wharf_json_append_string(out, entry->field, strlen(entry->field));
        if (rc == 0)
            rc = wharf_buffer_append_char(out, ':');
        if (rc == 0)
            rc = wharf_field_value_append(entry, value, out, reason, reason_size);
        first = 0;
    }
    if (rc == 0)
        rc = wharf_buffer_append_char(out, '}');

    if (rc == -ENOMEM)
        snprintf(reason, reason_size, "out of memory while writing the mapped fields");
    if (rc != 0) {
        out->length = old_length;
        if (out->data != NULL)
            out->data[out->length] = '\0';
    }
    return rc;
}
