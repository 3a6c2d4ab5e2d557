/* Unit tests for the JSON writer and batch serialisation. The batch tests
 * use a minimal host table that implements only the batch functions. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "wharf/sdk/batch_json.h"
#include "wharf/sdk/json_writer.h"

/* JSON writer ------------------------------------------------------------ */

static char *write_json(const struct json_object *value)
{
    wharf_buffer buffer = WHARF_BUFFER_INIT;

    assert_int_equal(wharf_json_append(&buffer, value), 0);
    return wharf_buffer_detach(&buffer, NULL);
}

static void round_trip_keeps_value(void **state)
{
    const char *text =
        "{\"type\":\"user\",\"user\":{\"id\":\"u1\",\"email\":\"a@example.test\","
        "\"attributes\":{\"score\":12.75,\"count\":-3,\"vip\":true,\"nickname\":null,"
        "\"tags\":[\"a\",\"b\",[1,2,{}]],\"nested\":{\"deep\":{\"x\":[]}}}},"
        "\"account\":null,\"is_export\":false}";
    struct json_object *original = json_tokener_parse(text);
    struct json_object *parsed;
    char *written;

    (void)state;
    assert_non_null(original);
    written = write_json(original);
    parsed = json_tokener_parse(written);
    assert_non_null(parsed);
    assert_true(json_object_equal(original, parsed));
    assert_null(strchr(written, ' '));

    json_object_put(parsed);
    json_object_put(original);
    free(written);
}

static void strings_are_escaped(void **state)
{
    struct json_object *value =
        json_object_new_string_len("q\"b\\s/\b\f\n\r\t\x01\x1f caf\xc3\xa9", 19);
    char *written;

    (void)state;
    written = write_json(value);
    assert_string_equal(written, "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f caf\xc3\xa9\"");
    free(written);
    json_object_put(value);
}

static void string_with_nul_byte(void **state)
{
    struct json_object *value = json_object_new_string_len("a\0b", 3);
    char *written;

    (void)state;
    written = write_json(value);
    assert_string_equal(written, "\"a\\u0000b\"");
    free(written);
    json_object_put(value);
}

