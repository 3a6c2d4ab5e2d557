/*
 * Unit tests of the OAuth token helper. A stub host table records each
 * token request and lets the test respond later, as wharfd calls back from
 * its event loop. The clock is the test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "wharf/sdk/oauth_token.h"

#define MAX_REQUESTS 8
#define MAX_CALLS 8

typedef struct stub_request {
    char url[256];
    char method[16];
    char body[512];
    char content_type[128];
    wharf_http_done_fn done;
    void *user_data;
    int answered;
} stub_request;

/* What the stub host saw and what the callbacks received. */
static struct {
    stub_request requests[MAX_REQUESTS];
    size_t request_count;
    int refuse_requests; /* http_request() returns this when non-zero */
    char logs[8][512];
    size_t log_count;
    int64_t now_ms;
    const char *retry_after;
} stub;

typedef struct token_call {
    int called;
    wharf_oauth_status status;
    char access_token[128];
    char token_type[32];
    char instance_url[128];
    char error[512];
    int status_code;
    int64_t retry_after_ms;
} token_call;

static void stub_log(wharf_connector *connector, wharf_log_level level, const char *format,
                     ...)
{
    va_list arguments;

    (void)connector;
    (void)level;
    if (stub.log_count >= sizeof(stub.logs) / sizeof(stub.logs[0]))
        return;
    va_start(arguments, format);
    vsnprintf(stub.logs[stub.log_count++], sizeof(stub.logs[0]), format, arguments);
    va_end(arguments);
}

static int stub_http_request(wharf_connector *connector, const wharf_http_request *request,
                             wharf_http_done_fn done, void *user_data)
{
    stub_request *recorded;
    size_t i;

    (void)connector;
    if (stub.refuse_requests != 0)
        return stub.refuse_requests;
    assert_true(stub.request_count < MAX_REQUESTS);
    recorded = &stub.requests[stub.request_count++];
    snprintf(recorded->url, sizeof(recorded->url), "%s", request->url);
    snprintf(recorded->method, sizeof(recorded->method), "%s", request->method);
    snprintf(recorded->body, sizeof(recorded->body), "%.*s", (int)request->body_size,
             (const char *)request->body);
    for (i = 0; i < request->header_count; i++) {
        if (strcmp(request->headers[i].name, "Content-Type") == 0)
            snprintf(recorded->content_type, sizeof(recorded->content_type), "%s",
                     request->headers[i].value);
    }
    recorded->done = done;
    recorded->user_data = user_data;
    return 0;
}

static const char *stub_response_header(const wharf_http_response *response,
                                        const char *name)
{
    (void)response;
    if (strcmp(name, "Retry-After") == 0)
        return stub.retry_after;
    return NULL;
}

static wharf_host stub_host;

static int64_t test_clock(void *clock_data)
{
    (void)clock_data;
    return stub.now_ms;
}

static int setup(void **state)
{
    (void)state;
    memset(&stub, 0, sizeof(stub));
    stub.now_ms = 1000000;
    memset(&stub_host, 0, sizeof(stub_host));
    stub_host.struct_size = sizeof(stub_host);
    stub_host.abi_major = WHARF_ABI_MAJOR;
    stub_host.abi_minor = WHARF_ABI_MINOR;
    stub_host.log = stub_log;
    stub_host.http_request = stub_http_request;
    stub_host.http_response_header = stub_response_header;
    return 0;
}

static wharf_oauth_token *make_token(int64_t default_lifetime_ms)
{
    wharf_oauth_config config;
    wharf_oauth_token *token = NULL;

    memset(&config, 0, sizeof(config));
    config.token_url = "http://127.0.0.1:9/services/oauth2/token";
    config.form_body = "grant_type=client_credentials&client_id=abc&client_secret=s3cret";
    config.default_lifetime_ms = default_lifetime_ms;
    config.refresh_margin_ms = 60000;
    config.clock = test_clock;
    assert_int_equal(wharf_oauth_token_create(&stub_host, NULL, &config, &token), 0);
    assert_non_null(token);
    return token;
}

static void record_call(void *user_data, const wharf_oauth_result *result)
{
    token_call *call = user_data;
    json_object *value;

    call->called++;
    call->status = result->status;
    call->status_code = result->status_code;
    call->retry_after_ms = result->retry_after_ms;
    snprintf(call->error, sizeof(call->error), "%s", result->error ? result->error : "");
    if (result->status != WHARF_OAUTH_OK)
        return;
    snprintf(call->access_token, sizeof(call->access_token), "%s", result->access_token);
    snprintf(call->token_type, sizeof(call->token_type), "%s", result->token_type);
    if (json_object_object_get_ex((json_object *)result->response, "instance_url", &value))
        snprintf(call->instance_url, sizeof(call->instance_url), "%s",
                 json_object_get_string(value));
}

