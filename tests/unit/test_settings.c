/* Unit tests of connector settings validation against a schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <string.h>

#include "plugin_loader.h"
#include "settings.h"

static const wharf_setting schema[] = {
    {"url", WHARF_SETTING_STRING, 1, 0, NULL, "Where to send."},
    {"token", WHARF_SETTING_STRING, 0, 1, NULL, "Bearer token."},
    {"batch_size", WHARF_SETTING_INTEGER, 0, 0, "100", "Messages per request."},
    {"verbose", WHARF_SETTING_BOOLEAN, 0, 0, "false", "Log more."},
    {"headers", WHARF_SETTING_STRING_MAP, 0, 1, "{}", "Extra headers."},
    {"fields", WHARF_SETTING_STRING_LIST, 0, 0, NULL, "Fields to send."},
};

static plugin test_plugin;

static int setup(void **state)
{
    (void)state;
    memset(&test_plugin, 0, sizeof(test_plugin));
    test_plugin.name = "test";
    test_plugin.descriptor.settings = schema;
    test_plugin.descriptor.settings_count = sizeof(schema) / sizeof(schema[0]);
    return 0;
}

/* Validate text; returns the validated object or NULL with error filled. */
static json_object *validate(const char *text, json_object *previous, char *error,
                             size_t error_size)
{
    json_object *input = json_tokener_parse(text);
    json_object *validated = NULL;

    assert_non_null(input);
    settings_validate(&test_plugin, input, previous, &validated, error, error_size);
    json_object_put(input);
    return validated;
}

static void defaults_filled_in(void **state)
{
    char error[512] = "";
    json_object *value;
    json_object *validated = validate("{\"url\": \"http://127.0.0.1/\"}", NULL, error,
                                      sizeof(error));

    (void)state;
    assert_non_null(validated);
    assert_true(json_object_object_get_ex(validated, "batch_size", &value));
    assert_int_equal(json_object_get_int(value), 100);
    assert_true(json_object_object_get_ex(validated, "verbose", &value));
    assert_false(json_object_get_boolean(value));
    assert_false(json_object_object_get_ex(validated, "fields", NULL));
    json_object_put(validated);
}

static void unknown_setting_named(void **state)
{
    char error[512] = "";

    (void)state;
    assert_null(validate("{\"url\": \"x\", \"colour\": 1}", NULL, error, sizeof(error)));
    assert_non_null(strstr(error, "unknown setting \"colour\""));
    assert_non_null(strstr(error, "url, token, batch_size"));
}

static void wrong_types_named(void **state)
{
    static const struct {
        const char *input;
        const char *expected;
    } cases[] = {
        {"{\"url\": 5}", "setting \"url\" must be a string, got integer"},
        {"{\"url\": \"x\", \"batch_size\": \"10\"}", "\"batch_size\" must be an integer, got string"},
        {"{\"url\": \"x\", \"batch_size\": 1.5}", "must be an integer, got number with a fraction"},
        {"{\"url\": \"x\", \"verbose\": 1}", "\"verbose\" must be true or false"},
        {"{\"url\": \"x\", \"headers\": {\"A\": 1}}", "but \"A\" is integer"},
        {"{\"url\": \"x\", \"fields\": [\"a\", 2]}", "but item 1 is integer"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char error[512] = "";
        assert_null(validate(cases[i].input, NULL, error, sizeof(error)));
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("input %s: error \"%s\" lacks \"%s\"", cases[i].input, error,
                     cases[i].expected);
    }
}

static void missing_required_named(void **state)
{
    char error[512] = "";

    (void)state;
    assert_null(validate("{}", NULL, error, sizeof(error)));
    assert_non_null(strstr(error, "missing required setting \"url\""));
    assert_non_null(strstr(error, "Where to send."));
}

static void omitted_secret_kept(void **state)
{
    char error[512] = "";
    json_object *previous = validate("{\"url\": \"x\", \"token\": \"s3cret\"}", NULL, error,
                                     sizeof(error));
    json_object *updated;
    json_object *value;

    (void)state;
    assert_non_null(previous);
    updated = validate("{\"url\": \"y\"}", previous, error, sizeof(error));
    assert_non_null(updated);
    assert_true(json_object_object_get_ex(updated, "token", &value));
    assert_string_equal(json_object_get_string(value), "s3cret");
    json_object_put(updated);

    /* An explicit null removes the secret. */
    updated = validate("{\"url\": \"y\", \"token\": null}", previous, error, sizeof(error));
    assert_non_null(updated);
    assert_false(json_object_object_get_ex(updated, "token", NULL));
    json_object_put(updated);
    json_object_put(previous);
}

static void public_copy_hides_secrets(void **state)
{
    char error[512] = "";
    json_object *validated = validate(
        "{\"url\": \"x\", \"token\": \"s3cret\", \"headers\": {\"X-Key\": \"k\"}}", NULL, error,
        sizeof(error));
    json_object *copy;
    json_object *names;
    const char *text;

    (void)state;
    assert_non_null(validated);
    copy = settings_public_copy(&test_plugin, validated);
    text = json_object_to_json_string(copy);
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "X-Key"));
    assert_non_null(strstr(text, "\"url\""));

    names = settings_secret_names(&test_plugin, validated);
    assert_int_equal(json_object_array_length(names), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(names, 0)), "token");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(names, 1)), "headers");

    json_object_put(names);
    json_object_put(copy);
    json_object_put(validated);
}

static void non_object_rejected(void **state)
{
    char error[512] = "";

    (void)state;
    assert_null(validate("[1, 2]", NULL, error, sizeof(error)));
    assert_non_null(strstr(error, "\"settings\" must be an object, got array"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_filled_in, setup),
        cmocka_unit_test_setup(unknown_setting_named, setup),
        cmocka_unit_test_setup(wrong_types_named, setup),
        cmocka_unit_test_setup(missing_required_named, setup),
        cmocka_unit_test_setup(omitted_secret_kept, setup),
        cmocka_unit_test_setup(public_copy_hides_secrets, setup),
        cmocka_unit_test_setup(non_object_rejected, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
