/*
 * Gzip-compressed request bodies. Segment libraries and proxies compress
 * inconsistently (some without a Content-Encoding header). So ingest
 * detects gzip by its magic bytes, whatever the headers are, and passes
 * every other body through untouched.
 */
#ifndef WHARF_CORE_GZIP_BODY_H
#define WHARF_CORE_GZIP_BODY_H

#include <stdbool.h>
#include <stddef.h>

/* A body ready to parse: the input itself, or its inflated copy. */
typedef struct gzip_body {
    const char *data; /* NUL-terminated when inflated */
    size_t size;
    char *inflated; /* owned copy when the input was gzip, else NULL */
} gzip_body;

/* Whether data starts with the gzip magic bytes 1f 8b (RFC 1952). No JSON
 * text starts with them, because 0x1f is a control character. */
bool gzip_body_is_gzip(const void *data, size_t size);

/* Make input ready to parse. A gzip body (one or more concatenated
 * members) is inflated, but never to more than max_size bytes, so that a
 * small body that inflates to gigabytes ("zip bomb") stops at the limit.
 * Any other body is passed through: body->data = input.
 *
 * Returns 0; -E2BIG when the inflated body exceeds max_size, with a message
 * naming the limit; -EINVAL when the gzip data is truncated, corrupt or
 * followed by other bytes, with a message starting "invalid gzip body: ";
 * -ENOMEM. On failure body is left empty. Release with gzip_body_free(). */
int gzip_body_decode(gzip_body *body, const void *input, size_t input_size, size_t max_size,
                     char *error, size_t error_size);

void gzip_body_free(gzip_body *body);

#endif
