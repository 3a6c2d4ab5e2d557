/* Unit tests for attribute-to-field mappings: reading the setting,
 * resolving fields later, and the type checks per value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "wharf/sdk/field_mapping.h"

static const wharf_field contact_fields[] = {
    {"firstname", WHARF_FIELD_STRING, 10},
    {"age", WHARF_FIELD_NUMBER, 0},
    {"vip", WHARF_FIELD_BOOLEAN, 0},
    {"birthday", WHARF_FIELD_DATE, 0},
    {"last_seen", WHARF_FIELD_DATETIME, 0},
    {"notes", WHARF_FIELD_STRING, 0},
};
#define CONTACT_FIELD_COUNT (sizeof(contact_fields) / sizeof(contact_fields[0]))

typedef struct mapping_case {
    wharf_field_mapping mapping;
    json_object *settings;
    wharf_buffer out;
    char text[512];
} mapping_case;

static int setup(void **state)
{
    mapping_case *test = calloc(1, sizeof(*test));

    *state = test;
    return test == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    mapping_case *test = *state;

    wharf_field_mapping_free(&test->mapping);
    json_object_put(test->settings);
    wharf_buffer_free(&test->out);
    free(test);
    return 0;
}

/* Read {"map": mapping_json} against the contact fields (or none). */
static int read_mapping(mapping_case *test, const char *settings_json, int with_fields)
{
    test->settings = json_tokener_parse(settings_json);
    assert_non_null(test->settings);
    return wharf_field_mapping_read(test->settings, "map", with_fields ? contact_fields : NULL,
                                    with_fields ? CONTACT_FIELD_COUNT : 0, &test->mapping,
                                    test->text, sizeof(test->text));
}

/* Apply the mapping to attributes_json, writing into test->out; returns its rc. */
static int apply(mapping_case *test, const char *attributes_json)
{
    json_object *attributes = json_tokener_parse(attributes_json);
    int rc;

    assert_non_null(attributes);
    wharf_buffer_clear(&test->out);
    test->text[0] = '\0';
    rc = wharf_field_mapping_append_object(&test->mapping, attributes, &test->out, test->text,
                                           sizeof(test->text));
    json_object_put(attributes);
    return rc;
}

static void read_keeps_key_order(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"age\": \"years\", \"firstname\": "
                                        "\"first_name\"}}", 1), 0);

    assert_int_equal(test->mapping.count, 2);
    assert_string_equal(test->mapping.setting, "map");
    assert_string_equal(test->mapping.entries[0].field, "age");
    assert_string_equal(test->mapping.entries[0].attribute, "years");
    assert_int_equal(test->mapping.entries[0].known, 1);
    assert_int_equal(test->mapping.entries[0].type, WHARF_FIELD_NUMBER);
    assert_string_equal(test->mapping.entries[1].field, "firstname");
    assert_int_equal(test->mapping.entries[1].max_length, 10);
}

static void absent_setting_is_empty(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"other\": 1}", 1), 0);
    assert_int_equal(test->mapping.count, 0);

    assert_int_equal(apply(test, "{\"first_name\": \"Ada\"}"), 0);
    assert_string_equal(test->out.data, "{}");
}

static void unknown_field_rejected_at_read(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"shoe_size\": \"shoes\"}}", 1), -EINVAL);

    assert_non_null(strstr(test->text, "setting \"map\""));
    assert_non_null(strstr(test->text, "\"shoe_size\""));
    assert_non_null(strstr(test->text, "does not exist"));
    assert_int_equal(test->mapping.count, 0);
}

static void non_string_attribute_rejected(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"age\": 5}}", 1), -EINVAL);
    assert_non_null(strstr(test->text, "\"age\""));
    assert_non_null(strstr(test->text, "int"));
}

static void non_object_setting_rejected(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": [\"age\"]}", 1), -EINVAL);
    assert_non_null(strstr(test->text, "must be an object"));
}

static void values_written_by_type(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"firstname\": \"first_name\", \"age\": "
                                        "\"age\", \"vip\": \"vip\", \"birthday\": \"born\", "
                                        "\"last_seen\": \"seen\", \"notes\": \"score\"}}", 1), 0);

    assert_int_equal(apply(test, "{\"first_name\": \"Ada\", \"age\": 36.5, \"vip\": true, "
                                 "\"born\": \"1815-12-10T08:00:00Z\", \"seen\": 1733300000000, "
                                 "\"score\": 7, \"unmapped\": 1}"), 0);

    assert_string_equal(test->out.data,
                        "{\"firstname\":\"Ada\",\"age\":36.5,\"vip\":true,"
                        "\"birthday\":\"1815-12-10\",\"last_seen\":1733300000000,"
                        "\"notes\":\"7\"}");
}

static void missing_and_null_left_out(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"firstname\": \"first_name\", \"age\": "
                                        "\"age\"}}", 1), 0);

    assert_int_equal(apply(test, "{\"first_name\": null}"), 0);
    assert_string_equal(test->out.data, "{}");
}

