/*
 * Growable byte buffer for request bodies, encoded batches and messages.
 *
 * The bytes are always followed by a NUL byte that length does not count, so
 * data can be passed where a C string is expected once anything is written.
 * A zeroed wharf_buffer (or WHARF_BUFFER_INIT) is a valid empty buffer whose
 * data is NULL until the first write.
 */
#ifndef WHARF_SDK_BUFFER_H
#define WHARF_SDK_BUFFER_H

#include <stdarg.h>
#include <stddef.h>

#include "wharf/host.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wharf_buffer {
    char *data;      /* NULL until the first write, then NUL-terminated */
    size_t length;   /* bytes written, without the terminating NUL */
    size_t capacity; /* bytes allocated for data, including the NUL */
} wharf_buffer;

#define WHARF_BUFFER_INIT {NULL, 0, 0}

void wharf_buffer_init(wharf_buffer *buffer);

/* Release the memory and leave an empty buffer behind. */
void wharf_buffer_free(wharf_buffer *buffer);

/* Drop the contents but keep the allocation for reuse. */
void wharf_buffer_clear(wharf_buffer *buffer);

/* Make room for at least extra more bytes. Returns 0, or -ENOMEM (also when
 * length + extra would overflow size_t), leaving the contents unchanged. */
int wharf_buffer_reserve(wharf_buffer *buffer, size_t extra);

/* Append size bytes. Returns 0 or -ENOMEM; on failure nothing is appended. */
int wharf_buffer_append(wharf_buffer *buffer, const void *bytes, size_t size);

int wharf_buffer_append_string(wharf_buffer *buffer, const char *text);

int wharf_buffer_append_char(wharf_buffer *buffer, char character);

/* Append printf-style formatted text. Returns 0, -ENOMEM, or -EINVAL when
 * the format is invalid; on failure nothing is appended. */
int wharf_buffer_append_format(wharf_buffer *buffer, const char *format, ...)
    WHARF_PRINTF_LIKE(2, 3);
int wharf_buffer_append_vformat(wharf_buffer *buffer, const char *format,
                                va_list arguments);

/* Hand the bytes over to the caller, who frees them with free(), and leave
 * an empty buffer behind. Returns an empty string for an empty buffer, or
 * NULL when that string cannot be allocated. */
char *wharf_buffer_detach(wharf_buffer *buffer, size_t *length);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_BUFFER_H */
