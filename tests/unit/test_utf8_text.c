/* Unit tests of UTF-8 hashing and simple case folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "utf8_text.h"

static void code_points_folded(void **state)
{
    static const struct {
        uint32_t from;
        uint32_t to;
    } cases[] = {
        {'A', 'a'},       {'Z', 'z'},       {'a', 'a'},       {'@', '@'},       {'[', '['},
        {0xc0, 0xe0},     {0xde, 0xfe},     {0xd7, 0xd7},     {0xdf, 0xdf},     {0xb5, 0x3bc},
        {0x100, 0x101},   {0x101, 0x101},   {0x130, 0x130},   {0x131, 0x131},   {0x139, 0x13a},
        {0x13a, 0x13a},   {0x14a, 0x14b},   {0x178, 0xff},    {0x17d, 0x17e},   {0x17f, 's'},
        {0x386, 0x3ac},   {0x388, 0x3ad},   {0x38c, 0x3cc},   {0x38f, 0x3ce},   {0x391, 0x3b1},
        {0x3a3, 0x3c3},   {0x3a2, 0x3a2},   {0x3c2, 0x3c3},   {0x3c3, 0x3c3},   {0x400, 0x450},
        {0x410, 0x430},   {0x42f, 0x44f},   {0x430, 0x430},   {0x4e00, 0x4e00}, {0x1f600, 0x1f600},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t folded = utf8_fold_code_point(cases[i].from);

        if (folded != cases[i].to)
            fail_msg("U+%04X folded to U+%04X, expected U+%04X", cases[i].from, folded,
                     cases[i].to);
    }
}

static void folded_strings_compare(void **state)
{
    (void)state;
    assert_int_equal(utf8_fold_compare("Zürich", 7, "ZÜRICH", 7), 0);
    assert_int_equal(utf8_fold_compare("ΟΔΥΣΣΕΎΣ", 16, "οδυσσεύς", 16), 0);
    assert_true(utf8_fold_compare("abc", 3, "ABD", 3) < 0);
    assert_true(utf8_fold_compare("abcd", 4, "ABC", 3) > 0);
    assert_true(utf8_fold_compare("", 0, "a", 1) < 0);
    /* Long s (2 bytes) folds to s (1 byte): lengths in bytes may differ. */
    assert_int_equal(utf8_fold_compare("\xc5\xbftop", 5, "STOP", 4), 0);
    /* Invalid bytes compare as themselves. */
    assert_int_equal(utf8_fold_compare("\xff" "A", 2, "\xff" "a", 2), 0);
    assert_true(utf8_fold_compare("\xfe", 1, "\xff", 1) < 0);
}

static void folded_hash_ignores_case(void **state)
{
    (void)state;
    assert_int_equal(utf8_folded_hash("Zoë Ångström", strlen("Zoë Ångström")),
                     utf8_folded_hash("ZOË ÅNGSTRÖM", strlen("ZOË ÅNGSTRÖM")));
    assert_int_equal(utf8_folded_hash("\xc5\xbftop", 5), utf8_folded_hash("stop", 4));
    assert_int_not_equal(utf8_folded_hash("stop", 4), utf8_folded_hash("stops", 5));
    assert_int_equal(utf8_hash("Pro", 3), utf8_hash("Pro", 3));
    assert_int_not_equal(utf8_hash("Pro", 3), utf8_hash("pro", 3));
    assert_int_not_equal(utf8_hash("", 0), utf8_hash("\0", 1));
}

static void folded_copy_and_search(void **state)
{
    size_t length = 0;
    char *needle = utf8_fold_copy("ÅNGSTRÖM", strlen("ÅNGSTRÖM"), &length);
    const char *name = "Zoë Ångström";

    (void)state;
    assert_non_null(needle);
    assert_string_equal(needle, "ångström");
    assert_int_equal(length, strlen("ångström"));

    assert_true(utf8_fold_contains(name, strlen(name), needle, length));
    assert_true(utf8_fold_ends_with(name, strlen(name), needle, length));
    assert_false(utf8_fold_starts_with(name, strlen(name), needle, length));
    assert_true(utf8_fold_starts_with(name, strlen(name), "zoë", strlen("zoë")));
    assert_false(utf8_fold_contains("Ångs", strlen("Ångs"), needle, length));
    assert_false(utf8_fold_ends_with("ström", strlen("ström"), needle, length));
    assert_true(utf8_fold_contains(name, strlen(name), "", 0));
    assert_true(utf8_fold_ends_with(name, strlen(name), "", 0));
    /* The needle matches whole code points, never the middle of one. */
    assert_false(utf8_fold_contains("ë", 2, "\xab", 1));
    free(needle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(code_points_folded),
        cmocka_unit_test(folded_strings_compare),
        cmocka_unit_test(folded_hash_ignores_case),
        cmocka_unit_test(folded_copy_and_search),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
