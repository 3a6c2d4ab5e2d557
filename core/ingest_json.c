#include "ingest_json.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Maximum length of a path in a message; longer paths are cut, which only
 * shortens the message. */
#define PATH_CAPACITY 256

typedef struct value_walk {
    char path[PATH_CAPACITY];
    size_t path_length;
    char *error;
    size_t error_size;
} value_walk;

static bool is_continuation(unsigned char byte)
{
    return (byte & 0xC0) == 0x80;
}

bool ingest_utf8_valid(const char *text, size_t size, size_t *bad_offset)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t at = 0;

    while (at < size) {
        unsigned char lead;
        uint64_t eight;

        /* Skip ASCII eight bytes at a time: most text in customer data is. */
        if (size - at >= 8) {
            memcpy(&eight, bytes + at, 8);
            if ((eight & UINT64_C(0x8080808080808080)) == 0) {
                at += 8;
                continue;
            }
        }
        lead = bytes[at];
        size_t length;
        /* The allowed range of the second byte narrows for some lead bytes
         * to exclude overlong forms (E0, F0), UTF-16 surrogates (ED) and
         * code points above U+10FFFF (F4), per RFC 3629 section 4. */
        unsigned char second_min = 0x80;
        unsigned char second_max = 0xBF;

        if (lead < 0x80) {
            at++;
            continue;
        }
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            if (lead == 0xE0)
                second_min = 0xA0;
            else if (lead == 0xED)
                second_max = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            if (lead == 0xF0)
                second_min = 0x90;
            else if (lead == 0xF4)
                second_max = 0x8F;
        } else {
            goto invalid;
        }

        if (size - at < length)
            goto invalid;
        if (bytes[at + 1] < second_min || bytes[at + 1] > second_max)
            goto invalid;
        for (size_t i = 2; i < length; i++) {
            if (!is_continuation(bytes[at + i]))
                goto invalid;
        }
        at += length;
    }
    return true;

invalid:
    if (bad_offset != NULL)
        *bad_offset = at;
    return false;
}

const char *ingest_json_type_name(const json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a number with a fraction";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "an unknown JSON type";
}

bool ingest_json_is_scalar(const json_object *value)
{
    json_type type = json_object_get_type(value);

    return type != json_type_object && type != json_type_array;
}

/* The path shown for the root value when the caller passed "". */
static const char *shown_path(const value_walk *walk)
{
    return walk->path_length > 0 ? walk->path : "the body";
}

int ingest_utf8_clip(const char *text, size_t max_bytes)
{
    size_t length = strnlen(text, max_bytes);

    /* Step back over continuation bytes (10xxxxxx) to the start of the
     * character that the cut would split, if any. */
    if (length == max_bytes && text[length] != '\0') {
        while (length > 0 && is_continuation((unsigned char)text[length]))
            length--;
    }
    if (length > 0x7FFFFFFF)
        length = 0x7FFFFFFF;
    return (int)length;
}

void ingest_utf8_cut_invalid(char *text)
{
    size_t bad_offset;

    if (!ingest_utf8_valid(text, strlen(text), &bad_offset))
        text[bad_offset] = '\0';
}

size_t ingest_path_append(char *path, size_t capacity, const char *separator,
                          const char *name)
{
    size_t length = strlen(path);
    size_t separator_length = strlen(separator);
    int name_length;

    if (capacity == 0 || length + separator_length + 1 >= capacity)
        return length;
    memcpy(path + length, separator, separator_length);
    length += separator_length;
    name_length = ingest_utf8_clip(name, capacity - length - 1);
    memcpy(path + length, name, (size_t)name_length);
    length += (size_t)name_length;
    path[length] = '\0';
    return length;
}

static void push_key(value_walk *walk, const char *key)
{
    walk->path_length = ingest_path_append(walk->path, sizeof(walk->path),
                                           walk->path_length > 0 ? "." : "", key);
}

static void push_index(value_walk *walk, size_t index)
{
    char text[24];

    snprintf(text, sizeof(text), "[%zu]", index);
    walk->path_length = ingest_path_append(walk->path, sizeof(walk->path), "", text);
}

static void pop_to(value_walk *walk, size_t length)
{
    walk->path_length = length;
    walk->path[length] = '\0';
}

static int check_text(value_walk *walk, const char *text, size_t size, const char *what)
{
    size_t bad_offset;
    const char *nul = memchr(text, '\0', size);

    if (nul != NULL) {
        snprintf(walk->error, walk->error_size,
                 "%s %s contains a NUL character (\\u0000) at byte %zu; "
                 "remove it, because wharfd stores text as C strings",
                 what, shown_path(walk), (size_t)(nul - text));
        return -EINVAL;
    }
    if (!ingest_utf8_valid(text, size, &bad_offset)) {
        snprintf(walk->error, walk->error_size,
                 "%s %s is not valid UTF-8 (invalid byte sequence at byte %zu); "
                 "send text encoded as UTF-8",
                 what, shown_path(walk), bad_offset);
        return -EINVAL;
    }
    return 0;
}

