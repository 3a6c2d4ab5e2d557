#include "json_fields.h"

#include <stdlib.h>
#include <string.h>

static json_object *member(const json_object *object, const char *key, json_type type)
{
    json_object *value = NULL;

    if (object == NULL || !json_object_is_type(object, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(object, key, &value) || !json_object_is_type(value, type))
        return NULL;
    return value;
}

const char *json_string_member(const json_object *object, const char *key)
{
    json_object *value = member(object, key, json_type_string);

    return value != NULL ? json_object_get_string(value) : NULL;
}

int64_t json_integer_member(const json_object *object, const char *key)
{
    json_object *value = member(object, key, json_type_int);

    if (value == NULL)
        value = member(object, key, json_type_double);
    return value != NULL ? json_object_get_int64(value) : 0;
}

json_object *json_array_member(const json_object *object, const char *key)
{
    return member(object, key, json_type_array);
}

json_object *json_object_member(const json_object *object, const char *key)
{
    return member(object, key, json_type_object);
}

char *json_join_strings(const json_object *array, const char *separator)
{
    size_t count = array != NULL ? json_object_array_length(array) : 0;
    size_t separator_length = strlen(separator);
    size_t length = 0;
    char *joined;
    char *out;

    for (size_t i = 0; i < count; i++) {
        json_object *item = json_object_array_get_idx(array, i);

        length += strlen(json_object_is_type(item, json_type_string)
                             ? json_object_get_string(item)
                             : json_object_to_json_string(item));
        length += separator_length;
    }

    joined = malloc(length + 1);
    if (joined == NULL)
        return NULL;
    out = joined;
    for (size_t i = 0; i < count; i++) {
        json_object *item = json_object_array_get_idx(array, i);
        const char *text = json_object_is_type(item, json_type_string)
                               ? json_object_get_string(item)
                               : json_object_to_json_string(item);
        size_t text_length = strlen(text);

        if (i > 0) {
            memcpy(out, separator, separator_length);
            out += separator_length;
        }
        memcpy(out, text, text_length);
        out += text_length;
    }
    *out = '\0';
    return joined;
}
