/* The webhook plugin (build/plugins/webhook.so) run through the SDK harness
 * against a loopback recording server. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "recording_server.h"
#include "wharf/sdk/harness.h"

#define WEBHOOK_PATH WHARF_TEST_PLUGINS_DIR "/webhook.so"

typedef struct fixture {
    recording_server *server;
    wharf_harness_plugin *plugin;
    wharf_harness *harness;
    char url[128];
    char *messages[1000];
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

static const wharf_plugin *descriptor(fixture *f)
{
    return wharf_harness_plugin_descriptor(f->plugin);
}

/* Create the harness with settings_json, or fail the test with the error. */
static void create(fixture *f, const char *settings_json)
{
    char error[512] = "";
    int rc = wharf_harness_create(descriptor(f), settings_json, &f->harness, error,
                                  sizeof(error));

    if (rc != 0)
        fail_msg("create failed (%d): %s", rc, error);
}

/* Expect create to fail with a message containing expected. */
static void create_fails(fixture *f, const char *settings_json, const char *expected)
{
    char error[512] = "";
    wharf_harness *harness = NULL;
    int rc = wharf_harness_create(descriptor(f), settings_json, &harness, error, sizeof(error));

    assert_int_not_equal(rc, 0);
    assert_null(harness);
    if (strstr(error, expected) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", error, expected);
}

static void add_messages(fixture *f, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        char user_id[32];

        snprintf(user_id, sizeof(user_id), "u%zu", f->message_count);
        f->messages[f->message_count] = wharf_harness_sample_user_message(user_id, NULL);
        assert_non_null(f->messages[f->message_count]);
        f->message_count++;
    }
}

static void send_all(fixture *f)
{
    int rc = wharf_harness_send(f->harness, (const char *const *)f->messages, f->message_count);

    if (rc != 0)
        fail_msg("send returned %d; violations:\n%s", rc, wharf_harness_violations(f->harness));
}

static const wharf_harness_result *result(fixture *f, size_t index)
{
    const wharf_harness_result *found = wharf_harness_result_at(f->harness, index);

    assert_non_null(found);
    assert_true(found->has_result);
    return found;
}

static void assert_request_body_ids(fixture *f, size_t request_index, const char *ids)
{
    recorded_request request;
    struct json_object *body;
    char joined[256] = "";
    size_t i;

    assert_int_equal(recording_server_request(f->server, request_index, &request), 0);
    body = json_tokener_parse(request.body);
    assert_non_null(body);
    assert_true(json_object_is_type(body, json_type_array));
    for (i = 0; i < json_object_array_length(body); i++) {
        struct json_object *user;
        struct json_object *id;

        assert_true(json_object_object_get_ex(json_object_array_get_idx(body, i), "user", &user));
        assert_true(json_object_object_get_ex(user, "id", &id));
        if (i > 0)
            strcat(joined, ",");
        strcat(joined, json_object_get_string(id));
    }
    assert_string_equal(joined, ids);
    json_object_put(body);
    recorded_request_free(&request);
}

static void descriptor_matches_contract(void **state)
{
    const wharf_plugin *plugin = descriptor(*state);
    size_t i;

    assert_string_equal(plugin->header.name, "webhook");
    assert_string_equal(plugin->header.version, "1.0.0");
    assert_int_equal(plugin->header.abi_major, 1);
    assert_int_equal(plugin->header.abi_minor, 1);
    assert_int_equal(plugin->batch_policy, WHARF_BATCH_IGNORES_WHITELIST);
    assert_int_equal(plugin->entity_types, WHARF_ENTITY_USER | WHARF_ENTITY_ACCOUNT);
    assert_int_equal(plugin->max_batch_size, 1000);
    assert_non_null(plugin->encode);
    assert_int_equal(plugin->settings_count, 4);

    assert_string_equal(plugin->settings[0].name, "url");
    assert_int_equal(plugin->settings[0].type, WHARF_SETTING_STRING);
    assert_true(plugin->settings[0].required);
    assert_string_equal(plugin->settings[1].name, "headers");
    assert_int_equal(plugin->settings[1].type, WHARF_SETTING_STRING_MAP);
    assert_true(plugin->settings[1].secret);
    assert_string_equal(plugin->settings[1].default_json, "{}");
    assert_string_equal(plugin->settings[2].name, "batch_size");
    assert_int_equal(plugin->settings[2].type, WHARF_SETTING_INTEGER);
    assert_string_equal(plugin->settings[2].default_json, "100");
    assert_string_equal(plugin->settings[3].name, "timeout_ms");
    assert_string_equal(plugin->settings[3].default_json, "10000");
    for (i = 0; i < plugin->settings_count; i++) {
        assert_non_null(plugin->settings[i].help);
        assert_true(strlen(plugin->settings[i].help) > 20);
    }
}

