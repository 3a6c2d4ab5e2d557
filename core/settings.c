#include "settings.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "plugin_loader.h"

static const char *json_type_label(const json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "boolean";
    case json_type_double:
        return "number with a fraction";
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

int settings_check_type(const json_object *value, wharf_setting_type type,
                        char *why, size_t why_size)
{
    json_object *object = (json_object *)value;

    switch (type) {
    case WHARF_SETTING_STRING:
        if (json_object_is_type(object, json_type_string))
            return 0;
        snprintf(why, why_size, "must be a string, got %s", json_type_label(object));
        return -1;
    case WHARF_SETTING_INTEGER:
        if (json_object_is_type(object, json_type_int))
            return 0;
        snprintf(why, why_size, "must be an integer, got %s", json_type_label(object));
        return -1;
    case WHARF_SETTING_BOOLEAN:
        if (json_object_is_type(object, json_type_boolean))
            return 0;
        snprintf(why, why_size, "must be true or false, got %s", json_type_label(object));
        return -1;
    case WHARF_SETTING_STRING_MAP:
        if (!json_object_is_type(object, json_type_object)) {
            snprintf(why, why_size, "must be an object of strings, got %s",
                     json_type_label(object));
            return -1;
        }
        json_object_object_foreach(object, key, member) {
            if (!json_object_is_type(member, json_type_string)) {
                snprintf(why, why_size, "must be an object of strings, but \"%.64s\" is %s",
                         key, json_type_label(member));
                return -1;
            }
        }
        return 0;
    case WHARF_SETTING_STRING_LIST:
        if (!json_object_is_type(object, json_type_array)) {
            snprintf(why, why_size, "must be an array of strings, got %s",
                     json_type_label(object));
            return -1;
        }
        for (size_t i = 0; i < json_object_array_length(object); i++) {
            json_object *item = json_object_array_get_idx(object, i);
            if (!json_object_is_type(item, json_type_string)) {
                snprintf(why, why_size, "must be an array of strings, but item %zu is %s",
                         i, json_type_label(item));
                return -1;
            }
        }
        return 0;
    }
    snprintf(why, why_size, "has an unknown type");
    return -1;
}

static const wharf_setting *find_setting(const plugin *p, const char *name)
{
    for (size_t i = 0; i < p->descriptor.settings_count; i++) {
        if (strcmp(p->descriptor.settings[i].name, name) == 0)
            return &p->descriptor.settings[i];
    }
    return NULL;
}

static void list_setting_names(const plugin *p, char *out, size_t out_size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < p->descriptor.settings_count && used < out_size; i++) {
        int n = snprintf(out + used, out_size - used, "%s%s", i > 0 ? ", " : "",
                         p->descriptor.settings[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (p->descriptor.settings_count == 0)
        snprintf(out, out_size, "(none)");
}

int settings_validate(const plugin *p, const json_object *input,
                      const json_object *previous, json_object **validated,
                      char *error, size_t error_size)
{
    json_object *in = (json_object *)input;
    json_object *result;
    char why[256];

    *validated = NULL;
    if (in != NULL && !json_object_is_type(in, json_type_object)) {
        snprintf(error, error_size, "\"settings\" must be an object, got %s",
                 json_type_label(in));
        return -1;
    }

    /* Every name given must be in the schema. */
    if (in != NULL) {
        json_object_object_foreach(in, key, value) {
            const wharf_setting *s = find_setting(p, key);
            char names[1024];

            if (s == NULL) {
                list_setting_names(p, names, sizeof(names));
                snprintf(error, error_size,
                         "unknown setting \"%.64s\" for plugin \"%s\"; its settings are: %s",
                         key, p->name, names);
                return -1;
            }
            if (value != NULL && settings_check_type(value, s->type, why, sizeof(why)) != 0) {
                snprintf(error, error_size, "setting \"%s\" %s", key, why);
                return -1;
            }
        }
    }

    result = json_object_new_object();
    for (size_t i = 0; i < p->descriptor.settings_count; i++) {
        const wharf_setting *s = &p->descriptor.settings[i];
        json_object *value = NULL;
        int given = in != NULL && json_object_object_get_ex(in, s->name, &value);

        if (given && value != NULL) {
            json_object_object_add(result, s->name, json_object_get(value));
            continue;
        }
        /* An omitted secret keeps its stored value; an explicit null clears it. */
        if (!given && s->secret && previous != NULL &&
            json_object_object_get_ex((json_object *)previous, s->name, &value) &&
            value != NULL) {
            json_object_object_add(result, s->name, json_object_get(value));
            continue;
        }
        if (s->default_json != NULL) {
            value = json_tokener_parse(s->default_json);
            if (value != NULL) {
                json_object_object_add(result, s->name, value);
                continue;
            }
        }
        if (s->required) {
            snprintf(error, error_size,
                     "missing required setting \"%s\" for plugin \"%s\"%s%s", s->name,
                     p->name, s->help != NULL && s->help[0] != '\0' ? ": " : "",
                     s->help != NULL ? s->help : "");
            json_object_put(result);
            return -1;
        }
    }

    *validated = result;
    return 0;
}

json_object *settings_public_copy(const plugin *p, const json_object *settings)
{
    json_object *copy = json_object_new_object();

    json_object_object_foreach((json_object *)settings, key, value) {
        const wharf_setting *s = find_setting(p, key);
        if (s != NULL && s->secret)
            continue;
        json_object_object_add(copy, key, json_object_get(value));
    }
    return copy;
}

json_object *settings_secret_names(const plugin *p, const json_object *settings)
{
    json_object *names = json_object_new_array();

    for (size_t i = 0; i < p->descriptor.settings_count; i++) {
        const wharf_setting *s = &p->descriptor.settings[i];
        json_object *value;

        if (!s->secret || !json_object_object_get_ex((json_object *)settings, s->name, &value))
            continue;
        /* An empty default ("" or {}) is no credential. */
        if (value == NULL ||
            (json_object_is_type(value, json_type_string) && json_object_get_string_len(value) == 0) ||
            (json_object_is_type(value, json_type_object) && json_object_object_length(value) == 0) ||
            (json_object_is_type(value, json_type_array) && json_object_array_length(value) == 0))
            continue;
        json_object_array_add(names, json_object_new_string(s->name));
    }
    return names;
}
