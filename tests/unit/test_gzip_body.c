/* Unit tests of gzip request bodies: detection by magic bytes, inflation,
 * the output limit, and truncated or corrupt data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip_body.h"

static char error[512];

/* Compress data as one gzip member with zlib; the caller frees it. */
static unsigned char *gzip_compress(const void *data, size_t size, size_t *compressed_size)
{
    z_stream stream;
    size_t capacity = compressBound((uLong)size) + 64;
    unsigned char *output = malloc(capacity);

    assert_non_null(output);
    memset(&stream, 0, sizeof(stream));
    /* windowBits 15 + 16 writes the gzip wrapper. */
    assert_int_equal(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    stream.next_in = (Bytef *)data;
    stream.avail_in = (uInt)size;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    assert_int_equal(deflate(&stream, Z_FINISH), Z_STREAM_END);
    *compressed_size = capacity - stream.avail_out;
    deflateEnd(&stream);
    return output;
}

static int decode(gzip_body *body, const void *input, size_t size, size_t max_size)
{
    error[0] = '\0';
    return gzip_body_decode(body, input, size, max_size, error, sizeof(error));
}

static void plain_body_passes_through(void **state)
{
    static const char json[] = "{\"batch\": []}";
    gzip_body body;

    (void)state;
    assert_int_equal(decode(&body, json, sizeof(json) - 1, 1024), 0);
    assert_ptr_equal(body.data, json);
    assert_int_equal(body.size, sizeof(json) - 1);
    assert_null(body.inflated);
    gzip_body_free(&body);

    /* One magic byte alone is not gzip. */
    assert_int_equal(decode(&body, "\x1f", 1, 1024), 0);
    assert_int_equal(body.size, 1);
    assert_null(body.inflated);
    gzip_body_free(&body);

    assert_int_equal(decode(&body, "", 0, 1024), 0);
    assert_int_equal(body.size, 0);
    gzip_body_free(&body);
}

static void magic_bytes_detected(void **state)
{
    (void)state;
    assert_true(gzip_body_is_gzip("\x1f\x8b\x08", 3));
    assert_true(gzip_body_is_gzip("\x1f\x8b", 2));
    assert_false(gzip_body_is_gzip("\x1f", 1));
    assert_false(gzip_body_is_gzip("\x8b\x1f", 2));
    assert_false(gzip_body_is_gzip("{\"a\":1}", 7));
    assert_false(gzip_body_is_gzip("", 0));
}

static void gzip_body_inflated(void **state)
{
    static const char json[] = "{\"batch\": [{\"type\": \"identify\", \"userId\": "
                               "\"Jos\xc3\xa9\"}]}";
    size_t compressed_size;
    unsigned char *compressed = gzip_compress(json, sizeof(json) - 1, &compressed_size);
    gzip_body body;

    (void)state;
    assert_int_equal(decode(&body, compressed, compressed_size, 1024), 0);
    assert_non_null(body.inflated);
    assert_ptr_equal(body.data, body.inflated);
    assert_int_equal(body.size, sizeof(json) - 1);
    assert_memory_equal(body.data, json, sizeof(json));
    gzip_body_free(&body);
    assert_null(body.data);
    free(compressed);
}

static void large_body_inflated_across_buffers(void **state)
{
    size_t size = 300 * 1000;
    unsigned char *data = malloc(size);
    size_t compressed_size;
    unsigned char *compressed;
    gzip_body body;

    (void)state;
    assert_non_null(data);
    /* Bytes that do not repeat in a short cycle, so the output grows past
     * several buffer doublings with real content to compare. */
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 13);
    compressed = gzip_compress(data, size, &compressed_size);
    assert_int_equal(decode(&body, compressed, compressed_size, size), 0);
    assert_int_equal(body.size, size);
    assert_memory_equal(body.data, data, size);
    gzip_body_free(&body);
    free(compressed);
    free(data);
}

static void empty_gzip_gives_empty_body(void **state)
{
    size_t compressed_size;
    unsigned char *compressed = gzip_compress("", 0, &compressed_size);
    gzip_body body;

    (void)state;
    assert_int_equal(decode(&body, compressed, compressed_size, 1024), 0);
    assert_int_equal(body.size, 0);
    assert_string_equal(body.data, "");
    gzip_body_free(&body);
    free(compressed);
}

static void concatenated_members_joined(void **state)
{
    size_t first_size;
    size_t second_size;
    unsigned char *first = gzip_compress("{\"batch\": ", 10, &first_size);
    unsigned char *second = gzip_compress("[]}", 3, &second_size);
    unsigned char *joined = malloc(first_size + second_size);
    gzip_body body;

    (void)state;
    assert_non_null(joined);
    memcpy(joined, first, first_size);
    memcpy(joined + first_size, second, second_size);
    assert_int_equal(decode(&body, joined, first_size + second_size, 1024), 0);
    assert_string_equal(body.data, "{\"batch\": []}");
    gzip_body_free(&body);
    free(joined);
    free(first);
    free(second);
}