static void wrong_types_rejected(void **state)
{
    static const struct {
        const char *attributes;
        const char *expected;
    } cases[] = {
        {"{\"age\": \"forty\"}", "attribute \"age\" has the string value \"forty\", but field "
                                 "\"age\" is a number field"},
        {"{\"vip\": \"yes\"}", "field \"vip\" is a boolean field"},
        {"{\"born\": \"1815-13-10\"}", "field \"birthday\" is a date field"},
        {"{\"born\": \"2023-02-29\"}", "field \"birthday\" is a date field"},
        {"{\"seen\": \"2026-12-04T10:00:00\"}", "field \"last_seen\" is a datetime field"},
        {"{\"seen\": 1.5}", "field \"last_seen\" is a datetime field"},
        {"{\"first_name\": [\"A\"]}", "field \"firstname\" is a string field"},
        {"{\"first_name\": {\"a\": 1}}", "field \"firstname\" is a string field"},
    };
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"firstname\": \"first_name\", \"age\": "
                                        "\"age\", \"vip\": \"vip\", \"birthday\": \"born\", "
                                        "\"last_seen\": \"seen\"}}", 1), 0);
    wharf_buffer_append_string(&test->out, "keep");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *attributes = json_tokener_parse(cases[i].attributes);
        int rc;

        test->out.length = 4;
        rc = wharf_field_mapping_append_object(&test->mapping, attributes, &test->out,
                                               test->text, sizeof(test->text));
        json_object_put(attributes);

        print_message("case %zu: %s\n", i, test->text);
        assert_int_equal(rc, -EINVAL);
        assert_non_null(strstr(test->text, cases[i].expected));
        assert_int_equal(test->out.length, 4);
        assert_string_equal(test->out.data, "keep");
    }
}

static void dates_accepted(void **state)
{
    static const char *const accepted[] = {
        "\"2024-02-29\"", "\"2026-12-04T10:00:00Z\"", "\"2026-12-04T23:59:60.123+01:00\"",
        "\"2026-12-04t10:00:00-05:30\"",
    };
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"last_seen\": \"seen\", \"birthday\": "
                                        "\"born\"}}", 1), 0);
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        char attributes[160];
        int is_date_only = strlen(accepted[i]) == 12;

        snprintf(attributes, sizeof(attributes), "{\"%s\": %s}",
                 is_date_only ? "born" : "seen", accepted[i]);
        print_message("case %s\n", attributes);
        assert_int_equal(apply(test, attributes), 0);
    }
}

static void string_length_limit(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"firstname\": \"first_name\"}}", 1), 0);

    assert_int_equal(apply(test, "{\"first_name\": \"0123456789\"}"), 0);
    assert_int_equal(apply(test, "{\"first_name\": \"0123456789A\"}"), -EINVAL);
    assert_non_null(strstr(test->text, "11 bytes long"));
    assert_non_null(strstr(test->text, "at most 10"));
}

static void resolve_later(void **state)
{
    mapping_case *test = *state;

    assert_int_equal(read_mapping(test, "{\"map\": {\"age\": \"age\", \"shoe_size\": "
                                        "\"shoes\"}}", 0), 0);
    assert_int_equal(test->mapping.entries[0].known, 0);

    assert_int_equal(wharf_field_mapping_resolve(&test->mapping, contact_fields,
                                                 CONTACT_FIELD_COUNT), 1);
    assert_int_equal(test->mapping.entries[0].known, 1);
    assert_int_equal(test->mapping.entries[1].known, 0);

    /* A message without the unknown field's attribute goes through. */
    assert_int_equal(apply(test, "{\"age\": 3}"), 0);
    assert_string_equal(test->out.data, "{\"age\":3}");

    assert_int_equal(apply(test, "{\"age\": 3, \"shoes\": 44}"), -EINVAL);
    assert_non_null(strstr(test->text, "field \"shoe_size\", which does not exist"));
}

static void long_value_quoted_briefly(void **state)
{
    mapping_case *test = *state;
    char attributes[400];

    assert_int_equal(read_mapping(test, "{\"map\": {\"age\": \"age\"}}", 1), 0);
    snprintf(attributes, sizeof(attributes), "{\"age\": \"%0300d\"}", 7);

    assert_int_equal(apply(test, attributes), -EINVAL);
    assert_non_null(strstr(test->text, "..."));
    assert_true(strlen(test->text) < 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(read_keeps_key_order, setup, teardown),
        cmocka_unit_test_setup_teardown(absent_setting_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_field_rejected_at_read, setup, teardown),
        cmocka_unit_test_setup_teardown(non_string_attribute_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(non_object_setting_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(values_written_by_type, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_and_null_left_out, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_types_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(dates_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(string_length_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(resolve_later, setup, teardown),
        cmocka_unit_test_setup_teardown(long_value_quoted_briefly, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
