/* Per-message results in the webhook's 2xx response bodies: the webhook
 * plugin (build/plugins/webhook.so) run through the SDK harness against a
 * loopback recording server that responds with scripted bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recording_server.h"
#include "wharf/sdk/harness.h"

#define WEBHOOK_PATH WHARF_TEST_PLUGINS_DIR "/webhook.so"
#define JSON_HEADER "Content-Type: application/json\r\n"
#define MESSAGES_MAX 8

typedef struct fixture {
    recording_server *server;
    wharf_harness_plugin *plugin;
    wharf_harness *harness;
    char url[128];
    char *messages[MESSAGES_MAX];
    size_t message_count;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char error[512];

    if (f == NULL)
        return -1;
    f->server = recording_server_start();
    if (f->server == NULL)
        return -1;
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u/hook",
             recording_server_port(f->server));
    if (wharf_harness_plugin_open(WEBHOOK_PATH, &f->plugin, error, sizeof(error)) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", WEBHOOK_PATH, error);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    size_t i;

    wharf_harness_destroy(f->harness);
    wharf_harness_plugin_close(f->plugin);
    recording_server_stop(f->server);
    for (i = 0; i < f->message_count; i++)
        free(f->messages[i]);
    free(f);
    return 0;
}

/* Create the webhook with batch_size, then send count sample users. */
static void send_users(fixture *f, size_t batch_size, size_t count)
{
    char settings[256];
    char error[512] = "";
    size_t i;
    int rc;

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": %zu}", f->url,
             batch_size);
    rc = wharf_harness_create(wharf_harness_plugin_descriptor(f->plugin), settings,
                              &f->harness, error, sizeof(error));
    if (rc != 0)
        fail_msg("create failed (%d): %s", rc, error);

    assert_true(count <= MESSAGES_MAX);
    for (i = 0; i < count; i++) {
        char user_id[32];

        snprintf(user_id, sizeof(user_id), "u%zu", i);
        f->messages[i] = wharf_harness_sample_user_message(user_id, NULL);
        assert_non_null(f->messages[i]);
        f->message_count++;
    }

    rc = wharf_harness_send(f->harness, (const char *const *)f->messages, f->message_count);
    if (rc != 0)
        fail_msg("send returned %d; violations:\n%s", rc, wharf_harness_violations(f->harness));
    assert_string_equal(wharf_harness_violations(f->harness), "");
}

static const wharf_harness_result *result(fixture *f, size_t index)
{
    const wharf_harness_result *found = wharf_harness_result_at(f->harness, index);

    assert_non_null(found);
    assert_true(found->has_result);
    return found;
}

static void assert_reason_contains(const wharf_harness_result *found, const char *expected)
{
    if (found->reason == NULL)
        fail_msg("reason is NULL, expected one containing \"%s\"", expected);
    if (strstr(found->reason, expected) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", found->reason, expected);
}

static void results_set_each_message(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"results\": ["
                          "{\"status\": \"ok\"},"
                          "{\"status\": \"retry\", \"reason\": \"busy\", "
                          "\"retry_after_seconds\": 7},"
                          "{\"status\": \"error\", \"reason\": \"invalid email\"},"
                          "{\"status\": \"skip\", \"reason\": \"unsubscribed\"}]}",
                          0);
    send_users(f, 10, 4);

    assert_int_equal(recording_server_request_count(f->server), 1);
    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(result(f, 0)->status_code, 200);

    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 1)->retry_after_ms, 7000);
    assert_string_equal(result(f, 1)->reason, "HTTP 200: result 2 of 4: busy");

    assert_int_equal(result(f, 2)->kind, WHARF_RESULT_ERROR);
    assert_int_equal(result(f, 2)->status_code, 200);
    assert_string_equal(result(f, 2)->reason, "HTTP 200: result 3 of 4: invalid email");

    assert_int_equal(result(f, 3)->kind, WHARF_RESULT_SKIP);
    assert_string_equal(result(f, 3)->reason, "HTTP 200: result 4 of 4: unsubscribed");
}