/* Answer the request at index with status and body. */
static void answer(size_t index, long status, const char *body)
{
    wharf_http_response response;
    stub_request *request = &stub.requests[index];

    assert_true(index < stub.request_count);
    assert_false(request->answered);
    memset(&response, 0, sizeof(response));
    response.struct_size = sizeof(response);
    response.error = WHARF_HTTP_OK;
    response.error_message = "";
    response.status = status;
    response.body = body;
    response.body_size = strlen(body);
    request->answered = 1;
    request->done(request->user_data, &response);
}

static void answer_transport_error(size_t index)
{
    wharf_http_response response;
    stub_request *request = &stub.requests[index];

    memset(&response, 0, sizeof(response));
    response.struct_size = sizeof(response);
    response.error = WHARF_HTTP_ERR_CONNECT;
    response.error_message = "Connection refused";
    response.body = "";
    request->answered = 1;
    request->done(request->user_data, &response);
}

static void first_get_requests_token(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call call = {0};

    (void)state;
    assert_int_equal(wharf_oauth_token_get(token, record_call, &call), 0);
    assert_int_equal(call.called, 0);
    assert_int_equal(stub.request_count, 1);
    assert_string_equal(stub.requests[0].method, "POST");
    assert_string_equal(stub.requests[0].url, "http://127.0.0.1:9/services/oauth2/token");
    assert_string_equal(stub.requests[0].content_type, "application/x-www-form-urlencoded");
    assert_string_equal(stub.requests[0].body,
                        "grant_type=client_credentials&client_id=abc&client_secret=s3cret");

    answer(0, 200, "{\"access_token\": \"tok-1\", \"instance_url\": \"http://127.0.0.1:7\"}");

    assert_int_equal(call.called, 1);
    assert_int_equal(call.status, WHARF_OAUTH_OK);
    assert_string_equal(call.access_token, "tok-1");
    assert_string_equal(call.token_type, "Bearer");
    assert_string_equal(call.instance_url, "http://127.0.0.1:7");
    assert_int_equal(wharf_oauth_token_request_count(token), 1);
    wharf_oauth_token_destroy(token);
}

static void cached_token_answers_at_once(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call first = {0};
    token_call second = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &first);
    answer(0, 200, "{\"access_token\": \"tok-1\", \"token_type\": \"Bearer\"}");
    stub.now_ms += 24 * 3600 * 1000; /* no expires_in and no default: never expires */

    assert_int_equal(wharf_oauth_token_get(token, record_call, &second), 0);

    assert_int_equal(second.called, 1);
    assert_string_equal(second.access_token, "tok-1");
    assert_int_equal(stub.request_count, 1);
    wharf_oauth_token_destroy(token);
}

static void concurrent_gets_share_request(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call calls[3];
    size_t i;

    (void)state;
    memset(calls, 0, sizeof(calls));
    for (i = 0; i < 3; i++)
        assert_int_equal(wharf_oauth_token_get(token, record_call, &calls[i]), 0);
    assert_int_equal(stub.request_count, 1);

    answer(0, 200, "{\"access_token\": \"shared\"}");

    for (i = 0; i < 3; i++) {
        assert_int_equal(calls[i].called, 1);
        assert_int_equal(calls[i].status, WHARF_OAUTH_OK);
        assert_string_equal(calls[i].access_token, "shared");
    }
    wharf_oauth_token_destroy(token);
}

static void expires_in_triggers_refresh(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call first = {0};
    token_call early = {0};
    token_call late = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &first);
    answer(0, 200, "{\"access_token\": \"tok-1\", \"expires_in\": 3600}");

    /* Still more than the 60 s margin before expiry. */
    stub.now_ms += 3600 * 1000 - 61000;
    wharf_oauth_token_get(token, record_call, &early);
    assert_int_equal(early.called, 1);
    assert_string_equal(early.access_token, "tok-1");
    assert_int_equal(stub.request_count, 1);

    /* Inside the margin: a new token is requested. */
    stub.now_ms += 2000;
    wharf_oauth_token_get(token, record_call, &late);
    assert_int_equal(late.called, 0);
    assert_int_equal(stub.request_count, 2);
    answer(1, 200, "{\"access_token\": \"tok-2\", \"expires_in\": \"3600\"}");
    assert_int_equal(late.called, 1);
    assert_string_equal(late.access_token, "tok-2");
    wharf_oauth_token_destroy(token);
}

