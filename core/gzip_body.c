#include "gzip_body.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* zlib's windowBits: 15 (32 KB window) plus 16 to read the gzip wrapper
 * only, since the magic bytes already identified the format. */
#define GZIP_WINDOW_BITS (15 + 16)

/* First output allocation; it doubles up to the caller's limit. */
#define INITIAL_CAPACITY 16384

bool gzip_body_is_gzip(const void *data, size_t size)
{
    const unsigned char *bytes = data;

    return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

/* Make room for more output, up to max_size + 1 bytes so that going past
 * the limit can be seen. The extra byte in each allocation is for the NUL. */
static int grow_output(char **output, size_t *capacity, size_t max_size)
{
    size_t limit = max_size + 1;
    size_t new_capacity = *capacity == 0 ? INITIAL_CAPACITY : *capacity * 2;
    char *grown;

    if (new_capacity > limit || new_capacity < *capacity)
        new_capacity = limit;
    grown = realloc(*output, new_capacity + 1);
    if (grown == NULL)
        return -ENOMEM;
    *output = grown;
    *capacity = new_capacity;
    return 0;
}

int gzip_body_decode(gzip_body *body, const void *input, size_t input_size, size_t max_size,
                     char *error, size_t error_size)
{
    z_stream stream;
    char *output = NULL;
    size_t capacity = 0;
    size_t used = 0;
    int status;
    int rc;

    memset(body, 0, sizeof(*body));
    if (!gzip_body_is_gzip(input, input_size)) {
        body->data = input;
        body->size = input_size;
        return 0;
    }
    if (input_size > UINT_MAX || max_size >= SIZE_MAX - 1) {
        snprintf(error, error_size, "gzip body of %zu bytes is too large to inflate", input_size);
        return -E2BIG;
    }

    memset(&stream, 0, sizeof(stream));
    if (inflateInit2(&stream, GZIP_WINDOW_BITS) != Z_OK) {
        snprintf(error, error_size, "out of memory while inflating a gzip body");
        return -ENOMEM;
    }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_size;

    for (;;) {
        if (used == capacity) {
            if (capacity > max_size) {
                snprintf(error, error_size,
                         "gzip body inflates to more than %zu bytes, the limit for a "
                         "request body; send smaller batches",
                         max_size);
                rc = -E2BIG;
                goto out;
            }
            rc = grow_output(&output, &capacity, max_size);
            if (rc < 0) {
                snprintf(error, error_size, "out of memory while inflating a gzip body");
                goto out;
            }
        }

        stream.next_out = (Bytef *)output + used;
        stream.avail_out = (uInt)(capacity - used < UINT_MAX ? capacity - used : UINT_MAX);
        status = inflate(&stream, Z_NO_FLUSH);
        used = (size_t)((char *)stream.next_out - output);

        if (status == Z_STREAM_END) {
            /* RFC 1952 allows several members one after another (as
             * "cat a.gz b.gz" makes); anything else after a member is an
             * error rather than silently dropped data. */
            if (stream.avail_in == 0)
                break;
            if (!gzip_body_is_gzip(stream.next_in, stream.avail_in)) {
                snprintf(error, error_size,
                         "invalid gzip body: %u bytes that are not gzip follow the "
                         "compressed data",
                         stream.avail_in);
                rc = -EINVAL;
                goto out;
            }
            inflateReset(&stream);
            continue;
        }
        if (status == Z_OK || status == Z_BUF_ERROR) {
            /* Output space left but no input: the stream stops before its
             * end (the 8-byte CRC and size trailer at least). */
            if (stream.avail_in == 0 && used < capacity) {
                snprintf(error, error_size,
                         "invalid gzip body: truncated (the data ends before the end of the "
                         "compressed stream)");
                rc = -EINVAL;
                goto out;
            }
            continue;
        }
        if (status == Z_MEM_ERROR) {
            snprintf(error, error_size, "out of memory while inflating a gzip body");
            rc = -ENOMEM;
            goto out;
        }
        snprintf(error, error_size, "invalid gzip body: %s",
                 stream.msg != NULL ? stream.msg : "corrupt data");
        rc = -EINVAL;
        goto out;
    }

    if (used > max_size) {
        snprintf(error, error_size,
                 "gzip body inflates to more than %zu bytes, the limit for a request body; "
                 "send smaller batches",
                 max_size);
        rc = -E2BIG;
        goto out;
    }
    if (output == NULL && grow_output(&output, &capacity, max_size) < 0) {
        snprintf(error, error_size, "out of memory while inflating a gzip body");
        rc = -ENOMEM;
        goto out;
    }
    output[used] = '\0';
    body->inflated = output;
    body->data = output;
    body->size = used;
    output = NULL;
    rc = 0;

out:
    inflateEnd(&stream);
    free(output);
    return rc;
}

void gzip_body_free(gzip_body *body)
{
    free(body->inflated);
    memset(body, 0, sizeof(*body));
}