static void multi_status_without_reason_gets_one(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 207, JSON_HEADER,
                          "{\"results\": [{\"status\": \"retry\"}, {\"status\": \"ok\"}]}", 0);
    send_users(f, 10, 2);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 0)->status_code, 207);
    assert_int_equal(result(f, 0)->retry_after_ms, -1);
    assert_string_equal(result(f, 0)->reason,
                        "HTTP 207: result 1 of 2: status \"retry\" without a reason");
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_SUCCESS);
}

static void results_follow_each_chunk(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"results\": [{\"status\": \"ok\"}, {\"status\": \"error\", "
                          "\"reason\": \"first chunk\"}]}",
                          0);
    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"results\": [{\"status\": \"skip\", \"reason\": \"second chunk\"}, "
                          "{\"status\": \"ok\"}]}",
                          0);
    recording_server_push(f->server, 200, JSON_HEADER, "{\"results\": [{\"status\": \"ok\"}]}",
                          0);
    send_users(f, 2, 5);

    assert_int_equal(recording_server_request_count(f->server), 3);
    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_ERROR);
    assert_string_equal(result(f, 1)->reason, "HTTP 200: result 2 of 2: first chunk");
    assert_int_equal(result(f, 2)->kind, WHARF_RESULT_SKIP);
    assert_string_equal(result(f, 2)->reason, "HTTP 200: result 1 of 2: second chunk");
    assert_int_equal(result(f, 3)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(result(f, 4)->kind, WHARF_RESULT_SUCCESS);
}

static void wrong_result_count_fails_every_message(void **state)
{
    fixture *f = *state;
    size_t i;

    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"results\": [{\"status\": \"ok\"}, {\"status\": \"ok\"}]}", 0);
    send_users(f, 10, 3);

    for (i = 0; i < 3; i++) {
        assert_int_equal(result(f, i)->kind, WHARF_RESULT_ERROR);
        assert_int_equal(result(f, i)->status_code, 200);
        assert_reason_contains(result(f, i), "do not match the request");
        assert_reason_contains(result(f, i),
                               "the request carried 3 messages but \"results\" has 2 entries");
    }
}

static void unknown_status_fails_every_message(void **state)
{
    fixture *f = *state;
    size_t i;

    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"results\": [{\"status\": \"ok\"}, {\"status\": \"maybe\"}]}", 0);
    send_users(f, 10, 2);

    for (i = 0; i < 2; i++) {
        assert_int_equal(result(f, i)->kind, WHARF_RESULT_ERROR);
        assert_reason_contains(result(f, i),
                               "entry 2 has the unknown status \"maybe\"; use ok, retry, "
                               "error or skip");
    }
}

/* Reasons quote the destination's text with its control characters
 * replaced, so that each reason stays one line in logs. */
static void assert_reason_on_one_line(const wharf_harness_result *found)
{
    const char *at;

    assert_non_null(found->reason);
    for (at = found->reason; *at != '\0'; at++) {
        if ((unsigned char)*at < 0x20 || *at == 0x7f)
            fail_msg("reason \"%s\" contains the control character 0x%02x", found->reason,
                     (unsigned char)*at);
    }
}

static void unknown_status_quoted_on_one_line(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"results\": [{\"status\": \"ok\"}, {\"status\": "
                          "\"bad\\nERROR forged\\tline\\r\"}]}",
                          0);
    send_users(f, 10, 2);

    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_ERROR);
    assert_reason_contains(result(f, 1),
                           "entry 2 has the unknown status \"bad ERROR forged line \"");
    assert_reason_on_one_line(result(f, 1));
}

static void content_type_quoted_on_one_line(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 200, "Content-Type: application/x\001forged+json\r\n",
                          "not json", 0);
    send_users(f, 10, 1);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_reason_contains(result(f, 0), "declares Content-Type application/x forged+json");
    assert_reason_on_one_line(result(f, 0));
}

