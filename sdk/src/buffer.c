#include "wharf/sdk/buffer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest allocation, so that short appends do not reallocate each time. */
#define BUFFER_MIN_CAPACITY 64

void wharf_buffer_init(wharf_buffer *buffer)
{
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}

void wharf_buffer_free(wharf_buffer *buffer)
{
    free(buffer->data);
    wharf_buffer_init(buffer);
}

void wharf_buffer_clear(wharf_buffer *buffer)
{
    buffer->length = 0;
    if (buffer->data != NULL)
        buffer->data[0] = '\0';
}

int wharf_buffer_reserve(wharf_buffer *buffer, size_t extra)
{
    size_t needed;
    size_t capacity;
    char *data;

    /* One more byte for the terminating NUL. */
    if (extra > SIZE_MAX - buffer->length - 1)
        return -ENOMEM;
    needed = buffer->length + extra + 1;
    if (needed <= buffer->capacity)
        return 0;

    capacity = buffer->capacity < BUFFER_MIN_CAPACITY ? BUFFER_MIN_CAPACITY
                                                      : buffer->capacity;
    while (capacity < needed) {
        if (capacity > SIZE_MAX / 2) {
            capacity = needed;
            break;
        }
        capacity *= 2;
    }

    data = realloc(buffer->data, capacity);
    if (data == NULL)
        return -ENOMEM;
    if (buffer->data == NULL)
        data[0] = '\0';
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

int wharf_buffer_append(wharf_buffer *buffer, const void *bytes, size_t size)
{
    int rc = wharf_buffer_reserve(buffer, size);

    if (rc != 0)
        return rc;

    if (size > 0)
        memcpy(buffer->data + buffer->length, bytes, size);
    buffer->length += size;
    buffer->data[buffer->length] = '\0';
    return 0;
}

int wharf_buffer_append_string(wharf_buffer *buffer, const char *text)
{
    return wharf_buffer_append(buffer, text, strlen(text));
}

int wharf_buffer_append_char(wharf_buffer *buffer, char character)
{
    return wharf_buffer_append(buffer, &character, 1);
}

int wharf_buffer_append_vformat(wharf_buffer *buffer, const char *format,
                                va_list arguments)
{
    va_list measure;
    int size;
    int rc;

    va_copy(measure, arguments);
    size = vsnprintf(NULL, 0, format, measure);
    va_end(measure);
    if (size < 0)
        return -EINVAL;

    rc = wharf_buffer_reserve(buffer, (size_t)size);
    if (rc != 0)
        return rc;

    vsnprintf(buffer->data + buffer->length, (size_t)size + 1, format, arguments);
    buffer->length += (size_t)size;
    return 0;
}

int wharf_buffer_append_format(wharf_buffer *buffer, const char *format, ...)
{
    va_list arguments;
    int rc;

    va_start(arguments, format);
    rc = wharf_buffer_append_vformat(buffer, format, arguments);
    va_end(arguments);
    return rc;
}

char *wharf_buffer_detach(wharf_buffer *buffer, size_t *length)
{
    char *data = buffer->data;

    if (data == NULL)
        data = calloc(1, 1);
    if (data != NULL && length != NULL)
        *length = buffer->length;

    wharf_buffer_init(buffer);
    return data;
}
