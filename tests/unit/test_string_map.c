/* Unit tests of string_map, the identity indexes' hash map: values found
 * by key through growth, replacement and removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "string_map.h"

#define KEY_COUNT 20000

/* Keys shaped like the ones wharfd indexes: ids, external ids, emails,
 * and keys of every length up to 40 bytes. */
static void make_key(char *key, size_t size, unsigned i)
{
    switch (i % 4) {
    case 0:
        snprintf(key, size, "0193a4f2-7c1e-7d3a-9b2f-%012u", i);
        break;
    case 1:
        snprintf(key, size, "user-%u", i);
        break;
    case 2:
        snprintf(key, size, "person%u@example.com", i);
        break;
    default:
        memset(key, 'k', i % 41);
        snprintf(key + i % 41, size - i % 41, "%u", i);
        break;
    }
}

static void test_put_and_get(void **state)
{
    string_map map;
    char key[96];

    (void)state;
    string_map_init(&map);
    assert_int_equal(string_map_get(&map, "missing"), STRING_MAP_MISSING);
    for (unsigned i = 0; i < KEY_COUNT; i++) {
        make_key(key, sizeof(key), i);
        assert_int_equal(string_map_put(&map, key, i), 0);
    }
    assert_int_equal(map.count, KEY_COUNT);
    for (unsigned i = 0; i < KEY_COUNT; i++) {
        make_key(key, sizeof(key), i);
        assert_int_equal(string_map_get(&map, key), i);
    }
    assert_int_equal(string_map_get(&map, ""), STRING_MAP_MISSING);
    assert_int_equal(string_map_get(&map, NULL), STRING_MAP_MISSING);
    string_map_free(&map);
}

static void test_put_replaces_value(void **state)
{
    string_map map;

    (void)state;
    string_map_init(&map);
    assert_int_equal(string_map_put(&map, "ada@example.com", 1), 0);
    assert_int_equal(string_map_put(&map, "ada@example.com", 2), 0);
    assert_int_equal(map.count, 1);
    assert_int_equal(string_map_get(&map, "ada@example.com"), 2);
    string_map_free(&map);
}

static void test_remove_keeps_others(void **state)
{
    string_map map;
    char key[96];

    (void)state;
    string_map_init(&map);
    for (unsigned i = 0; i < KEY_COUNT; i++) {
        make_key(key, sizeof(key), i);
        assert_int_equal(string_map_put(&map, key, i), 0);
    }
    for (unsigned i = 0; i < KEY_COUNT; i += 3) {
        make_key(key, sizeof(key), i);
        string_map_remove(&map, key);
    }
    string_map_remove(&map, "never added");
    for (unsigned i = 0; i < KEY_COUNT; i++) {
        make_key(key, sizeof(key), i);
        if (i % 3 == 0)
            assert_int_equal(string_map_get(&map, key), STRING_MAP_MISSING);
        else
            assert_int_equal(string_map_get(&map, key), i);
    }
    assert_int_equal(map.count, KEY_COUNT - (KEY_COUNT + 2) / 3);
    string_map_free(&map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_and_get),
        cmocka_unit_test(test_put_replaces_value),
        cmocka_unit_test(test_remove_keeps_others),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
