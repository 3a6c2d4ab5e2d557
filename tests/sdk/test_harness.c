/* The SDK harness: settings preparation, descriptor checks, the order of
 * filter, encode and send, timers, HTTP, and the contract violations it
 * must report. The plugins under test are defined here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "recording_server.h"
#include "wharf/sdk/harness.h"

/* What the plugins below saw, for the tests to check. */
static struct {
    char settings[512];
    int send_calls;
    int encode_calls;
    char texts[2048]; /* what text_encode() read, one text per line */
} seen;

typedef struct probe {
    const wharf_host *host;
    wharf_connector *connector;
    wharf_batch *batch;
    char url[256];
} probe;

static int probe_create(const wharf_host *host, wharf_connector *connector,
                        const struct json_object *settings, void **instance, char *error,
                        size_t error_size)
{
    probe *p = calloc(1, sizeof(*p));
    struct json_object *limit = NULL;
    struct json_object *url = NULL;

    snprintf(seen.settings, sizeof(seen.settings), "%s",
             json_object_to_json_string_ext((struct json_object *)settings,
                                            JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_object_get_ex(settings, "limit", &limit);
    if (json_object_get_int64(limit) < 0) {
        snprintf(error, error_size, "setting \"limit\" must be >= 0");
        free(p);
        return -EINVAL;
    }
    if (json_object_object_get_ex(settings, "url", &url))
        snprintf(p->url, sizeof(p->url), "%s", json_object_get_string(url));

    p->host = host;
    p->connector = connector;
    *instance = p;
    return 0;
}

static void probe_destroy(void *instance)
{
    free(instance);
}

static int probe_filter(void *instance, const struct json_object *message, char *reason,
                        size_t reason_size)
{
    struct json_object *user = NULL;
    struct json_object *id = NULL;
    const char *text;

    (void)instance;
    json_object_object_get_ex(message, "user", &user);
    json_object_object_get_ex(user, "id", &id);
    text = json_object_get_string(id);
    if (text == NULL || strncmp(text, "skip", 4) != 0)
        return 0;
    snprintf(reason, reason_size, "user %s is filtered", text);
    return 1;
}

static void probe_encode(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    seen.encode_calls++;
    p->host->batch_set_encoded(batch, strdup("encoded"), free);
}

/* Encode from the texts the host offers: each message's text, or "-" when
 * the host has none, one per line. */
static void text_encode(void *instance, wharf_batch *batch)
{
    probe *p = instance;
    size_t used = 0;

    seen.encode_calls++;
    seen.texts[0] = '\0';
    for (size_t i = 0; i < p->host->batch_count(batch); i++) {
        size_t length = 0;
        const char *text = p->host->batch_message_text != NULL
                               ? p->host->batch_message_text(batch, i, &length)
                               : NULL;

        if (text != NULL)
            assert_int_equal(length, strlen(text));
        used += (size_t)snprintf(seen.texts + used, sizeof(seen.texts) - used, "%s\n",
                                 text != NULL ? text : "-");
    }
    p->host->batch_set_encoded(batch, strdup("encoded"), free);
}

static void set_pending(probe *p, wharf_result_kind kind, int status, const char *reason)
{
    size_t i;

    for (i = 0; i < p->host->batch_count(p->batch); i++) {
        if (!p->host->batch_has_result(p->batch, i))
            p->host->batch_set_result(p->batch, i, kind, status, -1, reason);
    }
}

static void succeed_pending(probe *p, int status)
{
    set_pending(p, WHARF_RESULT_SUCCESS, status, NULL);
}

/* Timer plugin: send() completes from a timer 30 ms later. */
static void timer_fired(void *user_data)
{
    probe *p = user_data;
    const char *encoded = p->host->batch_encoded(p->batch);

    p->host->log(p->connector, WHARF_LOG_INFO, "sent %zu messages, encoded as %s",
                 p->host->batch_count(p->batch), encoded != NULL ? encoded : "nothing");
    succeed_pending(p, 0);
    p->host->batch_complete(p->batch);
}

static void timer_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    seen.send_calls++;
    p->batch = batch;
    assert_non_null(p->host->timer_start(p->connector, 30, 0, timer_fired, p));
}

/* HTTP plugin: one GET, then the reply header and body become the reason of
 * a SKIP (wharfd keeps no reason for SUCCESS). */
static void http_done(void *user_data, const wharf_http_response *response)
{
    probe *p = user_data;
    const char *reply = p->host->http_response_header(response, "x-reply");
    char reason[256];

    snprintf(reason, sizeof(reason), "%s/%s/%d", reply != NULL ? reply : "none", response->body,
             (int)response->error);
    set_pending(p, WHARF_RESULT_SKIP, (int)response->status, reason);
    p->host->batch_complete(p->batch);
}

static void http_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;
    const wharf_http_header headers[] = {{"X-Probe", "yes"}};
    wharf_http_request request = {0};

    seen.send_calls++;
    p->batch = batch;
    request.struct_size = sizeof(request);
    request.method = "GET";
    request.url = p->url;
    request.headers = headers;
    request.header_count = 1;
    assert_int_equal(p->host->http_request(p->connector, &request, http_done, p), 0);
}

