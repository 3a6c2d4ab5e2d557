#include "wharf/sdk/json_writer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/linkhash.h>

/* Non-zero for the bytes a JSON string cannot hold as they are: control
 * characters, the quote and the backslash. */
static int needs_escape(unsigned char byte)
{
    return byte < 0x20 || byte == '"' || byte == '\\';
}

/* Bytes that the escaped form of byte adds to the plain one. */
static size_t escape_extra(unsigned char byte)
{
    switch (byte) {
    case '"':
    case '\\':
    case '\b':
    case '\f':
    case '\n':
    case '\r':
    case '\t':
        return 1;
    default:
        return 5; /* \u00XX */
    }
}

int wharf_json_append_string(wharf_buffer *buffer, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bytes = (const unsigned char *)text;
    size_t size = length + 2;
    size_t first = 0;
    size_t run;
    char *out;
    int rc;

    /* Most strings need no escape: find the first byte that does, and size
     * the output exactly so that it is written without further checks. */
    while (first < length && !needs_escape(bytes[first]))
        first++;
    for (size_t i = first; i < length; i++) {
        if (needs_escape(bytes[i]))
            size += escape_extra(bytes[i]);
    }
    rc = wharf_buffer_reserve(buffer, size);
    if (rc != 0)
        return rc;

    out = buffer->data + buffer->length;
    *out++ = '"';
    memcpy(out, text, first);
    out += first;
    run = first;
    for (size_t i = first; i < length; i++) {
        unsigned char byte = bytes[i];

        if (!needs_escape(byte))
            continue;
        memcpy(out, text + run, i - run);
        out += i - run;
        run = i + 1;
        *out++ = '\\';
        switch (byte) {
        case '"':
            *out++ = '"';
            break;
        case '\\':
            *out++ = '\\';
            break;
        case '\b':
            *out++ = 'b';
            break;
        case '\f':
            *out++ = 'f';
            break;
        case '\n':
            *out++ = 'n';
            break;
        case '\r':
            *out++ = 'r';
            break;
        case '\t':
            *out++ = 't';
            break;
        default:
            memcpy(out, "u00", 3);
            out[3] = hex[byte >> 4];
            out[4] = hex[byte & 0xf];
            out += 5;
            break;
        }
    }
    memcpy(out, text + run, length - run);
    out += length - run;
    *out++ = '"';
    *out = '\0';
    buffer->length = (size_t)(out - buffer->data);
    return 0;
}

/* Write the shortest of %.15g, %.16g and %.17g that reads back as the same
 * double, and keep a decimal point so that readers still see a float. */
static int append_double(wharf_buffer *buffer, double number)
{
    char text[40];
    int precision;
    char *comma;

    if (!isfinite(number))
        return wharf_buffer_append_string(buffer, "null");

    for (precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, number);
        if (strtod(text, NULL) == number)
            break;
    }

    /* A locale with a decimal comma would otherwise produce invalid JSON. */
    comma = strchr(text, ',');
    if (comma != NULL)
        *comma = '.';

    if (strpbrk(text, ".eE") == NULL)
        strcat(text, ".0");
    return wharf_buffer_append_string(buffer, text);
}

/* Decimal digits of magnitude, with a leading minus when negative. */
static int append_decimal(wharf_buffer *buffer, uint64_t magnitude, int negative)
{
    char digits[24];
    char *end = digits + sizeof(digits);
    char *at = end;

    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (negative)
        *--at = '-';
    return wharf_buffer_append(buffer, at, (size_t)(end - at));
}

static int append_integer(wharf_buffer *buffer, const struct json_object *value)
{
    int64_t signed_value = json_object_get_int64(value);

    /* json-c stores integers above INT64_MAX as uint64; get_int64 clamps
     * those, so non-negative values are read back unsigned. */
    if (signed_value < 0)
        return append_decimal(buffer, (uint64_t)0 - (uint64_t)signed_value, 1);
    return append_decimal(buffer, json_object_get_uint64(value), 0);
}

static int append_value(wharf_buffer *buffer, const struct json_object *value,
                        unsigned depth);

static int append_object(wharf_buffer *buffer, const struct json_object *value,
                         unsigned depth)
{
    /* Walking the object's table reads it without changing it. */
    struct lh_entry *entry = lh_table_head(json_object_get_object(value));
    int rc = wharf_buffer_append_char(buffer, '{');

    for (int first = 1; rc == 0 && entry != NULL; entry = lh_entry_next(entry), first = 0) {
        const char *name = (const char *)lh_entry_k(entry);

        if (!first)
            rc = wharf_buffer_append_char(buffer, ',');
        if (rc == 0)
            rc = wharf_json_append_string(buffer, name, strlen(name));
        if (rc == 0)
            rc = wharf_buffer_append_char(buffer, ':');
        if (rc == 0)
            rc = append_value(buffer, (const struct json_object *)lh_entry_v(entry), depth + 1);
    }

    if (rc == 0)
        rc = wharf_buffer_append_char(buffer, '}');
    return rc;
}

static int append_array(wharf_buffer *buffer, const struct json_object *value,
                        unsigned depth)
{
    size_t length = json_object_array_length(value);
    size_t i;
    int rc = wharf_buffer_append_char(buffer, '[');

    for (i = 0; rc == 0 && i < length; i++) {
        if (i > 0)
            rc = wharf_buffer_append_char(buffer, ',');
        if (rc == 0)
            rc = append_value(buffer, json_object_array_get_idx(value, i), depth + 1);
    }

    if (rc == 0)
        rc = wharf_buffer_append_char(buffer, ']');
    return rc;
}

static int append_value(wharf_buffer *buffer, const struct json_object *value,
                        unsigned depth)
{
    if (depth > WHARF_JSON_MAX_DEPTH)
        return -EINVAL;

    switch (json_object_get_type(value)) {
    case json_type_null:
        return wharf_buffer_append_string(buffer, "null");
    case json_type_boolean:
        return wharf_buffer_append_string(buffer,
                                          json_object_get_boolean(value) ? "true" : "false");
    case json_type_double:
        return append_double(buffer, json_object_get_double(value));
    case json_type_int:
        return append_integer(buffer, value);
    case json_type_string:
        /* For a string, json_object_get_string() returns the stored bytes
         * and does not serialise anything. */
        return wharf_json_append_string(buffer,
                                        json_object_get_string((struct json_object *)value),
                                        (size_t)json_object_get_string_len(value));
    case json_type_object:
        return append_object(buffer, value, depth);
    case json_type_array:
        return append_array(buffer, value, depth);
    }
    return -EINVAL;
}

int wharf_json_append(wharf_buffer *buffer, const struct json_object *value)
{
    size_t start = buffer->length;
    int rc = append_value(buffer, value, 0);

    if (rc != 0) {
        buffer->length = start;
        if (buffer->data != NULL)
            buffer->data[start] = '\0';
    }
    return rc;
}
