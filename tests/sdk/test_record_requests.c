/* Unit tests for record request bodies: splitting by record count and body
 * size, and per-message results for records that are rejected or too big. */
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

#include "wharf/sdk/record_requests.h"

#define MESSAGE_MAX 16

/* A batch of messages {"n": i, "text": "..."} and the results set on it. */
struct wharf_batch {
    json_object *messages[MESSAGE_MAX];
    size_t count;
    int has_result[MESSAGE_MAX];
    wharf_result_kind kind[MESSAGE_MAX];
    char reason[MESSAGE_MAX][512];
};

static size_t batch_count(const wharf_batch *batch)
{
    return batch->count;
}

static const struct json_object *batch_message(const wharf_batch *batch, size_t index)
{
    return index < batch->count ? batch->messages[index] : NULL;
}

static int batch_has_result(const wharf_batch *batch, size_t index)
{
    return batch->has_result[index];
}

static void batch_set_result(wharf_batch *batch, size_t index, wharf_result_kind kind,
                             int status_code, int64_t retry_after_ms, const char *reason)
{
    (void)status_code;
    (void)retry_after_ms;
    batch->has_result[index] = 1;
    batch->kind[index] = kind;
    snprintf(batch->reason[index], sizeof(batch->reason[index]), "%s", reason ? reason : "");
}

static wharf_host test_host(void)
{
    wharf_host host;

    memset(&host, 0, sizeof(host));
    host.struct_size = sizeof(host);
    host.batch_count = batch_count;
    host.batch_message = batch_message;
    host.batch_has_result = batch_has_result;
    host.batch_set_result = batch_set_result;
    return host;
}

static void batch_fill(wharf_batch *batch, size_t count, const char *const *texts)
{
    memset(batch, 0, sizeof(*batch));
    for (size_t i = 0; i < count; i++) {
        batch->messages[i] = json_object_new_object();
        json_object_object_add(batch->messages[i], "n", json_object_new_int((int)i));
        json_object_object_add(batch->messages[i], "text",
                               json_object_new_string(texts != NULL ? texts[i] : "x"));
    }
    batch->count = count;
}

static void batch_free(wharf_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        json_object_put(batch->messages[i]);
}

/* Writes {"n":N}; text "skip" skips the message and "bad" rejects it, and
 * any other text is added as "t" so records can be made large. */
static int write_record(void *context, const struct json_object *message, size_t index,
                        wharf_buffer *out, char *reason, size_t reason_size)
{
    json_object *text = NULL;
    const char *value;

    (void)context;
    json_object_object_get_ex(message, "text", &text);
    value = json_object_get_string(text);
    wharf_buffer_append_format(out, "{\"n\":%zu", index);
    if (strcmp(value, "skip") == 0) {
        snprintf(reason, reason_size, "message %zu has no email", index);
        return WHARF_RECORD_SKIP;
    }
    if (strcmp(value, "bad") == 0) {
        snprintf(reason, reason_size, "message %zu is bad", index);
        return -EINVAL;
    }
    if (strcmp(value, "x") != 0)
        wharf_buffer_append_format(out, ",\"t\":\"%s\"", value);
    return wharf_buffer_append_char(out, '}');
}

static size_t *all_indexes(size_t count)
{
    size_t *indexes = malloc(count * sizeof(*indexes));

    for (size_t i = 0; i < count; i++)
        indexes[i] = i;
    return indexes;
}

static void split_by_record_count(void **state)
{
    wharf_record_format format = {"{\"inputs\":[", "]}", 2, 0};
    wharf_record_requests requests = {0};
    wharf_host host = test_host();
    wharf_batch batch;
    size_t *indexes = all_indexes(5);

    (void)state;
    batch_fill(&batch, 5, NULL);

    assert_int_equal(wharf_record_requests_build(&host, &batch, indexes, 5, &format,
                                                 write_record, NULL, &requests), 0);

    assert_int_equal(requests.count, 3);
    assert_string_equal(requests.requests[0].body.data, "{\"inputs\":[{\"n\":0},{\"n\":1}]}");
    assert_string_equal(requests.requests[1].body.data, "{\"inputs\":[{\"n\":2},{\"n\":3}]}");
    assert_string_equal(requests.requests[2].body.data, "{\"inputs\":[{\"n\":4}]}");
    assert_int_equal(requests.requests[2].count, 1);
    assert_int_equal(requests.requests[2].indexes[0], 4);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(batch.has_result[i], 0);

    wharf_record_requests_free(&requests);
    free(indexes);
    batch_free(&batch);
}

