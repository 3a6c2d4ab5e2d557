/*
 * Connector settings checked against a plugin's settings schema.
 */
#ifndef WHARF_CORE_SETTINGS_H
#define WHARF_CORE_SETTINGS_H

#include <stddef.h>

#include "wharf/plugin.h"

struct json_object;
struct plugin;

/* 0 when value has the JSON shape of type, else -1 with why completed to a
 * phrase such as "must be an integer, got string". */
int settings_check_type(const struct json_object *value, wharf_setting_type type,
                        char *why, size_t why_size);

/* Build the settings a connector runs with from the operator's input
 * (NULL for none): unknown names, wrong types and missing required settings
 * are rejected, defaults are filled in, and a secret setting that input
 * omits keeps its value from previous (NULL for a new connector); a secret
 * given as null is removed. Returns 0 and a new object, or -1 and a message
 * naming the setting. */
int settings_validate(const struct plugin *plugin, const struct json_object *input,
                      const struct json_object *previous,
                      struct json_object **validated, char *error,
                      size_t error_size);

/* A copy of settings without its secret settings, for API responses. */
struct json_object *settings_public_copy(const struct plugin *plugin,
                                         const struct json_object *settings);

/* Names of the secret settings that have a non-empty value, as a JSON
 * array: an empty string or object is no credential. */
struct json_object *settings_secret_names(const struct plugin *plugin,
                                          const struct json_object *settings);

#endif
