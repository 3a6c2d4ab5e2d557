/*
 * Typed readers for a connector's settings, the json-c object that create()
 * receives. wharfd has already checked the types against the schema and
 * filled in defaults, so a plugin mostly meets -ENOENT for an optional
 * setting without a default.
 *
 * Every reader returns 0 on success, -ENOENT when the setting is absent or
 * JSON null, and -EINVAL when its JSON type does not match. The output is
 * left untouched unless the reader returns 0. Strings returned without a
 * copy belong to the settings object and stay valid as long as it does.
 */
#ifndef WHARF_SDK_SETTINGS_H
#define WHARF_SDK_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/host.h"
#include "wharf/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

int wharf_settings_string(const struct json_object *settings, const char *name,
                          const char **value);

/* Accepts a JSON integer only; 10.0 or "10" is -EINVAL. */
int wharf_settings_integer(const struct json_object *settings, const char *name,
                           int64_t *value);

/* Sets *value to 1 for true and 0 for false. */
int wharf_settings_boolean(const struct json_object *settings, const char *name,
                           int *value);

/* Copy a string map ({"Authorization": "Bearer ..."}) into a newly allocated
 * array of headers in the object's key order. Free it with
 * wharf_http_headers_free(). An empty object gives *headers NULL and *count
 * 0. Returns -EINVAL when a value is not a string, -ENOMEM when out of
 * memory. */
int wharf_settings_string_map(const struct json_object *settings, const char *name,
                              wharf_http_header **headers, size_t *count);

/* Free an array from wharf_settings_string_map() or wharf_http_headers_copy(). */
void wharf_http_headers_free(wharf_http_header *headers, size_t count);

/* Copy count headers, names and values included. Returns 0 or -ENOMEM. */
int wharf_http_headers_copy(const wharf_http_header *source, size_t count,
                            wharf_http_header **copy);

/* Write an operator-facing message for a reader's failure into error, such
 * as `setting "batch_size" must be an integer, got string` or `setting "url"
 * is missing; set it in the connector's settings`. rc is what the reader
 * returned; expected is the type the plugin asked for. */
void wharf_settings_format_error(char *error, size_t error_size,
                                 const struct json_object *settings,
                                 const char *name, int rc,
                                 wharf_setting_type expected);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_SETTINGS_H */
