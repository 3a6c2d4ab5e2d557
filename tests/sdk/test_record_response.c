/* Unit tests for per-record outcomes parsed from batch response bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wharf/sdk/record_response.h"

static const wharf_record_response_format hubspot_like = {
    "results", "objectWriteTraceId", "errors", "context.objectWriteTraceId", "category",
    "message"};

static const char *const keys[] = {"0", "1", "2", "3"};
#define KEY_COUNT 4

static int parse(const char *body, wharf_record_outcome *outcomes, size_t *unmatched,
                 char *reason, size_t reason_size)
{
    return wharf_record_response_parse(body, strlen(body), &hubspot_like, keys, KEY_COUNT,
                                       outcomes, unmatched, reason, reason_size);
}

static void results_and_errors(void **state)
{
    const char *body =
        "{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"51\",\"objectWriteTraceId\":\"0\"},"
        "{\"id\":\"52\",\"objectWriteTraceId\":\"3\"}],\"numErrors\":1,"
        "\"errors\":[{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\","
        "\"message\":\"Property values were not valid:\\n age\","
        "\"context\":{\"objectWriteTraceId\":[\"1\"]}}]}";
    wharf_record_outcome outcomes[KEY_COUNT];
    size_t unmatched = 99;
    char reason[256];

    (void)state;
    assert_int_equal(parse(body, outcomes, &unmatched, reason, sizeof(reason)), 0);

    assert_int_equal(outcomes[0].state, WHARF_RECORD_SUCCEEDED);
    assert_int_equal(outcomes[1].state, WHARF_RECORD_FAILED);
    assert_string_equal(outcomes[1].code, "VALIDATION_ERROR");
    assert_string_equal(outcomes[1].message, "Property values were not valid:  age");
    assert_int_equal(outcomes[2].state, WHARF_RECORD_UNLISTED);
    assert_int_equal(outcomes[3].state, WHARF_RECORD_SUCCEEDED);
    assert_int_equal(unmatched, 0);
}

static void failure_wins_over_success(void **state)
{
    const char *body =
        "{\"errors\":[{\"category\":\"X\",\"context\":{\"objectWriteTraceId\":\"2\"}}],"
        "\"results\":[{\"objectWriteTraceId\":\"2\"}]}";
    wharf_record_outcome outcomes[KEY_COUNT];
    char reason[256];

    (void)state;
    assert_int_equal(parse(body, outcomes, NULL, reason, sizeof(reason)), 0);

    assert_int_equal(outcomes[2].state, WHARF_RECORD_FAILED);
    assert_string_equal(outcomes[2].code, "X");
    assert_string_equal(outcomes[2].message, "");
}

static void unknown_keys_counted(void **state)
{
    const char *body = "{\"results\":[{\"objectWriteTraceId\":\"7\"},{\"objectWriteTraceId\":1},"
                       "{\"other\":1}, 5]}";
    wharf_record_outcome outcomes[KEY_COUNT];
    size_t unmatched = 0;
    char reason[256];

    (void)state;
    assert_int_equal(parse(body, outcomes, &unmatched, reason, sizeof(reason)), 0);

    assert_int_equal(unmatched, 1);
    assert_int_equal(outcomes[1].state, WHARF_RECORD_SUCCEEDED);
}

static void non_json_body_rejected(void **state)
{
    wharf_record_outcome outcomes[KEY_COUNT];
    char reason[256];

    (void)state;
    assert_int_equal(parse("<html>\nbusy</html>", outcomes, NULL, reason, sizeof(reason)),
                     -EINVAL);
    assert_string_equal(reason, "response body is not a JSON object: <html> busy</html>");

    assert_int_equal(parse("", outcomes, NULL, reason, sizeof(reason)), -EINVAL);
    assert_string_equal(reason, "response body is not a JSON object: (empty body)");

    assert_int_equal(parse("[1,2]", outcomes, NULL, reason, sizeof(reason)), -EINVAL);
    assert_int_equal(parse("{\"a\":1} trailing", outcomes, NULL, reason, sizeof(reason)),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(results_and_errors),
        cmocka_unit_test(failure_wins_over_success),
        cmocka_unit_test(unknown_keys_counted),
        cmocka_unit_test(non_json_body_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