/* Broken plugins, one breach each. */
static void encode_calls_http(void *instance, wharf_batch *batch)
{
    probe *p = instance;
    wharf_http_request request = {0};

    (void)batch;
    request.struct_size = sizeof(request);
    request.url = "http://127.0.0.1:9/";
    /* No cmocka assert here: a failing one would longjmp off this thread. */
    (void)p->host->http_request(p->connector, &request, http_done, p);
}

static void complete_twice_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    p->batch = batch;
    succeed_pending(p, 200);
    p->host->batch_complete(batch);
    p->host->batch_complete(batch);
}

static void no_result_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    p->host->batch_complete(batch);
}

static void never_complete_send(void *instance, wharf_batch *batch)
{
    (void)instance;
    (void)batch;
}

static void repeating_timer_fired(void *user_data)
{
    (void)user_data;
}

static void timer_forever_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    (void)batch;
    assert_non_null(p->host->timer_start(p->connector, 10, 10, repeating_timer_fired, p));
}

static void error_without_reason_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    p->host->batch_set_result(batch, 0, WHARF_RESULT_ERROR, 0, -1, NULL);
    p->host->batch_set_result(batch, 7, WHARF_RESULT_SUCCESS, 0, -1, NULL);
    p->host->batch_complete(batch);
}

/* Blocking plugin: send() runs on the worker thread and completes there. */
static void blocking_send(void *instance, wharf_batch *batch)
{
    probe *p = instance;

    seen.send_calls++;
    p->batch = batch;
    succeed_pending(p, 204);
    p->host->batch_complete(batch);
}

static const wharf_setting probe_settings[] = {
    {"greeting", WHARF_SETTING_STRING, 0, 0, "\"hi\"", "Greeting."},
    {"limit", WHARF_SETTING_INTEGER, 1, 0, NULL, "Limit."},
    {"flags", WHARF_SETTING_STRING_LIST, 0, 0, NULL, "Flags."},
    {"enabled", WHARF_SETTING_BOOLEAN, 0, 0, "true", "Enabled."},
    {"url", WHARF_SETTING_STRING, 0, 0, NULL, "URL."},
};

static wharf_plugin make_plugin(void (*send)(void *, wharf_batch *))
{
    wharf_plugin plugin = {
        .header = WHARF_PLUGIN_HEADER_INIT("probe", "0.1.0"),
        .batch_policy = WHARF_BATCH_IGNORES_WHITELIST,
        .entity_types = WHARF_ENTITY_USER,
        .settings = probe_settings,
        .settings_count = sizeof(probe_settings) / sizeof(probe_settings[0]),
        .create = probe_create,
        .filter = probe_filter,
        .encode = probe_encode,
        .send = send,
        .destroy = probe_destroy,
    };

    return plugin;
}