static void create_rejects_bad_url(void **state)
{
    fixture *f = *state;

    create_fails(f, "{}", "setting \"url\" is required");
    create_fails(f, "{\"url\": \"ftp://example.test/x\"}",
                 "setting \"url\" must start with http:// or https://");
    create_fails(f, "{\"url\": \"example.test/hook\"}",
                 "setting \"url\" must start with http:// or https://");
    create_fails(f, "{\"url\": \"http://\"}", "setting \"url\" has no host name");
    create_fails(f, "{\"url\": \"https:///path\"}", "setting \"url\" has no host name");
    create_fails(f, "{\"url\": \"http://127.0.0.1/a b\"}",
                 "setting \"url\" contains a space or control character at position 18");
    create_fails(f, "{\"url\": 5}", "setting \"url\" must be a string, got integer");
}

static void create_rejects_batch_size_out_of_range(void **state)
{
    fixture *f = *state;
    char settings[256];

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": 0}", f->url);
    create_fails(f, settings, "setting \"batch_size\" must be between 1 and 1000 messages, got 0");
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": 1001}", f->url);
    create_fails(f, settings, "setting \"batch_size\" must be between 1 and 1000 messages, got 1001");
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": \"10\"}", f->url);
    create_fails(f, settings, "setting \"batch_size\" must be an integer, got string");
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"timeout_ms\": 0}", f->url);
    create_fails(f, settings, "setting \"timeout_ms\" must be between 1 and 600000 milliseconds");
}

static void create_rejects_bad_headers_without_echoing_values(void **state)
{
    fixture *f = *state;
    char settings[256];
    char error[512] = "";
    wharf_harness *harness = NULL;

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"headers\": {\"Bad Name\": \"x\"}}",
             f->url);
    create_fails(f, settings, "setting \"headers\" has an invalid header name \"Bad Name\"");

    snprintf(settings, sizeof(settings),
             "{\"url\": \"%s\", \"headers\": {\"X-Token\": \"s3cr3t\\r\\nX-Evil: 1\"}}", f->url);
    assert_int_not_equal(wharf_harness_create(descriptor(f), settings, &harness, error,
                                              sizeof(error)),
                         0);
    assert_non_null(strstr(error, "the value of \"X-Token\" contains a line break"));
    assert_null(strstr(error, "s3cr3t"));

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"headers\": {\"X-Count\": 5}}",
             f->url);
    create_fails(f, settings, "setting \"headers\" must be an object of strings");
}

