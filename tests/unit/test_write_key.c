/* Unit tests of the write key check for the Segment Tracking API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "write_key.h"

#define KEY "wk_3f9a1c"

static char error[512];

/* Standard base64 (RFC 4648) of data[0..size) into output, with padding
 * unless pad is 0. */
static void base64_encode(const char *data, size_t size, int pad, char *output)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t at = 0;

    for (size_t i = 0; i < size; i += 3) {
        uint32_t group = (uint32_t)(unsigned char)data[i] << 16;
        size_t remaining = size - i;

        if (remaining > 1)
            group |= (uint32_t)(unsigned char)data[i + 1] << 8;
        if (remaining > 2)
            group |= (unsigned char)data[i + 2];
        output[at++] = alphabet[(group >> 18) & 63];
        output[at++] = alphabet[(group >> 12) & 63];
        if (remaining > 1)
            output[at++] = alphabet[(group >> 6) & 63];
        else if (pad)
            output[at++] = '=';
        if (remaining > 2)
            output[at++] = alphabet[group & 63];
        else if (pad)
            output[at++] = '=';
    }
    output[at] = '\0';
}

/* "Basic " + base64(credentials), in a static buffer. */
static const char *basic(const char *credentials, size_t size)
{
    static char header[256];

    strcpy(header, "Basic ");
    base64_encode(credentials, size, 1, header + 6);
    return header;
}

static int check(const char *authorization, const char *body_write_key)
{
    error[0] = '\0';
    return write_key_check(KEY, authorization, body_write_key, error, sizeof(error));
}

static void base64_helper_matches_rfc_examples(void **state)
{
    char output[16];

    (void)state;
    /* RFC 4648 section 10 test vectors, and Segment's documented example. */
    base64_encode("foob", 4, 1, output);
    assert_string_equal(output, "Zm9vYg==");
    base64_encode("fooba", 5, 1, output);
    assert_string_equal(output, "Zm9vYmE=");
    base64_encode("foobar", 6, 1, output);
    assert_string_equal(output, "Zm9vYmFy");
    base64_encode("abc123:", 7, 1, output);
    assert_string_equal(output, "YWJjMTIzOg==");
}

static void segment_style_header_accepted(void **state)
{
    (void)state;
    assert_int_equal(check(basic(KEY ":", strlen(KEY ":")), NULL), 0);
    assert_true(write_key_header_matches(KEY, basic(KEY ":", strlen(KEY ":"))));
    assert_true(write_key_header_matches("abc123", "Basic YWJjMTIzOg=="));
}

static void header_variants_accepted(void **state)
{
    char header[256];
    char encoded[128];

    (void)state;
    /* Any password. */
    assert_int_equal(check(basic(KEY ":any password", strlen(KEY ":any password")), NULL), 0);
    /* No colon at all, which old clients send. */
    assert_int_equal(check(basic(KEY, strlen(KEY)), NULL), 0);
    /* A password that itself contains colons. */
    assert_int_equal(check(basic(KEY ":a:b", strlen(KEY ":a:b")), NULL), 0);

    /* The scheme is case-insensitive; spaces around the token are allowed. */
    base64_encode(KEY ":", strlen(KEY ":"), 1, encoded);
    snprintf(header, sizeof(header), "basic %s", encoded);
    assert_int_equal(check(header, NULL), 0);
    snprintf(header, sizeof(header), "  BASIC   %s  ", encoded);
    assert_int_equal(check(header, NULL), 0);

    /* Padding left out. */
    base64_encode(KEY ":", strlen(KEY ":"), 0, encoded);
    snprintf(header, sizeof(header), "Basic %s", encoded);
    assert_int_equal(check(header, NULL), 0);
}

static void wrong_keys_rejected(void **state)
{
    static const char *const credentials[] = {
        "wk_3f9a1:",        /* prefix of the key */
        "wk_3f9a1cX:",      /* key plus one byte */
        "WK_3F9A1C:",       /* case differs */
        ":" KEY,            /* key as the password */
        "",                 /* nothing */
        "wk_3f9a1d:",       /* last byte differs */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(credentials) / sizeof(credentials[0]); i++) {
        if (check(basic(credentials[i], strlen(credentials[i])), NULL) != -EACCES)
            fail_msg("credentials \"%s\" were accepted", credentials[i]);
        assert_non_null(strstr(error, "invalid write key"));
        assert_false(write_key_header_matches(KEY, basic(credentials[i], strlen(credentials[i]))));
    }
}

