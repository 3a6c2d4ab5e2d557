/*
 * JSON checks shared by the ingest parsers (Segment and native API): strict
 * parsing of a request body, and a walk over a parsed value that rejects
 * what json-c lets through but the rest of wharfd cannot store or forward.
 */
#ifndef WHARF_CORE_INGEST_JSON_H
#define WHARF_CORE_INGEST_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/* Parse body (size bytes, need not be NUL-terminated) as exactly one JSON
 * document. Only whitespace may follow it, and a leading UTF-8 byte order
 * mark is skipped (byte offsets in messages count from after the mark).
 * Returns 0 and the document in *root (NULL for a JSON null), or -EINVAL
 * with a message such as "malformed JSON at byte 17: unexpected
 * character", or -ENOMEM. */
int ingest_json_parse(const char *body, size_t size, struct json_object **root,
                      char *error, size_t error_size);

/* What ingest_json_parse_filtered() builds of a document. */
typedef struct ingest_json_filter {
    /* Decides on the member key of an object at depth (the root object is
     * at depth 1, an object in an array in it at depth 3). It returns key
     * itself to build the member under a copy of key, a string equal to
     * key that outlives the document to build it under that string without
     * a copy, or NULL to leave the member out (it is still checked as
     * JSON). A NULL keep builds every member under a copy of its key. */
    const char *(*keep)(void *data, int depth, const char *key);
    /* Called after each element of a built array at element_depth. An
     * array that is a member of the root object is at depth 2. member is
     * the array's key (NULL for an array in an array), and text is the
     * element's text in the body. */
    void (*element)(void *data, const char *member, size_t index, const char *text,
                    size_t length);
    int element_depth;
    void *data;
} ingest_json_filter;

/* ingest_json_parse() that builds only what filter keeps. Most bodies are
 * in a subset of JSON that wharfd reads with its own parser, which can
 * leave members out. Any other body goes to json-c whole. Returns 1 with
 * the filtered document in *root, or 0 with the whole document (filter
 * not applied, and element may have been called for part of it), or a
 * negative code and error as ingest_json_parse(). */
int ingest_json_parse_filtered(const char *body, size_t size, const ingest_json_filter *filter,
                               struct json_object **root, char *error, size_t error_size);

/* Check every key and string inside value, recursively: each must be valid
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) without a NUL character, and every number must be finite
 * (json-c accepts NaN and Infinity). path names value in the message, such
 * as "traits" or "batch[3]". Returns 0, or -EINVAL with a message naming
 * the path and the byte offset of the fault. */
int ingest_json_check_values(const struct json_object *value, const char *path,
                             char *error, size_t error_size);

/* Whether text[0..size) is valid UTF-8; on false, *bad_offset (if not
 * NULL) is the offset of the first byte of the invalid sequence. */
bool ingest_utf8_valid(const char *text, size_t size, size_t *bad_offset);

/* The length of the longest prefix of the valid UTF-8 text that is at
 * most max_bytes long and ends on a character boundary. Pass it to "%.*s"
 * to quote a value in a message without splitting a character. */
int ingest_utf8_clip(const char *text, size_t max_bytes);

/* Make text (a message being returned in JSON) valid UTF-8 by cutting it
 * at its first invalid byte sequence. */
void ingest_utf8_cut_invalid(char *text);

/* Append separator and name to the NUL-terminated path in a buffer of
 * capacity bytes, cutting name on a character boundary when it does not
 * fit. Returns the new length of path. */
size_t ingest_path_append(char *path, size_t capacity, const char *separator,
                          const char *name);

/* The JSON type of value as a noun phrase for messages: "a string",
 * "an integer", "a number with a fraction", "null", "an object", ... */
const char *ingest_json_type_name(const struct json_object *value);

/* Whether value is a JSON scalar: null, boolean, number or string. */
bool ingest_json_is_scalar(const struct json_object *value);

#endif