static wharf_harness *create_ok(const wharf_plugin *plugin, const char *settings)
{
    wharf_harness *harness = NULL;
    char error[512] = "";
    int rc = wharf_harness_create(plugin, settings, &harness, error, sizeof(error));

    if (rc != 0)
        fail_msg("create failed (%d): %s", rc, error);
    return harness;
}

static void create_fails(const wharf_plugin *plugin, const char *settings, int expected_rc,
                         const char *expected)
{
    wharf_harness *harness = NULL;
    char error[512] = "";
    int rc = wharf_harness_create(plugin, settings, &harness, error, sizeof(error));

    assert_int_equal(rc, expected_rc);
    assert_null(harness);
    assert_string_equal(error, expected);
}

static int send_users(wharf_harness *harness, const char *const *ids, size_t count)
{
    char *messages[8];
    size_t i;
    int rc;

    for (i = 0; i < count; i++)
        messages[i] = wharf_harness_sample_user_message(ids[i], "a@example.test");
    rc = wharf_harness_send(harness, (const char *const *)messages, count);
    for (i = 0; i < count; i++)
        free(messages[i]);
    return rc;
}

static void settings_get_defaults(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);
    wharf_harness *harness;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 3, \"flags\": [\"a\"], \"greeting\": null}");
    assert_string_equal(seen.settings,
                        "{\"limit\":3,\"flags\":[\"a\"],\"greeting\":\"hi\",\"enabled\":true}");
    wharf_harness_destroy(harness);
}

static void settings_errors_match_api(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);

    (void)state;
    create_fails(&plugin, "{\"limit\": 1, \"nope\": 1}", -EINVAL,
                 "unknown setting \"nope\" for plugin \"probe\"; its settings are: greeting, "
                 "limit, flags, enabled, url");
    create_fails(&plugin, "{\"limit\": \"3\"}", -EINVAL,
                 "setting \"limit\" must be an integer, got string");
    create_fails(&plugin, "{\"limit\": 1, \"flags\": {}}", -EINVAL,
                 "setting \"flags\" must be an array of strings, got object");
    create_fails(&plugin, "{\"limit\": 1, \"flags\": [\"a\", 2]}", -EINVAL,
                 "setting \"flags\" must be an array of strings; quote every element");
    create_fails(&plugin, "{\"limit\": 1, \"enabled\": 1}", -EINVAL,
                 "setting \"enabled\" must be a boolean, got integer");
    create_fails(&plugin, "{}", -EINVAL,
                 "setting \"limit\" is required by plugin \"probe\"; add it to the settings");
    create_fails(&plugin, "[]", -EINVAL,
                 "settings must be a JSON object such as {\"url\": \"...\"}");
    create_fails(&plugin, "{\"limit\": ", -EINVAL,
                 "settings are not valid JSON (unexpected end of data); pass a JSON object");
    create_fails(&plugin, "{\"limit\": -1}", -ECANCELED, "setting \"limit\" must be >= 0");
}

static void descriptor_checks(void **state)
{
    static const wharf_setting twice[] = {
        {"a", WHARF_SETTING_STRING, 0, 0, NULL, "A."},
        {"a", WHARF_SETTING_STRING, 0, 0, NULL, "A again."},
    };
    static const wharf_setting bad_default[] = {
        {"count", WHARF_SETTING_INTEGER, 0, 0, "\"10\"", "Count."},
    };
    wharf_plugin plugin;
    char error[256];

    (void)state;
    plugin = make_plugin(timer_send);
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), 0);

    plugin.header.magic = 0x12345678;
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "bad magic 0x12345678"));

    plugin = make_plugin(timer_send);
    plugin.header.abi_major = 2;
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "ABI major 2"));

    plugin = make_plugin(NULL);
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "lacks a required callback"));

    plugin = make_plugin(timer_send);
    plugin.entity_types = 0;
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "has invalid entity_types 0x0"));

    plugin = make_plugin(timer_send);
    plugin.header.name = "Bad Name";
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "plugin name \"Bad Name\" is invalid"));

    plugin = make_plugin(timer_send);
    plugin.settings = bad_default;
    plugin.settings_count = 1;
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "default \"10\" of setting \"count\" is not valid JSON"));

    plugin = make_plugin(timer_send);
    plugin.settings = twice;
    plugin.settings_count = 2;
    assert_int_equal(wharf_harness_check_descriptor(&plugin, error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "setting \"a\" is declared twice"));
}

