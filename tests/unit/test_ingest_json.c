/* Unit tests of ingest_json_parse_filtered() on strings. Whatever the
 * length of a string, and wherever an escape, a control character, a
 * multi-byte character or the closing quote falls, wharfd's own parser
 * must read the string as json-c reads it. When json-c rejects the
 * string, wharfd must reject it too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_json.h"

/* Longer than two 16-byte blocks, so that a special byte falls in the
 * first block, the second block and the scalar tail. */
#define MAX_PLAIN 40

/* Parse {"k": "<plain before><special><plain after>"} both ways and
 * compare the value of k. */
static void assert_parses_like_json_c(size_t before, const char *special, size_t after)
{
    char body[256];
    char error[512];
    size_t length = 0;
    json_object *ours = NULL;
    json_object *reference;
    json_object *ours_value;
    json_object *reference_value;
    ingest_json_filter filter = {0};
    json_tokener *tokener;
    int rc;

    length += (size_t)snprintf(body + length, sizeof(body) - length, "{\"k\": \"");
    for (size_t i = 0; i < before; i++)
        body[length++] = (char)('a' + i % 26);
    length += (size_t)snprintf(body + length, sizeof(body) - length, "%s", special);
    for (size_t i = 0; i < after; i++)
        body[length++] = (char)('A' + i % 26);
    length += (size_t)snprintf(body + length, sizeof(body) - length, "\"}");

    /* wharfd reads every body that its own parser gives up on with a
     * strict json-c tokener, so that is the reference. */
    tokener = json_tokener_new();
    assert_non_null(tokener);
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
    reference = json_tokener_parse_ex(tokener, body, (int)length);
    json_tokener_free(tokener);
    rc = ingest_json_parse_filtered(body, length, &filter, &ours, error, sizeof(error));
    if (reference == NULL) {
        if (rc >= 0)
            fail_msg("%s: json-c rejects it, ingest_json_parse_filtered() returned %d", body,
                     rc);
        json_object_put(ours);
        return;
    }
    if (rc < 0)
        fail_msg("%s: json-c reads it, ingest_json_parse_filtered() failed: %s", body, error);
    assert_true(json_object_object_get_ex(reference, "k", &reference_value));
    assert_true(json_object_object_get_ex(ours, "k", &ours_value));
    if (json_object_get_string_len(ours_value) != json_object_get_string_len(reference_value) ||
        memcmp(json_object_get_string(ours_value), json_object_get_string(reference_value),
               (size_t)json_object_get_string_len(reference_value)) != 0)
        fail_msg("%s: read as \"%s\", json-c reads \"%s\"", body,
                 json_object_get_string(ours_value), json_object_get_string(reference_value));
    json_object_put(ours);
    json_object_put(reference);
}

static void test_plain_strings_every_length(void **state)
{
    (void)state;
    for (size_t length = 0; length <= 2 * MAX_PLAIN; length++)
        assert_parses_like_json_c(length, "", 0);
}

static void test_escapes_at_every_offset(void **state)
{
    static const char *const escapes[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f",
                                          "\\n",  "\\r",  "\\t", "\\u00e9"};

    (void)state;
    for (size_t e = 0; e < sizeof(escapes) / sizeof(escapes[0]); e++) {
        for (size_t before = 0; before <= MAX_PLAIN; before++)
            assert_parses_like_json_c(before, escapes[e], MAX_PLAIN - before);
    }
}

static void test_control_characters_match(void **state)
{
    static const char *const controls[] = {"\x01", "\x09", "\x0a", "\x1f"};

    (void)state;
    for (size_t c = 0; c < sizeof(controls) / sizeof(controls[0]); c++) {
        for (size_t before = 0; before <= MAX_PLAIN; before++)
            assert_parses_like_json_c(before, controls[c], MAX_PLAIN - before);
    }
}

static void test_multibyte_characters(void **state)
{
    /* é, €, an emoji, and DEL (0x7f, not a control character in JSON). */
    static const char *const characters[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                             "\x7f"};

    (void)state;
    for (size_t c = 0; c < sizeof(characters) / sizeof(characters[0]); c++) {
        for (size_t before = 0; before <= MAX_PLAIN; before++)
            assert_parses_like_json_c(before, characters[c], MAX_PLAIN - before);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_strings_every_length),
        cmocka_unit_test(test_escapes_at_every_offset),
        cmocka_unit_test(test_control_characters_match),
        cmocka_unit_test(test_multibyte_characters),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
