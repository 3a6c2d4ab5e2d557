#include "wharf/sdk/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Find name in settings. Returns the value, or NULL when it is absent or
 * JSON null. */
static struct json_object *settings_find(const struct json_object *settings,
                                         const char *name)
{
    struct json_object *value = NULL;

    if (settings == NULL || !json_object_is_type(settings, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(settings, name, &value))
        return NULL;
    return value;
}

int wharf_settings_string(const struct json_object *settings, const char *name,
                          const char **value)
{
    struct json_object *found = settings_find(settings, name);

    if (found == NULL)
        return -ENOENT;
    if (!json_object_is_type(found, json_type_string))
        return -EINVAL;

    *value = json_object_get_string(found);
    return 0;
}

int wharf_settings_integer(const struct json_object *settings, const char *name,
                           int64_t *value)
{
    struct json_object *found = settings_find(settings, name);

    if (found == NULL)
        return -ENOENT;
    if (!json_object_is_type(found, json_type_int))
        return -EINVAL;

    /* json-c keeps integers above INT64_MAX as uint64 and clamps them here. */
    *value = json_object_get_int64(found);
    return 0;
}

int wharf_settings_boolean(const struct json_object *settings, const char *name,
                           int *value)
{
    struct json_object *found = settings_find(settings, name);

    if (found == NULL)
        return -ENOENT;
    if (!json_object_is_type(found, json_type_boolean))
        return -EINVAL;

    *value = json_object_get_boolean(found) ? 1 : 0;
    return 0;
}

void wharf_http_headers_free(wharf_http_header *headers, size_t count)
{
    size_t i;

    if (headers == NULL)
        return;
    for (i = 0; i < count; i++) {
        free((char *)headers[i].name);
        free((char *)headers[i].value);
    }
    free(headers);
}

int wharf_http_headers_copy(const wharf_http_header *source, size_t count,
                            wharf_http_header **copy)
{
    wharf_http_header *headers;
    size_t i;

    *copy = NULL;
    if (count == 0)
        return 0;

    headers = calloc(count, sizeof(*headers));
    if (headers == NULL)
        return -ENOMEM;

    for (i = 0; i < count; i++) {
        headers[i].name = strdup(source[i].name);
        headers[i].value = strdup(source[i].value);
        if (headers[i].name == NULL || headers[i].value == NULL) {
            wharf_http_headers_free(headers, i + 1);
            return -ENOMEM;
        }
    }

    *copy = headers;
    return 0;
}

int wharf_settings_string_map(const struct json_object *settings, const char *name,
                              wharf_http_header **headers, size_t *count)
{
    struct json_object *found = settings_find(settings, name);
    struct json_object_iterator iterator;
    struct json_object_iterator end;
    wharf_http_header *entries;
    size_t entry_count;
    size_t filled = 0;

    if (found == NULL)
        return -ENOENT;
    if (!json_object_is_type(found, json_type_object))
        return -EINVAL;

    entry_count = (size_t)json_object_object_length(found);
    if (entry_count == 0) {
        *headers = NULL;
        *count = 0;
        return 0;
    }

    /* Check every value before allocating, so that -EINVAL leaks nothing. */
    iterator = json_object_iter_begin(found);
    end = json_object_iter_end(found);
    for (; !json_object_iter_equal(&iterator, &end); json_object_iter_next(&iterator)) {
        if (!json_object_is_type(json_object_iter_peek_value(&iterator), json_type_string))
            return -EINVAL;
    }

    entries = calloc(entry_count, sizeof(*entries));
    if (entries == NULL)
        return -ENOMEM;

    iterator = json_object_iter_begin(found);
    for (; !json_object_iter_equal(&iterator, &end); json_object_iter_next(&iterator)) {
        entries[filled].name = strdup(json_object_iter_peek_name(&iterator));
        entries[filled].value =
            strdup(json_object_get_string(json_object_iter_peek_value(&iterator)));
        filled++;
        if (entries[filled - 1].name == NULL || entries[filled - 1].value == NULL) {
            wharf_http_headers_free(entries, filled);
            return -ENOMEM;
        }
    }

    *headers = entries;
    *count = filled;
    return 0;
}

static const char *setting_type_name(wharf_setting_type type)
{
    switch (type) {
    case WHARF_SETTING_STRING:
        return "a string";
    case WHARF_SETTING_INTEGER:
        return "an integer";
    case WHARF_SETTING_BOOLEAN:
        return "a boolean";
    case WHARF_SETTING_STRING_MAP:
        return "an object of strings";
    case WHARF_SETTING_STRING_LIST:
        return "an array of strings";
    }
    return "of another type";
}

static const char *json_type_label(const struct json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "boolean";
    case json_type_double:
        return "number";
    case json_type_int:
        return "integer";
    case json_type_object:
        return "object";
    case json_type_array:
        return "array";
    case json_type_string:
        return "string";
    }
    return "unknown";
}

/* Name the first value of a string map that is not a string. */
static void format_string_map_error(char *error, size_t error_size,
                                    const char *name, struct json_object *map)
{
    struct json_object_iterator iterator = json_object_iter_begin(map);
    struct json_object_iterator end = json_object_iter_end(map);

    for (; !json_object_iter_equal(&iterator, &end); json_object_iter_next(&iterator)) {
        struct json_object *value = json_object_iter_peek_value(&iterator);

        if (!json_object_is_type(value, json_type_string)) {
            snprintf(error, error_size,
                     "setting \"%s\" must be an object of strings, but the value of "
                     "\"%s\" is %s; quote it as a string",
                     name, json_object_iter_peek_name(&iterator), json_type_label(value));
            return;
        }
    }
    snprintf(error, error_size, "setting \"%s\" could not be read", name);
}

void wharf_settings_format_error(char *error, size_t error_size,
                                 const struct json_object *settings,
                                 const char *name, int rc,
                                 wharf_setting_type expected)
{
    struct json_object *found = settings_find(settings, name);

    if (error == NULL || error_size == 0)
        return;

    if (rc == -ENOENT || found == NULL) {
        snprintf(error, error_size,
                 "setting \"%s\" is missing; set it in the connector's settings", name);
        return;
    }

    if (rc == -ENOMEM) {
        snprintf(error, error_size, "out of memory while reading setting \"%s\"", name);
        return;
    }

    if (expected == WHARF_SETTING_STRING_MAP &&
        json_object_is_type(found, json_type_object)) {
        format_string_map_error(error, error_size, name, found);
        return;
    }

    snprintf(error, error_size, "setting \"%s\" must be %s, got %s", name,
             setting_type_name(expected), json_type_label(found));
}