static void rejected_records_get_results(void **state)
{
    static const char *const texts[] = {"x", "skip", "bad", "x", "skip"};
    wharf_record_format format = {"[", "]", 0, 0};
    wharf_record_requests requests = {0};
    wharf_host host = test_host();
    wharf_batch batch;
    size_t *indexes = all_indexes(5);

    (void)state;
    batch_fill(&batch, 5, texts);

    assert_int_equal(wharf_record_requests_build(&host, &batch, indexes, 5, &format,
                                                 write_record, NULL, &requests), 0);

    assert_int_equal(requests.count, 1);
    assert_string_equal(requests.requests[0].body.data, "[{\"n\":0},{\"n\":3}]");
    assert_int_equal(requests.requests[0].count, 2);
    assert_int_equal(requests.requests[0].indexes[1], 3);
    assert_int_equal(batch.kind[1], WHARF_RESULT_SKIP);
    assert_string_equal(batch.reason[1], "message 1 has no email");
    assert_int_equal(batch.kind[2], WHARF_RESULT_ERROR);
    assert_string_equal(batch.reason[2], "message 2 is bad");
    assert_int_equal(batch.kind[4], WHARF_RESULT_SKIP);
    assert_int_equal(batch.has_result[0] + batch.has_result[3], 0);

    wharf_record_requests_free(&requests);
    free(indexes);
    batch_free(&batch);
}

static void split_by_body_size(void **state)
{
    /* Each record {"n":i,"t":"aaaaaaaaaa"} is 24 bytes; the frame "[" "]" is 2,
     * so two records and their comma make 51 bytes. */
    static const char *const texts[] = {"aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa"};
    wharf_record_format format = {"[", "]", 0, 51};
    wharf_record_requests requests = {0};
    wharf_host host = test_host();
    wharf_batch batch;
    size_t *indexes = all_indexes(3);

    (void)state;
    batch_fill(&batch, 3, texts);

    assert_int_equal(wharf_record_requests_build(&host, &batch, indexes, 3, &format,
                                                 write_record, NULL, &requests), 0);

    assert_int_equal(requests.count, 2);
    assert_int_equal(requests.requests[0].count, 2);
    assert_int_equal(requests.requests[0].body.length, 51);
    assert_int_equal(requests.requests[1].count, 1);
    for (size_t i = 0; i < requests.count; i++)
        assert_true(requests.requests[i].body.length <= 51);

    wharf_record_requests_free(&requests);
    free(indexes);
    batch_free(&batch);
}

static void oversize_record_is_error(void **state)
{
    static const char *const texts[] = {"x", "this text makes the record far too long", "x"};
    wharf_record_format format = {"[", "]", 0, 30};
    wharf_record_requests requests = {0};
    wharf_host host = test_host();
    wharf_batch batch;
    size_t *indexes = all_indexes(3);

    (void)state;
    batch_fill(&batch, 3, texts);

    assert_int_equal(wharf_record_requests_build(&host, &batch, indexes, 3, &format,
                                                 write_record, NULL, &requests), 0);

    assert_int_equal(requests.count, 1);
    assert_string_equal(requests.requests[0].body.data, "[{\"n\":0},{\"n\":2}]");
    assert_int_equal(batch.kind[1], WHARF_RESULT_ERROR);
    assert_non_null(strstr(batch.reason[1], "record is 53 bytes, more than the 28 bytes"));

    wharf_record_requests_free(&requests);
    free(indexes);
    batch_free(&batch);
}

static void messages_with_results_left_out(void **state)
{
    wharf_record_format format = {"[", "]", 0, 0};
    wharf_record_requests requests = {0};
    wharf_host host = test_host();
    wharf_batch batch;
    size_t indexes[] = {2, 0};

    (void)state;
    batch_fill(&batch, 3, NULL);
    batch.has_result[0] = 1;

    assert_int_equal(wharf_record_requests_build(&host, &batch, indexes, 2, &format,
                                                 write_record, NULL, &requests), 0);

    assert_int_equal(requests.count, 1);
    assert_string_equal(requests.requests[0].body.data, "[{\"n\":2}]");

    wharf_record_requests_free(&requests);
    batch_free(&batch);
}

static void nothing_written_no_request(void **state)
{
    static const char *const texts[] = {"skip", "bad"};
    wharf_record_format format = {"[", "]", 0, 0};
    wharf_record_requests requests = {0};
    wharf_host host = test_host();
    wharf_batch batch;
    size_t *indexes = all_indexes(2);

    (void)state;
    batch_fill(&batch, 2, texts);

    assert_int_equal(wharf_record_requests_build(&host, &batch, indexes, 2, &format,
                                                 write_record, NULL, &requests), 0);
    assert_int_equal(requests.count, 0);

    wharf_record_requests_free(&requests);
    free(indexes);
    batch_free(&batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_by_record_count),
        cmocka_unit_test(rejected_records_get_results),
        cmocka_unit_test(split_by_body_size),
        cmocka_unit_test(oversize_record_is_error),
        cmocka_unit_test(messages_with_results_left_out),
        cmocka_unit_test(nothing_written_no_request),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