static void posts_json_array_with_headers(void **state)
{
    fixture *f = *state;
    char settings[256];
    recorded_request request;
    struct json_object *body;
    size_t i;

    snprintf(settings, sizeof(settings),
             "{\"url\": \"%s\", \"headers\": {\"X-Token\": \"t0k3n\", \"X-Empty\": \"\"}}",
             f->url);
    create(f, settings);
    add_messages(f, 3);
    send_all(f);

    assert_int_equal(recording_server_request_count(f->server), 1);
    assert_int_equal(recording_server_request(f->server, 0, &request), 0);
    assert_string_equal(request.method, "POST");
    assert_string_equal(request.target, "/hook");
    assert_string_equal(recorded_request_header(&request, "Content-Type"), "application/json");
    assert_string_equal(recorded_request_header(&request, "X-Token"), "t0k3n");
    assert_string_equal(recorded_request_header(&request, "X-Empty"), "");

    body = json_tokener_parse(request.body);
    assert_non_null(body);
    assert_int_equal(json_object_array_length(body), 3);
    for (i = 0; i < 3; i++) {
        struct json_object *sent = json_tokener_parse(f->messages[i]);

        assert_true(json_object_equal(sent, json_object_array_get_idx(body, i)));
        json_object_put(sent);
    }
    json_object_put(body);
    recorded_request_free(&request);

    assert_int_equal(wharf_harness_result_count(f->harness), 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(result(f, i)->kind, WHARF_RESULT_SUCCESS);
        assert_int_equal(result(f, i)->status_code, 200);
    }
    assert_string_equal(wharf_harness_violations(f->harness), "");
}

/* The webhook joins the host's message texts when it offers them, and
 * serialises the objects otherwise: both bodies are the same bytes. */
static void body_same_with_and_without_texts(void **state)
{
    fixture *f = *state;
    char settings[256];
    recorded_request with_texts;
    recorded_request without_texts;

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\"}", f->url);
    create(f, settings);
    add_messages(f, 4);
    send_all(f);
    wharf_harness_offer_message_texts(f->harness, 0);
    send_all(f);

    assert_int_equal(recording_server_request_count(f->server), 2);
    assert_int_equal(recording_server_request(f->server, 0, &with_texts), 0);
    assert_int_equal(recording_server_request(f->server, 1, &without_texts), 0);
    assert_true(with_texts.body_size > 0);
    assert_int_equal(with_texts.body_size, without_texts.body_size);
    assert_memory_equal(with_texts.body, without_texts.body, with_texts.body_size);
    recorded_request_free(&with_texts);
    recorded_request_free(&without_texts);
    assert_request_body_ids(f, 1, "u0,u1,u2,u3");
    assert_string_equal(wharf_harness_violations(f->harness), "");
}

static void splits_into_chunks_with_results_per_chunk(void **state)
{
    fixture *f = *state;
    char settings[256];

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": 2}", f->url);
    create(f, settings);
    recording_server_push(f->server, 200, "", "{}", 0);
    recording_server_push(f->server, 500, "", "try later", 0);
    recording_server_push(f->server, 200, "", "{}", 0);
    add_messages(f, 5);
    send_all(f);

    assert_int_equal(recording_server_request_count(f->server), 3);
    assert_request_body_ids(f, 0, "u0,u1");
    assert_request_body_ids(f, 1, "u2,u3");
    assert_request_body_ids(f, 2, "u4");

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(result(f, 2)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 2)->status_code, 500);
    assert_int_equal(result(f, 2)->retry_after_ms, -1);
    assert_string_equal(result(f, 2)->reason, "HTTP 500: try later");
    assert_int_equal(result(f, 3)->kind, WHARF_RESULT_RETRY);
    assert_string_equal(result(f, 3)->reason, "HTTP 500: try later");
    assert_int_equal(result(f, 4)->kind, WHARF_RESULT_SUCCESS);
}

static void full_batch_of_1000_in_one_request(void **state)
{
    fixture *f = *state;
    char settings[256];
    recorded_request request;
    struct json_object *body;

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": 1000}", f->url);
    create(f, settings);
    add_messages(f, 1000);
    send_all(f);

    assert_int_equal(recording_server_request_count(f->server), 1);
    assert_int_equal(recording_server_request(f->server, 0, &request), 0);
    body = json_tokener_parse(request.body);
    assert_int_equal(json_object_array_length(body), 1000);
    json_object_put(body);
    recorded_request_free(&request);
    assert_int_equal(result(f, 999)->kind, WHARF_RESULT_SUCCESS);
}