static void malformed_entries_fail_every_message(void **state)
{
    static const struct {
        const char *body;
        const char *expected;
    } cases[] = {
        {"{\"results\": {\"status\": \"ok\"}}", "\"results\" is not an array"},
        {"{\"results\": [\"ok\"]}", "entry 1 is not a JSON object"},
        {"{\"results\": [{\"reason\": \"x\"}]}", "entry 1 has no \"status\" string"},
        {"{\"results\": [{\"status\": \"ok\", \"reason\": 5}]}",
         "entry 1 has a \"reason\" that is not a string"},
        {"{\"results\": [{\"status\": \"retry\", \"retry_after_seconds\": \"soon\"}]}",
         "entry 1 has a \"retry_after_seconds\" that is not a number"},
        {"{\"results\": [{\"status\": \"retry\", \"retry_after_seconds\": -1}]}",
         "entry 1 has \"retry_after_seconds\" -1; use 0 to 2147483647"},
    };
    fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        recording_server_push(f->server, 200, JSON_HEADER, cases[i].body, 0);
    /* batch_size 1 makes one request per message, and the server responds
     * to them in order. */
    send_users(f, 1, sizeof(cases) / sizeof(cases[0]));

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(result(f, i)->kind, WHARF_RESULT_ERROR);
        assert_reason_contains(result(f, i), cases[i].expected);
    }
}

static void error_payload_fails_every_message(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 200, JSON_HEADER, "{\"error\": \"quota exceeded\"}", 0);
    recording_server_push(f->server, 200, JSON_HEADER,
                          "{\"errors\": [{\"message\": \"bad token\"}]}", 0);
    send_users(f, 1, 2);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_ERROR);
    assert_int_equal(result(f, 0)->status_code, 200);
    assert_string_equal(result(f, 0)->reason,
                        "HTTP 200 with an error payload (\"error\"): quota exceeded");
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_ERROR);
    assert_string_equal(result(f, 1)->reason,
                        "HTTP 200 with an error payload (\"errors\"): "
                        "[{\"message\":\"bad token\"}]");
}

static void other_bodies_mean_success(void **state)
{
    static const char *const bodies[] = {
        "{\"ok\": true}", "{\"errors\": []}", "{\"error\": null}", "[1, 2]", "accepted", "",
    };
    fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        recording_server_push(f->server, 200, i == 4 ? "Content-Type: text/plain\r\n" : "",
                              bodies[i], 0);
    send_users(f, 1, sizeof(bodies) / sizeof(bodies[0]));

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(result(f, i)->kind, WHARF_RESULT_SUCCESS);
        assert_int_equal(result(f, i)->status_code, 200);
    }
}

static void invalid_json_declared_as_json_retries(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 200, JSON_HEADER, "{\"results\": [{\"status\"", 0);
    recording_server_push(f->server, 200, "Content-Type: application/problem+json\r\n",
                          "not json", 0);
    send_users(f, 1, 2);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 0)->retry_after_ms, -1);
    assert_reason_contains(result(f, 0),
                           "HTTP 200: the response declares Content-Type application/json but "
                           "its body is not valid JSON");
    assert_reason_contains(result(f, 0), "{\"results\": [{\"status\"");
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_RETRY);
    assert_reason_contains(result(f, 1), "Content-Type application/problem+json");
}

static void non_2xx_ignores_results(void **state)
{
    fixture *f = *state;

    recording_server_push(f->server, 400, JSON_HEADER,
                          "{\"results\": [{\"status\": \"ok\"}]}", 0);
    send_users(f, 10, 1);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_ERROR);
    assert_int_equal(result(f, 0)->status_code, 400);
    assert_reason_contains(result(f, 0), "HTTP 400: {\"results\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(results_set_each_message, setup, teardown),
        cmocka_unit_test_setup_teardown(multi_status_without_reason_gets_one, setup, teardown),
        cmocka_unit_test_setup_teardown(results_follow_each_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_result_count_fails_every_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unknown_status_fails_every_message, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_status_quoted_on_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(content_type_quoted_on_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_entries_fail_every_message, setup, teardown),
        cmocka_unit_test_setup_teardown(error_payload_fails_every_message, setup, teardown),
        cmocka_unit_test_setup_teardown(other_bodies_mean_success, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_json_declared_as_json_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(non_2xx_ignores_results, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
