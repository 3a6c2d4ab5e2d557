/*
 * JSON serialisation of json-c values into a wharf_buffer.
 *
 * json_object_to_json_string() caches its output inside the object, so two
 * threads serialising the same message race on that cache. wharfd may hand
 * the same read-only message to the encode() of several connectors at once,
 * so plugins serialise messages with these functions, which only read the
 * object and write into the caller's buffer. They are thread-safe as long as
 * no thread modifies the object meanwhile.
 */
#ifndef WHARF_SDK_JSON_WRITER_H
#define WHARF_SDK_JSON_WRITER_H

#include <stddef.h>

#include "wharf/host.h"
#include "wharf/sdk/buffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nesting deeper than this is rejected with -EINVAL instead of recursing. */
#define WHARF_JSON_MAX_DEPTH 512

/* Append value as compact JSON (no spaces). NULL is written as null, as are
 * NaN and infinite doubles, which JSON cannot express. Returns 0, -ENOMEM, or
 * -EINVAL for nesting deeper than WHARF_JSON_MAX_DEPTH. On failure the
 * buffer keeps its old length. */
int wharf_json_append(wharf_buffer *buffer, const struct json_object *value);

/* Append text as a JSON string literal, quotes included. Control characters
 * are escaped; other bytes, UTF-8 included, are copied as they are. */
int wharf_json_append_string(wharf_buffer *buffer, const char *text, size_t length);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_JSON_WRITER_H */