static void nul_inside_credentials_rejected(void **state)
{
    static const char credentials[] = KEY "\0:";

    (void)state;
    assert_int_equal(check(basic(credentials, sizeof(credentials) - 1), NULL), -EACCES);
}

static void missing_key_explains_how_to_send(void **state)
{
    (void)state;
    assert_int_equal(check(NULL, NULL), -EACCES);
    assert_string_equal(error, "missing write key: send the write key as the user name of HTTP "
                               "Basic authentication (Authorization: Basic base64 of "
                               "\"WRITE_KEY:\"), or as \"writeKey\" in the JSON body");
}

static void messages_never_contain_keys(void **state)
{
    static const char sent[] = "guess_5e6f7a:";
    const char *header = basic(sent, strlen(sent));

    (void)state;
    assert_int_equal(check(header, "body_guess_1b2c"), -EACCES);
    assert_non_null(strstr(error, "invalid write key: the key sent is not the one wharfd was "
                                  "started with (--write-key)"));
    assert_null(strstr(error, KEY));
    assert_null(strstr(error, "guess_5e6f7a"));
    assert_null(strstr(error, "body_guess_1b2c"));
    assert_null(strstr(error, header + 6));
}

static void malformed_headers_named(void **state)
{
    static const struct {
        const char *header;
        const char *expected;
    } cases[] = {
        {"Bearer " KEY, "the Authorization header does not hold Basic credentials"},
        {KEY, "the Authorization header does not hold Basic credentials"},
        {"Basic", "the Authorization header does not hold Basic credentials"},
        {"Basicd2tfM2Y5YTFjOg==", "the Authorization header does not hold Basic credentials"},
        {"Basic d2tf*2Y5YTFjOg==", "are not valid base64"},
        {"Basic d2tfM2Y5YTFjO", "are not valid base64"},
        {"Basic d2tf M2Y5YTFjOg==", "are not valid base64"},
        {"Basic ====", "are not valid base64"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (check(cases[i].header, NULL) != -EACCES)
            fail_msg("header \"%s\" was accepted", cases[i].header);
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("header \"%s\": error \"%s\" does not contain \"%s\"", cases[i].header,
                     error, cases[i].expected);
        assert_non_null(strstr(error, "send the write key as the user name"));
    }
}

static void body_write_key_accepted(void **state)
{
    (void)state;
    /* Alone, as Segment's HTTP API documents it. */
    assert_int_equal(check(NULL, KEY), 0);
    /* Next to a Bearer token (Segment's OAuth puts the key in the body). */
    assert_int_equal(check("Bearer token", KEY), 0);
    /* Next to a wrong header: either credential is enough. */
    assert_int_equal(check(basic("other:", 6), KEY), 0);
    /* A right header with a wrong body key. */
    assert_int_equal(check(basic(KEY ":", strlen(KEY ":")), "other"), 0);

    assert_int_equal(check(NULL, "other"), -EACCES);
    assert_non_null(strstr(error, "invalid write key"));
    assert_int_equal(check(NULL, ""), -EACCES);
    assert_int_equal(check(NULL, KEY "x"), -EACCES);
}

static void equal_compares_whole_strings(void **state)
{
    (void)state;
    assert_true(write_key_equal("abc", "abc", 3));
    assert_false(write_key_equal("abc", "abd", 3));
    assert_false(write_key_equal("abc", "ab", 2));
    assert_false(write_key_equal("abc", "abcabc", 6));
    assert_false(write_key_equal("abc", "", 0));
    /* Only candidate_size bytes are read. */
    assert_true(write_key_equal("abc", "abcdef", 3));
    /* No key configured never matches, not even an empty candidate. */
    assert_false(write_key_equal("", "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_helper_matches_rfc_examples),
        cmocka_unit_test(segment_style_header_accepted),
        cmocka_unit_test(header_variants_accepted),
        cmocka_unit_test(wrong_keys_rejected),
        cmocka_unit_test(nul_inside_credentials_rejected),
        cmocka_unit_test(missing_key_explains_how_to_send),
        cmocka_unit_test(messages_never_contain_keys),
        cmocka_unit_test(malformed_headers_named),
        cmocka_unit_test(body_write_key_accepted),
        cmocka_unit_test(equal_compares_whole_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
