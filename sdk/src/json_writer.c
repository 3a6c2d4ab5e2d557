#include "wharf/sdk/json_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

int wharf_json_append_string(wharf_buffer *buffer, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = buffer->length;
    size_t run = 0;
    size_t i;
    int rc;

    rc = wharf_buffer_append_char(buffer, '"');

    for (i = 0; rc == 0 && i < length; i++) {
        unsigned char byte = (unsigned char)text[i];
        char escape[7];
        size_t escape_size = 2;

        if (byte >= 0x20 && byte != '"' && byte != '\\')
            continue;

        /* Copy the plain bytes before this one in one go. */
        rc = wharf_buffer_append(buffer, text + run, i - run);
        if (rc != 0)
            break;
        run = i + 1;

        escape[0] = '\\';
        switch (byte) {
        case '"':
            escape[1] = '"';
            break;
        case '\\':
            escape[1] = '\\';
            break;
        case '\b':
            escape[1] = 'b';
            break;
        case '\f':
            escape[1] = 'f';
            break;
        case '\n':
            escape[1] = 'n';
            break;
        case '\r':
            escape[1] = 'r';
            break;
        case '\t':
            escape[1] = 't';
            break;
        default:
            memcpy(escape + 1, "u00", 3);
            escape[4] = hex[byte >> 4];
            escape[5] = hex[byte & 0xf];
            escape_size = 6;
            break;
        }
        rc = wharf_buffer_append(buffer, escape, escape_size);
    }

    if (rc == 0)
        rc = wharf_buffer_append(buffer, text + run, length - run);
    if (rc == 0)
        rc = wharf_buffer_append_char(buffer, '"');

    if (rc != 0) {
        buffer->length = start;
        if (buffer->data != NULL)
            buffer->data[start] = '\0';
    }
    return rc;
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

static int append_integer(wharf_buffer *buffer, const struct json_object *value)
{
    int64_t signed_value = json_object_get_int64(value);

    /* json-c stores integers above INT64_MAX as uint64; get_int64 clamps
     * those, so non-negative values are read back unsigned. */
    if (signed_value < 0)
        return wharf_buffer_append_format(buffer, "%" PRId64, signed_value);
    return wharf_buffer_append_format(buffer, "%" PRIu64, json_object_get_uint64(value));
}

static int append_value(wharf_buffer *buffer, const struct json_object *value,
                        unsigned depth);

static int append_object(wharf_buffer *buffer, const struct json_object *value,
                         unsigned depth)
{
    /* Iteration reads the object's table without changing it. */
    struct json_object_iterator iterator = json_object_iter_begin((struct json_object *)value);
    struct json_object_iterator end = json_object_iter_end(value);
    int first = 1;
    int rc = wharf_buffer_append_char(buffer, '{');

    for (; rc == 0 && !json_object_iter_equal(&iterator, &end);
         json_object_iter_next(&iterator)) {
        const char *name = json_object_iter_peek_name(&iterator);

        if (!first)
            rc = wharf_buffer_append_char(buffer, ',');
        first = 0;
        if (rc == 0)
            rc = wharf_json_append_string(buffer, name, strlen(name));
        if (rc == 0)
            rc = wharf_buffer_append_char(buffer, ':');
        if (rc == 0)
            rc = append_value(buffer, json_object_iter_peek_value(&iterator), depth + 1);
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