static void default_lifetime_applies(void **state)
{
    wharf_oauth_token *token = make_token(120000);
    token_call first = {0};
    token_call second = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &first);
    answer(0, 200, "{\"access_token\": \"tok-1\"}");

    stub.now_ms += 61000; /* 120 s lifetime minus 60 s margin has passed */
    wharf_oauth_token_get(token, record_call, &second);
    assert_int_equal(stub.request_count, 2);
    assert_int_equal(second.called, 0);
    answer(1, 200, "{\"access_token\": \"tok-2\"}");
    assert_string_equal(second.access_token, "tok-2");
    wharf_oauth_token_destroy(token);
}

static void invalidate_forces_new_token(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call first = {0};
    token_call second = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &first);
    answer(0, 200, "{\"access_token\": \"old\"}");

    wharf_oauth_token_invalidate(token, "old");
    wharf_oauth_token_get(token, record_call, &second);

    assert_int_equal(stub.request_count, 2);
    answer(1, 200, "{\"access_token\": \"new\"}");
    assert_string_equal(second.access_token, "new");
    wharf_oauth_token_destroy(token);
}

static void stale_invalidate_keeps_new_token(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call first = {0};
    token_call second = {0};
    token_call third = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &first);
    answer(0, 200, "{\"access_token\": \"old\"}");
    wharf_oauth_token_invalidate(token, "old");
    wharf_oauth_token_get(token, record_call, &second);
    answer(1, 200, "{\"access_token\": \"new\"}");

    /* A second request that failed with "old" reports it late. */
    wharf_oauth_token_invalidate(token, "old");
    wharf_oauth_token_get(token, record_call, &third);

    assert_int_equal(third.called, 1);
    assert_string_equal(third.access_token, "new");
    assert_int_equal(stub.request_count, 2);
    wharf_oauth_token_destroy(token);
}

static void rejected_credentials_reported(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call call = {0};
    size_t i;

    (void)state;
    wharf_oauth_token_get(token, record_call, &call);
    answer(0, 400, "{\"error\": \"invalid_grant\", \"error_description\": "
                   "\"authentication failure\"}");

    assert_int_equal(call.called, 1);
    assert_int_equal(call.status, WHARF_OAUTH_REJECTED);
    assert_int_equal(call.status_code, 400);
    assert_string_equal(call.error,
                        "token endpoint returned HTTP 400: invalid_grant: authentication failure");
    assert_int_equal(stub.log_count, 1);
    for (i = 0; i < stub.log_count; i++)
        assert_null(strstr(stub.logs[i], "s3cret"));
    assert_null(strstr(call.error, "s3cret"));
    wharf_oauth_token_destroy(token);
}

static void server_error_is_unavailable(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call call = {0};

    (void)state;
    stub.retry_after = "2";
    wharf_oauth_token_get(token, record_call, &call);
    answer(0, 503, "down for maintenance");

    assert_int_equal(call.status, WHARF_OAUTH_UNAVAILABLE);
    assert_int_equal(call.status_code, 503);
    assert_int_equal(call.retry_after_ms, 2000);
    assert_string_equal(call.error, "token endpoint returned HTTP 503: down for maintenance");
    wharf_oauth_token_destroy(token);
}

static void transport_error_is_unavailable(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call call = {0};
    token_call again = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &call);
    answer_transport_error(0);

    assert_int_equal(call.status, WHARF_OAUTH_UNAVAILABLE);
    assert_int_equal(call.status_code, 0);
    assert_non_null(strstr(call.error, "token request failed: transport error"));

    /* A failed request leaves no token behind, so the next get requests again. */
    wharf_oauth_token_get(token, record_call, &again);
    assert_int_equal(stub.request_count, 2);
    answer(1, 200, "{\"access_token\": \"tok\"}");
    assert_int_equal(again.status, WHARF_OAUTH_OK);
    wharf_oauth_token_destroy(token);
}

static void missing_access_token_invalid(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call not_json = {0};
    token_call no_token = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &not_json);
    answer(0, 200, "<html>login</html>");
    wharf_oauth_token_get(token, record_call, &no_token);
    answer(1, 200, "{\"token_type\": \"Bearer\"}");

    assert_int_equal(not_json.status, WHARF_OAUTH_INVALID_RESPONSE);
    assert_string_equal(not_json.error,
                        "token endpoint returned HTTP 200 with a body that is not a JSON object");
    assert_int_equal(no_token.status, WHARF_OAUTH_INVALID_RESPONSE);
    assert_string_equal(no_token.error,
                        "token endpoint returned HTTP 200 without an access_token");
    wharf_oauth_token_destroy(token);
}

