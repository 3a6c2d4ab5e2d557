/* Unit tests for the SDK's growable byte buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wharf/sdk/buffer.h"

static void empty_buffer_has_no_data(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;

    (void)state;
    assert_null(buffer.data);
    assert_int_equal(buffer.length, 0);
    wharf_buffer_free(&buffer);
    assert_null(buffer.data);
}

static void append_keeps_nul_terminator(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;

    (void)state;
    assert_int_equal(wharf_buffer_append(&buffer, "abc", 3), 0);
    assert_int_equal(wharf_buffer_append_string(&buffer, "def"), 0);
    assert_int_equal(wharf_buffer_append_char(&buffer, '!'), 0);
    assert_int_equal(buffer.length, 7);
    assert_string_equal(buffer.data, "abcdef!");
    assert_true(buffer.capacity > buffer.length);
    wharf_buffer_free(&buffer);
}

static void append_grows_past_many_doublings(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    size_t i;

    (void)state;
    for (i = 0; i < 100000; i++)
        assert_int_equal(wharf_buffer_append_char(&buffer, (char)('a' + i % 26)), 0);
    assert_int_equal(buffer.length, 100000);
    assert_int_equal(buffer.data[0], 'a');
    assert_int_equal(buffer.data[99999], 'a' + 99999 % 26);
    assert_int_equal(buffer.data[100000], '\0');
    wharf_buffer_free(&buffer);
}

static void append_binary_with_nul_bytes(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    const char bytes[] = {'a', '\0', 'b'};

    (void)state;
    assert_int_equal(wharf_buffer_append(&buffer, bytes, sizeof(bytes)), 0);
    assert_int_equal(buffer.length, 3);
    assert_memory_equal(buffer.data, bytes, 3);
    wharf_buffer_free(&buffer);
}

static void format_appends_text(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;

    (void)state;
    assert_int_equal(wharf_buffer_append_string(&buffer, "x="), 0);
    assert_int_equal(wharf_buffer_append_format(&buffer, "%d,%s", 42, "y"), 0);
    assert_string_equal(buffer.data, "x=42,y");
    assert_int_equal(buffer.length, 6);
    wharf_buffer_free(&buffer);
}

static void format_longer_than_first_allocation(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    char expected[1001];

    (void)state;
    memset(expected, 'z', 1000);
    expected[1000] = '\0';
    assert_int_equal(wharf_buffer_append_format(&buffer, "%s", expected), 0);
    assert_int_equal(buffer.length, 1000);
    assert_string_equal(buffer.data, expected);
    wharf_buffer_free(&buffer);
}

static void clear_keeps_allocation(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    size_t capacity;

    (void)state;
    assert_int_equal(wharf_buffer_append_string(&buffer, "hello"), 0);
    capacity = buffer.capacity;
    wharf_buffer_clear(&buffer);
    assert_int_equal(buffer.length, 0);
    assert_string_equal(buffer.data, "");
    assert_int_equal(buffer.capacity, capacity);
    wharf_buffer_free(&buffer);
}

static void reserve_rejects_overflow(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;

    (void)state;
    assert_int_equal(wharf_buffer_append_string(&buffer, "abc"), 0);
    assert_int_equal(wharf_buffer_reserve(&buffer, SIZE_MAX - 2), -ENOMEM);
    assert_int_equal(buffer.length, 3);
    assert_string_equal(buffer.data, "abc");
    wharf_buffer_free(&buffer);
}

static void detach_hands_over_bytes(void **state)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    size_t length = 0;
    char *text;

    (void)state;
    assert_int_equal(wharf_buffer_append_string(&buffer, "owned"), 0);
    text = wharf_buffer_detach(&buffer, &length);
    assert_string_equal(text, "owned");
    assert_int_equal(length, 5);
    assert_null(buffer.data);
    assert_int_equal(buffer.length, 0);
    free(text);

    text = wharf_buffer_detach(&buffer, &length);
    assert_non_null(text);
    assert_string_equal(text, "");
    assert_int_equal(length, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_buffer_has_no_data),
        cmocka_unit_test(append_keeps_nul_terminator),
        cmocka_unit_test(append_grows_past_many_doublings),
        cmocka_unit_test(append_binary_with_nul_bytes),
        cmocka_unit_test(format_appends_text),
        cmocka_unit_test(format_longer_than_first_allocation),
        cmocka_unit_test(clear_keeps_allocation),
        cmocka_unit_test(reserve_rejects_overflow),
        cmocka_unit_test(detach_hands_over_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