static int walk_value(value_walk *walk, json_object *value)
{
    size_t saved = walk->path_length;

    switch (json_object_get_type(value)) {
    case json_type_string:
        return check_text(walk, json_object_get_string(value),
                          (size_t)json_object_get_string_len(value), "the value of");
    case json_type_double:
        if (!isfinite(json_object_get_double(value))) {
            snprintf(walk->error, walk->error_size,
                     "the value of %s is not a finite number; JSON has no NaN or Infinity",
                     shown_path(walk));
            return -EINVAL;
        }
        return 0;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            int rc;

            push_index(walk, i);
            rc = walk_value(walk, json_object_array_get_idx(value, i));
            pop_to(walk, saved);
            if (rc < 0)
                return rc;
        }
        return 0;
    case json_type_object: {
        json_object_object_foreach(value, key, member) {
            int rc;

            /* NOTE: json-c cuts a key at an escaped \u0000, so such a key
             * arrives shortened and cannot be detected here. */
            rc = check_text(walk, key, strlen(key), "a key in");
            if (rc < 0)
                return rc;
            push_key(walk, key);
            rc = walk_value(walk, member);
            pop_to(walk, saved);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case json_type_null:
    case json_type_boolean:
    case json_type_int:
        return 0;
    }
    return 0;
}

/* Whether text is valid UTF-8 without a NUL, as check_text() requires. */
static bool text_acceptable(const char *text, size_t size)
{
    return memchr(text, '\0', size) == NULL && ingest_utf8_valid(text, size, NULL);
}

/* The checks of walk_value() without tracking the path: nearly every value
 * passes, and only a failure needs the path for its message. */
static bool value_acceptable(json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_string:
        return text_acceptable(json_object_get_string(value),
                               (size_t)json_object_get_string_len(value));
    case json_type_double:
        return isfinite(json_object_get_double(value));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            if (!value_acceptable(json_object_array_get_idx(value, i)))
                return false;
        }
        return true;
    case json_type_object: {
        json_object_object_foreach(value, key, member) {
            if (!text_acceptable(key, strlen(key)) || !value_acceptable(member))
                return false;
        }
        return true;
    }
    case json_type_null:
    case json_type_boolean:
    case json_type_int:
        return true;
    }
    return true;
}

int ingest_json_check_values(const json_object *value, const char *path, char *error,
                             size_t error_size)
{
    value_walk walk = {.error = error, .error_size = error_size};

    if (value_acceptable((json_object *)value))
        return 0;

    walk.path_length = ingest_path_append(walk.path, sizeof(walk.path), "", path);
    return walk_value(&walk, (json_object *)value);
}

static bool is_json_whitespace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ingest_json_parse(const char *body, size_t size, json_object **root, char *error,
                      size_t error_size)
{
    json_tokener *tokener = NULL;
    json_object *document = NULL;
    enum json_tokener_error status;
    size_t end;
    int rc = -EINVAL;

    *root = NULL;
    /* json-c takes the length as an int. */
    if (size > (size_t)0x7FFFFFFF) {
        snprintf(error, error_size, "request body of %zu bytes is too large to parse", size);
        goto out;
    }
    /* RFC 8259 section 8.1 lets a parser ignore a byte order mark, which
     * some Windows clients put before the document. */
    if (size >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        size -= 3;
    }
    end = 0;
    while (end < size && is_json_whitespace(body[end]))
        end++;
    if (end == size) {
        snprintf(error, error_size, "request body is empty; send a JSON object");
        goto out;
    }

    tokener = json_tokener_new();
    if (tokener == NULL) {
        rc = -ENOMEM;
        snprintf(error, error_size, "out of memory while parsing the request body");
        goto out;
    }
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
    document = json_tokener_parse_ex(tokener, body, (int)size);
    status = json_tokener_get_error(tokener);
    end = json_tokener_get_parse_end(tokener);
    /* A number at the very end of the body is complete only once json-c
     * reads a byte after it; a space is that byte and changes nothing else. */
    if (status == json_tokener_continue) {
        document = json_tokener_parse_ex(tokener, " ", 1);
        status = json_tokener_get_error(tokener);
        end = size;
    }
    if (status == json_tokener_continue) {
        snprintf(error, error_size, "malformed JSON: the body ends inside the document");
        goto out;
    }
    if (status != json_tokener_success) {
        snprintf(error, error_size, "malformed JSON at byte %zu: %s", end,
                 json_tokener_error_desc(status));
        goto out;
    }
    for (; end < size; end++) {
        if (!is_json_whitespace(body[end])) {
            snprintf(error, error_size,
                     "malformed JSON: unexpected data at byte %zu after the document", end);
            goto out;
        }
    }

    *root = document;
    document = NULL;
    rc = 0;

out:
    json_object_put(document);
    if (tokener != NULL)
        json_tokener_free(tokener);
    return rc;
}