static void plugin_open_rejects_non_elf(void **state)
{
    char path[] = "/tmp/wharf-harness-test-XXXXXX";
    wharf_harness_plugin *plugin = (wharf_harness_plugin *)path;
    char error[512] = "";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a shared object\n", 20), 20);
    close(fd);

    assert_int_equal(wharf_harness_plugin_open(path, &plugin, error, sizeof(error)), -EINVAL);
    assert_null(plugin);
    assert_non_null(strstr(error, "dlopen failed"));
    unlink(path);

    assert_int_equal(wharf_harness_plugin_open("/nonexistent/x.so", &plugin, error,
                                               sizeof(error)),
                     -EINVAL);
    assert_non_null(strstr(error, "/nonexistent/x.so"));
}

static void filter_encode_and_timer_send(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);
    const char *ids[] = {"u1", "skip-me", "u2"};
    wharf_harness *harness;
    const wharf_harness_result *skipped;
    size_t i;
    int logged = 0;

    (void)state;
    memset(&seen, 0, sizeof(seen));
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 3), 0);

    assert_int_equal(seen.encode_calls, 1);
    assert_int_equal(seen.send_calls, 1);
    assert_int_equal(wharf_harness_result_count(harness), 3);
    assert_int_equal(wharf_harness_result_at(harness, 0)->kind, WHARF_RESULT_SUCCESS);
    skipped = wharf_harness_result_at(harness, 1);
    assert_int_equal(skipped->kind, WHARF_RESULT_SKIP);
    assert_string_equal(skipped->reason, "user skip-me is filtered");
    assert_int_equal(wharf_harness_result_at(harness, 2)->kind, WHARF_RESULT_SUCCESS);
    assert_null(wharf_harness_result_at(harness, 3));

    for (i = 0; i < wharf_harness_log_count(harness); i++) {
        if (strcmp(wharf_harness_log_line(harness, i),
                   "INFO probe: sent 2 messages, encoded as encoded") == 0)
            logged = 1;
    }
    assert_true(logged);
    assert_string_equal(wharf_harness_violations(harness), "");
    wharf_harness_destroy(harness);
}

static void all_filtered_skips_encode_and_send(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);
    const char *ids[] = {"skip-1", "skip-2"};
    wharf_harness *harness;

    (void)state;
    memset(&seen, 0, sizeof(seen));
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 2), 0);
    assert_int_equal(seen.encode_calls, 0);
    assert_int_equal(seen.send_calls, 0);
    assert_int_equal(wharf_harness_result_at(harness, 1)->kind, WHARF_RESULT_SKIP);
    wharf_harness_destroy(harness);
}

