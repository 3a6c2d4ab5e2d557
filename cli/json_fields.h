/* Reading members of the API's JSON objects without tripping over a
 * missing member, a null, or a value of another type. */
#ifndef WHARFCTL_JSON_FIELDS_H
#define WHARFCTL_JSON_FIELDS_H

#include <json-c/json.h>
#include <stdint.h>

/* The string member key of object, or NULL when absent, null or not a string. */
const char *json_string_member(const json_object *object, const char *key);

/* The integer member key of object, or 0 when absent or not a number. */
int64_t json_integer_member(const json_object *object, const char *key);

/* The array member key of object, or NULL when absent or not an array. */
json_object *json_array_member(const json_object *object, const char *key);

/* The object member key of object, or NULL when absent or not an object. */
json_object *json_object_member(const json_object *object, const char *key);

/* Join the strings of array with separator into a new string (to free);
 * elements that are not strings are written as JSON. "" for an empty or
 * NULL array; NULL when out of memory. */
char *json_join_strings(const json_object *array, const char *separator);

#endif