static void numbers_are_exact(void **state)
{
    static const struct {
        const char *input;
        const char *expected;
    } cases[] = {
        {"0", "0"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"18446744073709551615", "18446744073709551615"},
        {"0.1", "0.1"},
        {"1.0", "1.0"},
        {"-2.5e-7", "-2.5e-07"},
        {"1e300", "1e+300"},
        {"123456789.125", "123456789.125"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *value = json_tokener_parse(cases[i].input);
        char *written = write_json(value);
        struct json_object *back = json_tokener_parse(written);

        assert_true(json_object_equal(value, back));
        assert_string_equal(written, cases[i].expected);
        json_object_put(back);
        json_object_put(value);
        free(written);
    }
}

static void non_finite_doubles_become_null(void **state)
{
    struct json_object *value = json_object_new_double(NAN);
    char *written = write_json(value);

    (void)state;
    assert_string_equal(written, "null");
    free(written);
    json_object_put(value);
}

static struct json_object *nested_arrays(unsigned depth)
{
    struct json_object *value = json_object_new_array();
    unsigned i;

    for (i = 1; i < depth; i++) {
        struct json_object *outer = json_object_new_array();

        json_object_array_add(outer, value);
        value = outer;
    }
    return value;
}

static void deep_nesting_is_rejected(void **state)
{
    struct json_object *too_deep = nested_arrays(WHARF_JSON_MAX_DEPTH + 2);
    struct json_object *deep_enough = nested_arrays(WHARF_JSON_MAX_DEPTH + 1);
    wharf_buffer buffer = WHARF_BUFFER_INIT;

    (void)state;
    assert_int_equal(wharf_buffer_append_string(&buffer, "prefix"), 0);
    assert_int_equal(wharf_json_append(&buffer, too_deep), -EINVAL);
    assert_string_equal(buffer.data, "prefix");
    assert_int_equal(buffer.length, 6);

    assert_int_equal(wharf_json_append(&buffer, deep_enough), 0);
    assert_int_equal(buffer.length, 6 + 2 * (WHARF_JSON_MAX_DEPTH + 1));

    wharf_buffer_free(&buffer);
    json_object_put(too_deep);
    json_object_put(deep_enough);
}

/* Batch serialisation ---------------------------------------------------- */

struct wharf_batch {
    struct json_object *messages[8];
    size_t count;
    int has_result[8];
    wharf_result_kind kind[8];
    char reason[8][128];
};

static size_t test_batch_count(const wharf_batch *batch)
{
    return batch->count;
}

static const struct json_object *test_batch_message(const wharf_batch *batch, size_t index)
{
    return index < batch->count ? batch->messages[index] : NULL;
}

static int test_batch_has_result(const wharf_batch *batch, size_t index)
{
    return batch->has_result[index];
}

static void test_batch_set_result(wharf_batch *batch, size_t index, wharf_result_kind kind,
                                  int status_code, int64_t retry_after_ms, const char *reason)
{
    (void)status_code;
    (void)retry_after_ms;
    batch->has_result[index] = 1;
    batch->kind[index] = kind;
    snprintf(batch->reason[index], sizeof(batch->reason[index]), "%s", reason);
}

static wharf_host test_host(void)
{
    wharf_host host;

    memset(&host, 0, sizeof(host));
    host.struct_size = sizeof(host);
    host.batch_count = test_batch_count;
    host.batch_message = test_batch_message;
    host.batch_has_result = test_batch_has_result;
    host.batch_set_result = test_batch_set_result;
    return host;
}

static void batch_fill(wharf_batch *batch, size_t count)
{
    size_t i;

    memset(batch, 0, sizeof(*batch));
    batch->count = count;
    for (i = 0; i < count; i++) {
        char text[64];

        snprintf(text, sizeof(text), "{\"message_id\":\"m%zu\"}", i);
        batch->messages[i] = json_tokener_parse(text);
    }
}

static void batch_release(wharf_batch *batch)
{
    size_t i;

    for (i = 0; i < batch->count; i++)
        json_object_put(batch->messages[i]);
}

static void pending_json_skips_results(void **state)
{
    wharf_host host = test_host();
    wharf_batch batch;
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    size_t written = 99;

    (void)state;
    batch_fill(&batch, 4);
    batch.has_result[1] = 1;

    assert_int_equal(wharf_batch_append_pending_json(&host, &batch, &buffer, &written), 0);
    assert_string_equal(buffer.data,
                        "[{\"message_id\":\"m0\"},{\"message_id\":\"m2\"},{\"message_id\":\"m3\"}]");
    assert_int_equal(written, 3);

    wharf_buffer_free(&buffer);
    batch_release(&batch);
}

static void pending_json_of_all_done_batch(void **state)
{
    wharf_host host = test_host();
    wharf_batch batch;
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    size_t written = 99;

    (void)state;
    batch_fill(&batch, 2);
    batch.has_result[0] = 1;
    batch.has_result[1] = 1;

    assert_int_equal(wharf_batch_append_pending_json(&host, &batch, &buffer, &written), 0);
    assert_string_equal(buffer.data, "[]");
    assert_int_equal(written, 0);

    wharf_buffer_free(&buffer);
    batch_release(&batch);
}

static void pending_indexes_in_order(void **state)
{
    wharf_host host = test_host();
    wharf_batch batch;
    size_t *indexes = NULL;
    size_t count = 0;

    (void)state;
    batch_fill(&batch, 5);
    batch.has_result[0] = 1;
    batch.has_result[3] = 1;

    assert_int_equal(wharf_batch_pending_indexes(&host, &batch, &indexes, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(indexes[0], 1);
    assert_int_equal(indexes[1], 2);
    assert_int_equal(indexes[2], 4);
    free(indexes);

    batch.has_result[1] = batch.has_result[2] = batch.has_result[4] = 1;
    assert_int_equal(wharf_batch_pending_indexes(&host, &batch, &indexes, &count), 0);
    assert_int_equal(count, 0);
    assert_null(indexes);

    batch_release(&batch);
}

static void json_array_of_chosen_indexes(void **state)
{
    wharf_host host = test_host();
    wharf_batch batch;
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    const size_t chosen[] = {3, 1};
    size_t written = 0;

    (void)state;
    batch_fill(&batch, 4);
    assert_int_equal(wharf_buffer_append_string(&buffer, "body="), 0);
    assert_int_equal(wharf_batch_append_json_array(&host, &batch, chosen, 2, &buffer, &written),
                     0);
    assert_string_equal(buffer.data, "body=[{\"message_id\":\"m3\"},{\"message_id\":\"m1\"}]");
    assert_int_equal(written, 2);

    wharf_buffer_free(&buffer);
    batch_release(&batch);
}

static void unencodable_message_gets_error(void **state)
{
    wharf_host host = test_host();
    wharf_batch batch;
    wharf_buffer buffer = WHARF_BUFFER_INIT;
    size_t written = 0;

    (void)state;
    batch_fill(&batch, 3);
    json_object_put(batch.messages[0]);
    batch.messages[0] = nested_arrays(WHARF_JSON_MAX_DEPTH + 5);

    assert_int_equal(wharf_batch_append_pending_json(&host, &batch, &buffer, &written), 0);
    assert_string_equal(buffer.data, "[{\"message_id\":\"m1\"},{\"message_id\":\"m2\"}]");
    assert_int_equal(written, 2);
    assert_true(batch.has_result[0]);
    assert_int_equal(batch.kind[0], WHARF_RESULT_ERROR);
    assert_non_null(strstr(batch.reason[0], "nesting too deep"));
    assert_false(batch.has_result[1]);

    wharf_buffer_free(&buffer);
    batch_release(&batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_keeps_value),
        cmocka_unit_test(strings_are_escaped),
        cmocka_unit_test(string_with_nul_byte),
        cmocka_unit_test(numbers_are_exact),
        cmocka_unit_test(non_finite_doubles_become_null),
        cmocka_unit_test(deep_nesting_is_rejected),
        cmocka_unit_test(pending_json_skips_results),
        cmocka_unit_test(pending_json_of_all_done_batch),
        cmocka_unit_test(pending_indexes_in_order),
        cmocka_unit_test(json_array_of_chosen_indexes),
        cmocka_unit_test(unencodable_message_gets_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