static void message_texts_offered(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);
    const char *messages[] = {
        "{ \"type\": \"user\", \"user\": {\"id\": \"u1\", \"site\": \"a/b\"} }",
        "{\"type\":\"user\",\"user\":{\"id\":\"skip-1\"}}",
        "{\"type\": \"user\", \"user\": {\"id\": \"u2\", \"n\": [1, 2.5]}}",
    };
    wharf_harness *harness;

    (void)state;
    memset(&seen, 0, sizeof(seen));
    plugin.encode = text_encode;
    harness = create_ok(&plugin, "{\"limit\": 1}");

    /* Compact, slashes as they are, and indexed like batch_message(): the
     * filtered message is not in the batch. */
    assert_int_equal(wharf_harness_send(harness, messages, 3), 0);
    assert_string_equal(seen.texts, "{\"type\":\"user\",\"user\":{\"id\":\"u1\",\"site\":\"a/b\"}}\n"
                                    "{\"type\":\"user\",\"user\":{\"id\":\"u2\",\"n\":[1,2.5]}}\n");

    /* Without texts, as under a host of ABI 1.0. */
    wharf_harness_offer_message_texts(harness, 0);
    assert_int_equal(wharf_harness_send(harness, messages, 3), 0);
    assert_string_equal(seen.texts, "-\n-\n");

    wharf_harness_offer_message_texts(harness, 1);
    assert_int_equal(wharf_harness_send(harness, messages + 2, 1), 0);
    assert_string_equal(seen.texts, "{\"type\":\"user\",\"user\":{\"id\":\"u2\",\"n\":[1,2.5]}}\n");
    assert_int_equal(seen.encode_calls, 3);
    assert_string_equal(wharf_harness_violations(harness), "");
    wharf_harness_destroy(harness);
}

static void http_round_trip(void **state)
{
    wharf_plugin plugin = make_plugin(http_send);
    recording_server *server = recording_server_start();
    const char *ids[] = {"u1"};
    char settings[256];
    wharf_harness *harness;
    recorded_request request;

    (void)state;
    assert_non_null(server);
    snprintf(settings, sizeof(settings), "{\"limit\": 1, \"url\": \"http://127.0.0.1:%u/probe?q=1\"}",
             recording_server_port(server));
    recording_server_push(server, 202, "X-Reply: first\r\nX-Reply: second\r\n", "accepted", 0);
    harness = create_ok(&plugin, settings);

    assert_int_equal(send_users(harness, ids, 1), 0);
    assert_int_equal(wharf_harness_result_at(harness, 0)->status_code, 202);
    assert_string_equal(wharf_harness_result_at(harness, 0)->reason, "second/accepted/0");

    assert_int_equal(recording_server_request(server, 0, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.target, "/probe?q=1");
    assert_string_equal(recorded_request_header(&request, "X-Probe"), "yes");
    recorded_request_free(&request);

    wharf_harness_destroy(harness);
    recording_server_stop(server);
}

static void blocking_send_runs_on_worker(void **state)
{
    wharf_plugin plugin = make_plugin(blocking_send);
    const char *ids[] = {"u1", "u2"};
    wharf_harness *harness;

    (void)state;
    memset(&seen, 0, sizeof(seen));
    plugin.flags = WHARF_PLUGIN_SEND_BLOCKING;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 2), 0);
    assert_int_equal(seen.encode_calls, 1);
    assert_int_equal(seen.send_calls, 1);
    assert_int_equal(wharf_harness_result_at(harness, 1)->kind, WHARF_RESULT_SUCCESS);
    assert_int_equal(wharf_harness_result_at(harness, 1)->status_code, 204);
    assert_string_equal(wharf_harness_violations(harness), "");
    wharf_harness_destroy(harness);
}

static void http_request_from_encode_is_violation(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);
    const char *ids[] = {"u1"};
    wharf_harness *harness;

    (void)state;
    plugin.encode = encode_calls_http;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 1), -EPROTO);
    assert_non_null(strstr(wharf_harness_violations(harness),
                           "http_request: called from a worker thread"));
    assert_int_equal(wharf_harness_result_at(harness, 0)->kind, WHARF_RESULT_SUCCESS);
    wharf_harness_destroy(harness);
}

static void double_complete_is_violation(void **state)
{
    wharf_plugin plugin = make_plugin(complete_twice_send);
    const char *ids[] = {"u1"};
    wharf_harness *harness;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 1), -EPROTO);
    assert_non_null(strstr(wharf_harness_violations(harness), "batch_complete: called 2 times"));
    wharf_harness_destroy(harness);
}