static void client_error_quotes_body(void **state)
{
    fixture *f = *state;
    char settings[256];
    char body[400];
    char expected[300];
    const char *reason;

    memset(body, 'x', 300);
    memcpy(body, "invalid\nfield", 13);
    body[300] = '\0';
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\"}", f->url);
    create(f, settings);
    recording_server_push(f->server, 400, "", body, 0);
    add_messages(f, 2);
    send_all(f);

    body[7] = ' ';
    snprintf(expected, sizeof(expected), "HTTP 400: %.200s...", body);
    reason = result(f, 0)->reason;
    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_ERROR);
    assert_int_equal(result(f, 0)->status_code, 400);
    assert_string_equal(reason, expected);
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_ERROR);
}

static void too_many_requests_honours_retry_after(void **state)
{
    fixture *f = *state;
    char settings[256];

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\"}", f->url);
    create(f, settings);
    recording_server_push(f->server, 429, "Retry-After: 7\r\n", "slow down", 0);
    add_messages(f, 1);
    send_all(f);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 0)->status_code, 429);
    assert_int_equal(result(f, 0)->retry_after_ms, 7000);
    assert_string_equal(result(f, 0)->reason, "HTTP 429: slow down");
}

static void unavailable_honours_retry_after_date(void **state)
{
    fixture *f = *state;
    char settings[256];
    char header[128];
    char date[64];
    time_t later = time(NULL) + 120;
    struct tm utc;
    int64_t delay;

    gmtime_r(&later, &utc);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &utc);
    snprintf(header, sizeof(header), "Retry-After: %s\r\n", date);
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\"}", f->url);
    create(f, settings);
    recording_server_push(f->server, 503, header, "", 0);
    add_messages(f, 1);
    send_all(f);

    delay = result(f, 0)->retry_after_ms;
    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 0)->status_code, 503);
    assert_in_range(delay, 100000, 121000);
    assert_string_equal(result(f, 0)->reason, "HTTP 503: (empty body)");
}

static void request_timeout_status_retries(void **state)
{
    fixture *f = *state;
    char settings[256];

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\"}", f->url);
    create(f, settings);
    recording_server_push(f->server, 408, "", "", 0);
    add_messages(f, 1);
    send_all(f);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 0)->status_code, 408);
}

static void redirect_is_error_and_not_followed(void **state)
{
    fixture *f = *state;
    char settings[256];
    char location[256];

    snprintf(location, sizeof(location), "Location: %s/elsewhere\r\n", f->url);
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\"}", f->url);
    create(f, settings);
    recording_server_push(f->server, 301, location, "moved", 0);
    add_messages(f, 1);
    send_all(f);

    assert_int_equal(recording_server_request_count(f->server), 1);
    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_ERROR);
    assert_int_equal(result(f, 0)->status_code, 301);
    assert_string_equal(result(f, 0)->reason, "HTTP 301: moved");
}

static void refused_connection_retries(void **state)
{
    fixture *f = *state;
    recording_server *closed = recording_server_start();
    char settings[256];
    const wharf_harness_result *found;

    /* A port that was just free and is closed again refuses connections. */
    assert_non_null(closed);
    snprintf(settings, sizeof(settings), "{\"url\": \"http://127.0.0.1:%u/hook\"}",
             recording_server_port(closed));
    recording_server_stop(closed);
    create(f, settings);
    add_messages(f, 2);
    send_all(f);

    found = result(f, 0);
    assert_int_equal(found->kind, WHARF_RESULT_RETRY);
    assert_int_equal(found->status_code, 0);
    assert_int_equal(found->retry_after_ms, -1);
    assert_non_null(found->reason);
    assert_memory_equal(found->reason, "transport error: ", 17);
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_RETRY);
}

