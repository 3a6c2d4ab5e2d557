/* Unit tests for the settings readers and their error messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "wharf/sdk/settings.h"

static const char settings_text[] =
    "{\"url\": \"https://example.test/hook\", \"batch_size\": 250, \"ratio\": 2.5,"
    " \"enabled\": true, \"disabled\": false, \"nothing\": null,"
    " \"headers\": {\"Authorization\": \"Bearer abc\", \"X-Empty\": \"\"},"
    " \"bad_headers\": {\"X-Good\": \"ok\", \"X-Number\": 5}, \"big\": 18446744073709551615}";

static int setup(void **state)
{
    *state = json_tokener_parse(settings_text);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    json_object_put(*state);
    return 0;
}

static void string_reader(void **state)
{
    const char *value = "untouched";

    assert_int_equal(wharf_settings_string(*state, "url", &value), 0);
    assert_string_equal(value, "https://example.test/hook");

    value = "untouched";
    assert_int_equal(wharf_settings_string(*state, "batch_size", &value), -EINVAL);
    assert_int_equal(wharf_settings_string(*state, "missing", &value), -ENOENT);
    assert_int_equal(wharf_settings_string(*state, "nothing", &value), -ENOENT);
    assert_string_equal(value, "untouched");
}

static void integer_reader(void **state)
{
    int64_t value = -1;

    assert_int_equal(wharf_settings_integer(*state, "batch_size", &value), 0);
    assert_int_equal(value, 250);

    value = -1;
    assert_int_equal(wharf_settings_integer(*state, "ratio", &value), -EINVAL);
    assert_int_equal(wharf_settings_integer(*state, "url", &value), -EINVAL);
    assert_int_equal(wharf_settings_integer(*state, "missing", &value), -ENOENT);
    assert_int_equal(value, -1);

    assert_int_equal(wharf_settings_integer(*state, "big", &value), 0);
    assert_int_equal(value, INT64_MAX);
}

static void boolean_reader(void **state)
{
    int value = -1;

    assert_int_equal(wharf_settings_boolean(*state, "enabled", &value), 0);
    assert_int_equal(value, 1);
    assert_int_equal(wharf_settings_boolean(*state, "disabled", &value), 0);
    assert_int_equal(value, 0);

    value = -1;
    assert_int_equal(wharf_settings_boolean(*state, "url", &value), -EINVAL);
    assert_int_equal(wharf_settings_boolean(*state, "missing", &value), -ENOENT);
    assert_int_equal(value, -1);
}

static void string_map_reader(void **state)
{
    wharf_http_header *headers = NULL;
    size_t count = 0;

    assert_int_equal(wharf_settings_string_map(*state, "headers", &headers, &count), 0);
    assert_int_equal(count, 2);
    assert_string_equal(headers[0].name, "Authorization");
    assert_string_equal(headers[0].value, "Bearer abc");
    assert_string_equal(headers[1].name, "X-Empty");
    assert_string_equal(headers[1].value, "");
    wharf_http_headers_free(headers, count);

    headers = NULL;
    count = 99;
    assert_int_equal(wharf_settings_string_map(*state, "bad_headers", &headers, &count), -EINVAL);
    assert_int_equal(wharf_settings_string_map(*state, "url", &headers, &count), -EINVAL);
    assert_int_equal(wharf_settings_string_map(*state, "missing", &headers, &count), -ENOENT);
    assert_null(headers);
    assert_int_equal(count, 99);
}

static void empty_string_map(void **state)
{
    struct json_object *settings = json_tokener_parse("{\"headers\": {}}");
    wharf_http_header *headers = (wharf_http_header *)settings;
    size_t count = 99;

    (void)state;
    assert_int_equal(wharf_settings_string_map(settings, "headers", &headers, &count), 0);
    assert_null(headers);
    assert_int_equal(count, 0);
    json_object_put(settings);
}

static void headers_copy(void **state)
{
    const wharf_http_header source[] = {{"A", "1"}, {"B", "2"}};
    wharf_http_header *copy = NULL;

    (void)state;
    assert_int_equal(wharf_http_headers_copy(source, 2, &copy), 0);
    assert_non_null(copy);
    assert_string_equal(copy[1].name, "B");
    assert_string_equal(copy[1].value, "2");
    assert_ptr_not_equal(copy[1].value, source[1].value);
    wharf_http_headers_free(copy, 2);

    assert_int_equal(wharf_http_headers_copy(source, 0, &copy), 0);
    assert_null(copy);
}

static void error_messages(void **state)
{
    char error[256];

    wharf_settings_format_error(error, sizeof(error), *state, "batch_size", -EINVAL,
                                WHARF_SETTING_STRING);
    assert_string_equal(error, "setting \"batch_size\" must be a string, got integer");

    wharf_settings_format_error(error, sizeof(error), *state, "url", -EINVAL,
                                WHARF_SETTING_INTEGER);
    assert_string_equal(error, "setting \"url\" must be an integer, got string");

    wharf_settings_format_error(error, sizeof(error), *state, "missing", -ENOENT,
                                WHARF_SETTING_STRING);
    assert_string_equal(error,
                        "setting \"missing\" is missing; set it in the connector's settings");

    wharf_settings_format_error(error, sizeof(error), *state, "bad_headers", -EINVAL,
                                WHARF_SETTING_STRING_MAP);
    assert_string_equal(error, "setting \"bad_headers\" must be an object of strings, but "
                               "the value of \"X-Number\" is integer; quote it as a string");

    wharf_settings_format_error(error, sizeof(error), *state, "ratio", -EINVAL,
                                WHARF_SETTING_BOOLEAN);
    assert_string_equal(error, "setting \"ratio\" must be a boolean, got number");
}

static void non_object_settings(void **state)
{
    struct json_object *array = json_tokener_parse("[1]");
    const char *value = NULL;

    (void)state;
    assert_int_equal(wharf_settings_string(array, "url", &value), -ENOENT);
    assert_int_equal(wharf_settings_string(NULL, "url", &value), -ENOENT);
    json_object_put(array);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(string_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(integer_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(boolean_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(string_map_reader, setup, teardown),
        cmocka_unit_test(empty_string_map),
        cmocka_unit_test(headers_copy),
        cmocka_unit_test_setup_teardown(error_messages, setup, teardown),
        cmocka_unit_test(non_object_settings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
