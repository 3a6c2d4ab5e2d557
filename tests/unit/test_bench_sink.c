/*
 * Tests of the benchmark sink's message counter (bench/sink.c), whose
 * counts are bench_sync's figures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sink.h"

typedef struct found_values {
    uint64_t values[8];
    size_t count;
} found_values;

static void remember(void *user_data, uint64_t value)
{
    found_values *found = user_data;

    if (found->count < sizeof(found->values) / sizeof(found->values[0]))
        found->values[found->count] = value;
    found->count++;
}

static uint64_t count_text(const char *body)
{
    return sink_count_messages(body, strlen(body), NULL, NULL, NULL);
}

static void counts_array_elements(void **state)
{
    (void)state;
    assert_int_equal(count_text("[{\"a\":1},{\"a\":2},{\"a\":3}]"), 3);
    assert_int_equal(count_text(" [ 1 , 2 ] "), 2);
    assert_int_equal(count_text("[]"), 0);
    assert_int_equal(count_text("[ ]"), 0);
}

static void counts_other_value_once(void **state)
{
    (void)state;
    assert_int_equal(count_text("{\"type\":\"user\",\"list\":[1,2,3]}"), 1);
    assert_int_equal(count_text("\"text\""), 1);
    assert_int_equal(count_text(""), 0);
    assert_int_equal(count_text(" \n\t"), 0);
}

static void ignores_structure_in_strings(void **state)
{
    (void)state;
    assert_int_equal(count_text("[{\"n\":\"a],{b\"},{\"n\":\",\"}]"), 2);
    /* An escaped quote does not end the string; the comma after it is
     * still inside. */
    assert_int_equal(count_text("[{\"n\":\"say \\\",\\\" twice\"},{\"n\":1}]"), 2);
    /* A quote after an escaped backslash closes the string, so the comma
     * after it separates two elements. */
    assert_int_equal(count_text("[{\"n\":\"path\\\\\"},{\"n\":\"x\\\\\\\\\"},{}]"), 3);
    assert_int_equal(count_text("[\"\\\\\\\"]\",\"b\"]"), 2);
}

static void counts_nested_array_once(void **state)
{
    (void)state;
    assert_int_equal(count_text("[[1,2,3],[4],{\"a\":[5,6]}]"), 3);
}

static void counts_cut_off_body(void **state)
{
    (void)state;
    assert_int_equal(count_text("[{\"a\":1},{\"a\":"), 2);
    assert_int_equal(count_text("[{\"a\":1},{\"a\":\"open string, ]"), 2);
    assert_int_equal(count_text("[{\"a\":1},"), 1);
}

static void reports_key_per_element(void **state)
{
    const char *body = "[{\"id\":\"u1\",\"sent\": 17},{\"id\":\"u2\"},"
                       "{\"note\":\"\\\"sent\\\":5\",\"sent\":42}]";
    found_values found = {{0}, 0};

    (void)state;
    assert_int_equal(sink_count_messages(body, strlen(body), "sent", remember, &found), 3);
    /* The note's escaped quotes do not make it a key, so the third
     * element reports its own key. */
    assert_int_equal(found.count, 2);
    assert_int_equal(found.values[0], 17);
    assert_int_equal(found.values[1], 42);
}

static void reports_key_of_single_value(void **state)
{
    const char *body = "{\"sent\":123456789012}";
    found_values found = {{0}, 0};

    (void)state;
    assert_int_equal(sink_count_messages(body, strlen(body), "sent", remember, &found), 1);
    assert_int_equal(found.count, 1);
    assert_int_equal(found.values[0], 123456789012u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_array_elements),
        cmocka_unit_test(counts_other_value_once),
        cmocka_unit_test(ignores_structure_in_strings),
        cmocka_unit_test(counts_nested_array_once),
        cmocka_unit_test(counts_cut_off_body),
        cmocka_unit_test(reports_key_per_element),
        cmocka_unit_test(reports_key_of_single_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