static void truncated_gzip_rejected(void **state)
{
    static const char json[] = "{\"batch\": [{\"type\": \"track\", \"userId\": \"u\", "
                               "\"event\": \"Order Completed\"}]}";
    size_t compressed_size;
    unsigned char *compressed = gzip_compress(json, sizeof(json) - 1, &compressed_size);

    (void)state;
    /* Every cut, from just the magic bytes to one byte short of the
     * trailer, is an error and never a partial body. */
    for (size_t cut = 2; cut < compressed_size; cut++) {
        gzip_body body;
        int rc = decode(&body, compressed, cut, 1024);

        if (rc != -EINVAL)
            fail_msg("gzip cut at %zu of %zu bytes returned %d, expected -EINVAL", cut,
                     compressed_size, rc);
        if (strncmp(error, "invalid gzip body: ", 19) != 0)
            fail_msg("gzip cut at %zu: error \"%s\"", cut, error);
        assert_null(body.data);
        assert_null(body.inflated);
    }
    free(compressed);
}

static void truncated_gzip_names_truncation(void **state)
{
    static const char json[] = "{\"batch\": []}";
    size_t compressed_size;
    unsigned char *compressed = gzip_compress(json, sizeof(json) - 1, &compressed_size);
    gzip_body body;

    (void)state;
    /* Without its 8-byte trailer the data is complete but unverified. */
    assert_int_equal(decode(&body, compressed, compressed_size - 4, 1024), -EINVAL);
    assert_string_equal(error, "invalid gzip body: truncated (the data ends before the end "
                               "of the compressed stream)");
    free(compressed);
}

static void corrupt_gzip_rejected(void **state)
{
    static const char json[] = "{\"batch\": [{\"type\": \"identify\", \"userId\": \"u\"}]}";
    size_t compressed_size;
    unsigned char *compressed = gzip_compress(json, sizeof(json) - 1, &compressed_size);
    gzip_body body;

    (void)state;
    /* A wrong CRC-32 in the trailer. */
    compressed[compressed_size - 8] ^= 0xff;
    assert_int_equal(decode(&body, compressed, compressed_size, 1024), -EINVAL);
    assert_string_equal(error, "invalid gzip body: incorrect data check");
    compressed[compressed_size - 8] ^= 0xff;

    /* A wrong length in the trailer. */
    compressed[compressed_size - 1] ^= 0x01;
    assert_int_equal(decode(&body, compressed, compressed_size, 1024), -EINVAL);
    assert_string_equal(error, "invalid gzip body: incorrect length check");
    compressed[compressed_size - 1] ^= 0x01;

    /* An unknown compression method in the header. */
    compressed[2] = 7;
    assert_int_equal(decode(&body, compressed, compressed_size, 1024), -EINVAL);
    assert_string_equal(error, "invalid gzip body: unknown compression method");
    compressed[2] = 8;

    /* Reserved block type 3 in the deflate data. */
    compressed[10] |= 0x06;
    assert_int_equal(decode(&body, compressed, compressed_size, 1024), -EINVAL);
    assert_non_null(strstr(error, "invalid gzip body: "));
    free(compressed);
}

static void trailing_bytes_rejected(void **state)
{
    size_t compressed_size;
    unsigned char *compressed = gzip_compress("{}", 2, &compressed_size);
    unsigned char *padded = malloc(compressed_size + 3);
    gzip_body body;

    (void)state;
    assert_non_null(padded);
    memcpy(padded, compressed, compressed_size);
    memcpy(padded + compressed_size, "abc", 3);
    assert_int_equal(decode(&body, padded, compressed_size + 3, 1024), -EINVAL);
    assert_string_equal(error, "invalid gzip body: 3 bytes that are not gzip follow the "
                               "compressed data");
    free(padded);
    free(compressed);
}

static void output_limit_is_exact(void **state)
{
    char data[4096];
    size_t compressed_size;
    unsigned char *compressed;
    gzip_body body;

    (void)state;
    memset(data, 'a', sizeof(data));
    compressed = gzip_compress(data, sizeof(data), &compressed_size);

    assert_int_equal(decode(&body, compressed, compressed_size, sizeof(data)), 0);
    assert_int_equal(body.size, sizeof(data));
    gzip_body_free(&body);

    assert_int_equal(decode(&body, compressed, compressed_size, sizeof(data) - 1), -E2BIG);
    assert_string_equal(error, "gzip body inflates to more than 4095 bytes, the limit for a "
                               "request body; send smaller batches");
    assert_null(body.data);
    free(compressed);
}

static void gzip_bomb_stops_at_limit(void **state)
{
    /* 64 MiB of zeros compress to about 64 KB; the limit stops inflation
     * at 1 MiB, long before the output would exhaust memory. */
    size_t size = 64u << 20;
    unsigned char *zeros = calloc(1, size);
    size_t compressed_size;
    unsigned char *compressed;
    gzip_body body;

    (void)state;
    assert_non_null(zeros);
    compressed = gzip_compress(zeros, size, &compressed_size);
    free(zeros);
    assert_true(compressed_size < size / 500);

    assert_int_equal(decode(&body, compressed, compressed_size, 1u << 20), -E2BIG);
    assert_non_null(strstr(error, "gzip body inflates to more than 1048576 bytes"));
    assert_null(body.inflated);
    free(compressed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_body_passes_through),
        cmocka_unit_test(magic_bytes_detected),
        cmocka_unit_test(gzip_body_inflated),
        cmocka_unit_test(large_body_inflated_across_buffers),
        cmocka_unit_test(empty_gzip_gives_empty_body),
        cmocka_unit_test(concatenated_members_joined),
        cmocka_unit_test(truncated_gzip_rejected),
        cmocka_unit_test(truncated_gzip_names_truncation),
        cmocka_unit_test(corrupt_gzip_rejected),
        cmocka_unit_test(trailing_bytes_rejected),
        cmocka_unit_test(output_limit_is_exact),
        cmocka_unit_test(gzip_bomb_stops_at_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