static void missing_result_becomes_error(void **state)
{
    wharf_plugin plugin = make_plugin(no_result_send);
    const char *ids[] = {"u1"};
    wharf_harness *harness;
    const wharf_harness_result *found;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 1), 0);
    found = wharf_harness_result_at(harness, 0);
    assert_false(found->has_result);
    assert_int_equal(found->kind, WHARF_RESULT_ERROR);
    assert_string_equal(found->reason, "plugin set no result");
    wharf_harness_destroy(harness);
}

static void never_completing_send_is_reported(void **state)
{
    wharf_plugin plugin = make_plugin(never_complete_send);
    const char *ids[] = {"u1"};
    wharf_harness *harness;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 1), -EPROTO);
    assert_non_null(strstr(wharf_harness_violations(harness),
                           "batch_complete() was not called"));
    wharf_harness_destroy(harness);
}

static void send_timeout_is_bounded(void **state)
{
    wharf_plugin plugin = make_plugin(timer_forever_send);
    const char *ids[] = {"u1"};
    wharf_harness *harness;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    wharf_harness_set_send_timeout_ms(harness, 200);
    assert_int_equal(send_users(harness, ids, 1), -ETIMEDOUT);
    assert_non_null(strstr(wharf_harness_violations(harness),
                           "send: no batch_complete() within 200 ms"));
    wharf_harness_destroy(harness);
}

static void result_contract_is_checked(void **state)
{
    wharf_plugin plugin = make_plugin(error_without_reason_send);
    const char *ids[] = {"u1"};
    wharf_harness *harness;
    const char *violations;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(send_users(harness, ids, 1), -EPROTO);
    violations = wharf_harness_violations(harness);
    assert_non_null(strstr(violations, "batch_set_result: message 0: error needs a reason"));
    assert_non_null(strstr(violations, "batch_set_result: index 7 is out of range"));
    wharf_harness_destroy(harness);
}

static void invalid_message_json_is_rejected(void **state)
{
    wharf_plugin plugin = make_plugin(timer_send);
    const char *messages[] = {"{\"type\": \"user\"}", "[1, 2]"};
    wharf_harness *harness;

    (void)state;
    harness = create_ok(&plugin, "{\"limit\": 1}");
    assert_int_equal(wharf_harness_send(harness, messages, 2), -EINVAL);
    assert_int_equal(wharf_harness_result_count(harness), 0);
    wharf_harness_destroy(harness);
}

static void sample_message_escapes_ids(void **state)
{
    char *text = wharf_harness_sample_user_message("a\"b", NULL);
    struct json_object *message = json_tokener_parse(text);
    struct json_object *user = NULL;
    struct json_object *id = NULL;
    struct json_object *message_id = NULL;

    (void)state;
    assert_non_null(message);
    assert_true(json_object_object_get_ex(message, "user", &user));
    assert_true(json_object_object_get_ex(user, "id", &id));
    assert_string_equal(json_object_get_string(id), "a\"b");
    assert_true(json_object_object_get_ex(message, "message_id", &message_id));
    assert_string_equal(json_object_get_string(message_id), "harness-a\"b");
    json_object_put(message);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_get_defaults),
        cmocka_unit_test(settings_errors_match_api),
        cmocka_unit_test(descriptor_checks),
        cmocka_unit_test(plugin_open_rejects_non_elf),
        cmocka_unit_test(filter_encode_and_timer_send),
        cmocka_unit_test(all_filtered_skips_encode_and_send),
        cmocka_unit_test(message_texts_offered),
        cmocka_unit_test(http_round_trip),
        cmocka_unit_test(blocking_send_runs_on_worker),
        cmocka_unit_test(http_request_from_encode_is_violation),
        cmocka_unit_test(double_complete_is_violation),
        cmocka_unit_test(missing_result_becomes_error),
        cmocka_unit_test(never_completing_send_is_reported),
        cmocka_unit_test(send_timeout_is_bounded),
        cmocka_unit_test(result_contract_is_checked),
        cmocka_unit_test(invalid_message_json_is_rejected),
        cmocka_unit_test(sample_message_escapes_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