static void refused_request_returns_error(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call call = {0};

    (void)state;
    stub.refuse_requests = -22;
    assert_int_equal(wharf_oauth_token_get(token, record_call, &call), -22);
    assert_int_equal(call.called, 0);
    assert_int_equal(wharf_oauth_token_request_count(token), 0);

    /* A later get works once the host accepts requests again. */
    stub.refuse_requests = 0;
    assert_int_equal(wharf_oauth_token_get(token, record_call, &call), 0);
    answer(0, 200, "{\"access_token\": \"tok\"}");
    assert_int_equal(call.called, 1);
    wharf_oauth_token_destroy(token);
}

static void destroy_during_request(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call call = {0};

    (void)state;
    wharf_oauth_token_get(token, record_call, &call);
    wharf_oauth_token_destroy(token);
    assert_int_equal(call.called, 0);

    /* The cache is freed only now; ASan reports a leak or a use after free. */
    answer(0, 200, "{\"access_token\": \"late\"}");
    assert_int_equal(call.called, 1);
    assert_int_equal(call.status, WHARF_OAUTH_UNAVAILABLE);
    assert_string_equal(call.error, "connector was destroyed");
}

/* A waiter that destroys the cache, as a connector may when its last batch
 * completes inside the callback. */
static void destroy_in_callback(void *user_data, const wharf_oauth_result *result)
{
    wharf_oauth_token **token = user_data;

    assert_int_equal(result->status, WHARF_OAUTH_OK);
    wharf_oauth_token_destroy(*token);
}

static void destroy_from_waiter(void **state)
{
    wharf_oauth_token *token = make_token(0);
    token_call later = {0};

    (void)state;
    wharf_oauth_token_get(token, destroy_in_callback, &token);
    wharf_oauth_token_get(token, record_call, &later);
    answer(0, 200, "{\"access_token\": \"tok\"}");

    /* The second waiter still got an intact copy of the token. */
    assert_int_equal(later.called, 1);
    assert_string_equal(later.access_token, "tok");
}

static void form_append_encodes(void **state)
{
    wharf_buffer form = WHARF_BUFFER_INIT;

    (void)state;
    assert_int_equal(wharf_oauth_form_append(&form, "grant_type", "password"), 0);
    assert_int_equal(wharf_oauth_form_append(&form, "username", "ada+crm@example.com"), 0);
    assert_int_equal(wharf_oauth_form_append(&form, "password", "p&ss w=rd/é~"), 0);
    assert_int_equal(wharf_oauth_form_append(&form, "empty", NULL), 0);

    assert_string_equal(form.data, "grant_type=password&username=ada%2Bcrm%40example.com"
                                   "&password=p%26ss+w%3Drd%2F%C3%A9~&empty=");
    wharf_buffer_free(&form);
}

static void create_rejects_missing_url(void **state)
{
    wharf_oauth_config config;
    wharf_oauth_token *token = NULL;

    (void)state;
    memset(&config, 0, sizeof(config));
    config.form_body = "grant_type=client_credentials";
    assert_int_equal(wharf_oauth_token_create(&stub_host, NULL, &config, &token), -22);
    assert_null(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(first_get_requests_token, setup),
        cmocka_unit_test_setup(cached_token_answers_at_once, setup),
        cmocka_unit_test_setup(concurrent_gets_share_request, setup),
        cmocka_unit_test_setup(expires_in_triggers_refresh, setup),
        cmocka_unit_test_setup(default_lifetime_applies, setup),
        cmocka_unit_test_setup(invalidate_forces_new_token, setup),
        cmocka_unit_test_setup(stale_invalidate_keeps_new_token, setup),
        cmocka_unit_test_setup(rejected_credentials_reported, setup),
        cmocka_unit_test_setup(server_error_is_unavailable, setup),
        cmocka_unit_test_setup(transport_error_is_unavailable, setup),
        cmocka_unit_test_setup(missing_access_token_invalid, setup),
        cmocka_unit_test_setup(refused_request_returns_error, setup),
        cmocka_unit_test_setup(destroy_during_request, setup),
        cmocka_unit_test_setup(destroy_from_waiter, setup),
        cmocka_unit_test_setup(form_append_encodes, setup),
        cmocka_unit_test_setup(create_rejects_missing_url, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