static void slow_destination_times_out_and_retries(void **state)
{
    fixture *f = *state;
    char settings[256];
    struct timespec start;
    struct timespec end;
    double elapsed;

    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"timeout_ms\": 300}", f->url);
    create(f, settings);
    recording_server_push(f->server, 200, "", "{}", 2500);
    add_messages(f, 1);

    clock_gettime(CLOCK_MONOTONIC, &start);
    send_all(f);
    clock_gettime(CLOCK_MONOTONIC, &end);
    elapsed = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_RETRY);
    assert_int_equal(result(f, 0)->status_code, 0);
    assert_memory_equal(result(f, 0)->reason, "transport error: ", 17);
    assert_true(elapsed < 2.0);
}

static void oversized_body_keeps_status_result(void **state)
{
    fixture *f = *state;
    char settings[256];
    size_t size = 2 * 1024 * 1024;
    char *body = malloc(size + 1);

    assert_non_null(body);
    memset(body, 'x', size);
    body[size] = '\0';
    snprintf(settings, sizeof(settings), "{\"url\": \"%s\", \"batch_size\": 1}", f->url);
    create(f, settings);
    recording_server_push(f->server, 200, "", body, 0);
    recording_server_push(f->server, 400, "", body, 0);
    free(body);
    add_messages(f, 2);
    send_all(f);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(result(f, 0)->status_code, 200);
    assert_int_equal(result(f, 1)->kind, WHARF_RESULT_ERROR);
    assert_int_equal(result(f, 1)->status_code, 400);
    assert_string_equal(result(f, 1)->reason, "HTTP 400: (empty body)");
}

static void configured_content_type_replaces_default(void **state)
{
    fixture *f = *state;
    char settings[256];
    recorded_request request;
    const char *first;

    snprintf(settings, sizeof(settings),
             "{\"url\": \"%s\", \"headers\": {\"content-type\": \"application/vnd.test+json\"}}",
             f->url);
    create(f, settings);
    add_messages(f, 1);
    send_all(f);

    assert_int_equal(recording_server_request(f->server, 0, &request), 0);
    assert_string_equal(recorded_request_header(&request, "Content-Type"),
                        "application/vnd.test+json");
    first = strstr(request.head, "application/json");
    assert_null(first);
    recorded_request_free(&request);
}

static void secrets_stay_out_of_reasons_and_logs(void **state)
{
    fixture *f = *state;
    char settings[256];
    size_t i;

    snprintf(settings, sizeof(settings),
             "{\"url\": \"%s\", \"headers\": {\"Authorization\": \"Bearer s3cr3t-value\"}}",
             f->url);
    create(f, settings);
    recording_server_push(f->server, 401, "", "unauthorized", 0);
    add_messages(f, 1);
    send_all(f);

    assert_int_equal(result(f, 0)->kind, WHARF_RESULT_ERROR);
    assert_null(strstr(result(f, 0)->reason, "s3cr3t"));
    for (i = 0; i < wharf_harness_log_count(f->harness); i++)
        assert_null(strstr(wharf_harness_log_line(f->harness, i), "s3cr3t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(descriptor_matches_contract, setup, teardown),
        cmocka_unit_test_setup_teardown(create_rejects_bad_url, setup, teardown),
        cmocka_unit_test_setup_teardown(create_rejects_batch_size_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(create_rejects_bad_headers_without_echoing_values, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(posts_json_array_with_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(body_same_with_and_without_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(splits_into_chunks_with_results_per_chunk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(full_batch_of_1000_in_one_request, setup, teardown),
        cmocka_unit_test_setup_teardown(client_error_quotes_body, setup, teardown),
        cmocka_unit_test_setup_teardown(too_many_requests_honours_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(unavailable_honours_retry_after_date, setup, teardown),
        cmocka_unit_test_setup_teardown(request_timeout_status_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(redirect_is_error_and_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_connection_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_destination_times_out_and_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_body_keeps_status_result, setup, teardown),
        cmocka_unit_test_setup_teardown(configured_content_type_replaces_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(secrets_stay_out_of_reasons_and_logs, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
