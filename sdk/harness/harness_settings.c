/*
 * Settings as wharfd prepares them for create(): checked against the
 * plugin's schema (unknown names, JSON types, required settings) and with
 * defaults filled in. JSON null counts as absent.
 */
#include "harness_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/settings.h"

static const wharf_setting *find_setting(const wharf_plugin *plugin, const char *name)
{
    size_t i;

    for (i = 0; i < plugin->settings_count; i++) {
        if (strcmp(plugin->settings[i].name, name) == 0)
            return &plugin->settings[i];
    }
    return NULL;
}

static int all_elements_are_strings(struct json_object *array)
{
    size_t length = json_object_array_length(array);
    size_t i;

    for (i = 0; i < length; i++) {
        if (!json_object_is_type(json_object_array_get_idx(array, i), json_type_string))
            return 0;
    }
    return 1;
}

static int all_values_are_strings(struct json_object *object)
{
    struct json_object_iterator iterator = json_object_iter_begin(object);
    struct json_object_iterator end = json_object_iter_end(object);

    for (; !json_object_iter_equal(&iterator, &end); json_object_iter_next(&iterator)) {
        if (!json_object_is_type(json_object_iter_peek_value(&iterator), json_type_string))
            return 0;
    }
    return 1;
}

static int value_matches(const wharf_setting *setting, struct json_object *value)
{
    switch (setting->type) {
    case WHARF_SETTING_STRING:
        return json_object_is_type(value, json_type_string);
    case WHARF_SETTING_INTEGER:
        return json_object_is_type(value, json_type_int);
    case WHARF_SETTING_BOOLEAN:
        return json_object_is_type(value, json_type_boolean);
    case WHARF_SETTING_STRING_MAP:
        return json_object_is_type(value, json_type_object) && all_values_are_strings(value);
    case WHARF_SETTING_STRING_LIST:
        return json_object_is_type(value, json_type_array) && all_elements_are_strings(value);
    }
    return 0;
}

int harness_setting_default_is_valid(const wharf_setting *setting)
{
    struct json_object *value;
    enum json_tokener_error parse_error = json_tokener_success;
    int valid;

    if (setting->default_json == NULL)
        return 1;
    value = json_tokener_parse_verbose(setting->default_json, &parse_error);
    if (parse_error != json_tokener_success)
        return 0;
    /* "null" parses to NULL and means no default. */
    valid = value == NULL || value_matches(setting, value);
    json_object_put(value);
    return valid;
}

static void format_unknown_setting(const wharf_plugin *plugin, const char *name,
                                   char *error, size_t error_size)
{
    wharf_buffer message = WHARF_BUFFER_INIT;
    size_t i;

    wharf_buffer_append_format(&message, "unknown setting \"%s\" for plugin \"%s\"; ", name,
                               plugin->header.name);
    if (plugin->settings_count == 0)
        wharf_buffer_append_string(&message, "it takes no settings");
    else
        wharf_buffer_append_string(&message, "its settings are: ");
    for (i = 0; i < plugin->settings_count; i++) {
        if (i > 0)
            wharf_buffer_append_string(&message, ", ");
        wharf_buffer_append_string(&message, plugin->settings[i].name);
    }

    snprintf(error, error_size, "%s", message.data != NULL ? message.data : name);
    wharf_buffer_free(&message);
}

/* Check every input setting against the schema and copy it into prepared. */
static int copy_given(const wharf_plugin *plugin, struct json_object *input,
                      struct json_object *prepared, char *error, size_t error_size)
{
    struct json_object_iterator iterator = json_object_iter_begin(input);
    struct json_object_iterator end = json_object_iter_end(input);

    for (; !json_object_iter_equal(&iterator, &end); json_object_iter_next(&iterator)) {
        const char *name = json_object_iter_peek_name(&iterator);
        struct json_object *value = json_object_iter_peek_value(&iterator);
        const wharf_setting *setting = find_setting(plugin, name);

        if (setting == NULL) {
            format_unknown_setting(plugin, name, error, error_size);
            return -EINVAL;
        }
        if (value == NULL)
            continue;
        if (setting->type == WHARF_SETTING_STRING_LIST &&
            json_object_is_type(value, json_type_array) && !all_elements_are_strings(value)) {
            snprintf(error, error_size, "setting \"%s\" must be an array of strings; "
                                        "quote every element",
                     name);
            return -EINVAL;
        }
        if (!value_matches(setting, value)) {
            wharf_settings_format_error(error, error_size, input, name, -EINVAL,
                                        setting->type);
            return -EINVAL;
        }
        json_object_object_add(prepared, name, json_object_get(value));
    }
    return 0;
}

/* Add defaults for absent settings and reject missing required ones. */
static int fill_defaults(const wharf_plugin *plugin, struct json_object *prepared,
                         char *error, size_t error_size)
{
    size_t i;

    for (i = 0; i < plugin->settings_count; i++) {
        const wharf_setting *setting = &plugin->settings[i];
        struct json_object *value;

        if (json_object_object_get_ex(prepared, setting->name, NULL))
            continue;

        if (setting->default_json == NULL) {
            if (!setting->required)
                continue;
            snprintf(error, error_size,
                     "setting \"%s\" is required by plugin \"%s\"; add it to the settings",
                     setting->name, plugin->header.name);
            return -EINVAL;
        }

        value = json_tokener_parse(setting->default_json);
        if (value == NULL || !value_matches(setting, value)) {
            snprintf(error, error_size,
                     "plugin \"%s\" declares default %s for setting \"%s\", which is not "
                     "valid JSON of the setting's type; fix default_json in the plugin",
                     plugin->header.name, setting->default_json, setting->name);
            json_object_put(value);
            return -EINVAL;
        }
        json_object_object_add(prepared, setting->name, value);
    }
    return 0;
}

int harness_settings_prepare(const wharf_plugin *plugin, const char *settings_json,
                             struct json_object **settings, char *error,
                             size_t error_size)
{
    struct json_object *input = NULL;
    struct json_object *prepared = NULL;
    enum json_tokener_error parse_error = json_tokener_success;
    int rc;

    *settings = NULL;
    if (settings_json == NULL)
        settings_json = "{}";

    input = json_tokener_parse_verbose(settings_json, &parse_error);
    if (input == NULL && parse_error != json_tokener_success) {
        snprintf(error, error_size, "settings are not valid JSON (%s); pass a JSON object",
                 json_tokener_error_desc(parse_error));
        return -EINVAL;
    }
    if (!json_object_is_type(input, json_type_object)) {
        snprintf(error, error_size, "settings must be a JSON object such as {\"url\": \"...\"}");
        rc = -EINVAL;
        goto out;
    }

    prepared = json_object_new_object();
    if (prepared == NULL) {
        snprintf(error, error_size, "out of memory while preparing the settings");
        rc = -ENOMEM;
        goto out;
    }

    rc = copy_given(plugin, input, prepared, error, error_size);
    if (rc == 0)
        rc = fill_defaults(plugin, prepared, error, error_size);
    if (rc == 0) {
        *settings = prepared;
        prepared = NULL;
    }

out:
    json_object_put(prepared);
    json_object_put(input);
    return rc;
}
