/* Unit tests for classifying HTTP responses into wharf results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wharf/sdk/http_result.h"

#define NOW_MS INT64_C(784111777000) /* Sun, 06 Nov 1994 08:49:37 GMT */

static wharf_http_response response_with(long status, const char *body)
{
    wharf_http_response response;

    memset(&response, 0, sizeof(response));
    response.struct_size = sizeof(response);
    response.error = WHARF_HTTP_OK;
    response.error_message = "";
    response.status = status;
    response.body = body;
    response.body_size = strlen(body);
    return response;
}

static wharf_http_result classify(const wharf_http_response *response, const char *retry_after)
{
    wharf_http_result result;

    wharf_http_result_classify(response, retry_after, NOW_MS, &result);
    return result;
}

static void success_for_2xx(void **state)
{
    static const long statuses[] = {200, 201, 202, 204, 299};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        wharf_http_response response = response_with(statuses[i], "ignored");
        wharf_http_result result = classify(&response, "10");

        assert_int_equal(result.kind, WHARF_RESULT_SUCCESS);
        assert_int_equal(result.status_code, statuses[i]);
        assert_int_equal(result.retry_after_ms, -1);
        assert_string_equal(result.reason, "");
    }
}

static void retry_for_408_429_5xx(void **state)
{
    static const long statuses[] = {408, 429, 500, 502, 503, 504, 599};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        wharf_http_response response = response_with(statuses[i], "busy");
        wharf_http_result result = classify(&response, NULL);
        char expected[64];

        snprintf(expected, sizeof(expected), "HTTP %ld: busy", statuses[i]);
        assert_int_equal(result.kind, WHARF_RESULT_RETRY);
        assert_int_equal(result.status_code, statuses[i]);
        assert_int_equal(result.retry_after_ms, -1);
        assert_string_equal(result.reason, expected);
    }
}

static void error_for_3xx_and_other_4xx(void **state)
{
    static const long statuses[] = {100, 301, 302, 304, 400, 401, 403, 404, 409, 422, 600};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        wharf_http_response response = response_with(statuses[i], "no");
        wharf_http_result result = classify(&response, "5");
        char expected[64];

        snprintf(expected, sizeof(expected), "HTTP %ld: no", statuses[i]);
        assert_int_equal(result.kind, WHARF_RESULT_ERROR);
        assert_int_equal(result.status_code, statuses[i]);
        assert_int_equal(result.retry_after_ms, -1);
        assert_string_equal(result.reason, expected);
    }
}

static void retry_after_seconds_and_date(void **state)
{
    wharf_http_response response = response_with(429, "");
    wharf_http_result result;

    (void)state;
    result = classify(&response, "30");
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_int_equal(result.retry_after_ms, 30000);

    response = response_with(503, "");
    result = classify(&response, "Sun, 06 Nov 1994 08:51:37 GMT");
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_int_equal(result.retry_after_ms, 120000);

    result = classify(&response, "tomorrow");
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_int_equal(result.retry_after_ms, -1);
}

static void empty_body_is_named(void **state)
{
    wharf_http_response response = response_with(404, "");
    wharf_http_result result = classify(&response, NULL);

    (void)state;
    assert_string_equal(result.reason, "HTTP 404: (empty body)");
}

static void body_quote_is_truncated_to_200_bytes(void **state)
{
    char body[301];
    char expected[300];
    wharf_http_response response;
    wharf_http_result result;

    (void)state;
    memset(body, 'b', 300);
    body[300] = '\0';
    response = response_with(400, body);
    result = classify(&response, NULL);

    snprintf(expected, sizeof(expected), "HTTP 400: %.200s...", body);
    assert_string_equal(result.reason, expected);
}

static void control_characters_are_replaced(void **state)
{
    wharf_http_response response = response_with(400, "line one\r\nline\ttwo\x1b[31m\x7f");
    wharf_http_result result = classify(&response, NULL);

    (void)state;
    assert_string_equal(result.reason, "HTTP 400: line one  line two [31m ");
}

static void truncation_keeps_utf8_characters_whole(void **state)
{
    /* 199 ASCII bytes, then "é" (2 bytes) straddling the 200-byte cut. */
    char body[256];
    char expected[300];
    wharf_http_response response;
    wharf_http_result result;

    (void)state;
    memset(body, 'a', 199);
    memcpy(body + 199, "\xc3\xa9tail", 7);
    body[206] = '\0';
    response = response_with(400, body);
    result = classify(&response, NULL);

    snprintf(expected, sizeof(expected), "HTTP 400: %.199s...", body);
    assert_string_equal(result.reason, expected);
}

static void transport_errors_retry(void **state)
{
    wharf_http_response response = response_with(0, "");
    wharf_http_result result;

    (void)state;
    response.error = WHARF_HTTP_ERR_CONNECT;
    response.error_message = "Failed to connect to 127.0.0.1 port 9: Connection refused";
    result = classify(&response, "10");
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_int_equal(result.status_code, 0);
    assert_int_equal(result.retry_after_ms, -1);
    assert_string_equal(result.reason,
                        "transport error: Failed to connect to 127.0.0.1 port 9: "
                        "Connection refused");

    response.error = WHARF_HTTP_ERR_TIMEOUT;
    response.error_message = "";
    result = classify(&response, NULL);
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_string_equal(result.reason, "transport error: request timed out");
}

static void missing_status_is_transport_error(void **state)
{
    wharf_http_response response = response_with(0, "");
    wharf_http_result result = classify(&response, NULL);

    (void)state;
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_string_equal(result.reason, "transport error: no HTTP status received");
}

static void too_large_body_with_status_uses_status(void **state)
{
    wharf_http_response response = response_with(200, "partial");
    wharf_http_result result;

    (void)state;
    response.error = WHARF_HTTP_ERR_TOO_LARGE;
    response.error_message = "response body too large";
    result = classify(&response, NULL);
    assert_int_equal(result.kind, WHARF_RESULT_SUCCESS);

    response.status = 400;
    result = classify(&response, NULL);
    assert_int_equal(result.kind, WHARF_RESULT_ERROR);
    assert_string_equal(result.reason, "HTTP 400: partial");

    response.status = 0;
    result = classify(&response, NULL);
    assert_int_equal(result.kind, WHARF_RESULT_RETRY);
    assert_string_equal(result.reason, "transport error: response body too large");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(success_for_2xx),
        cmocka_unit_test(retry_for_408_429_5xx),
        cmocka_unit_test(error_for_3xx_and_other_4xx),
        cmocka_unit_test(retry_after_seconds_and_date),
        cmocka_unit_test(empty_body_is_named),
        cmocka_unit_test(body_quote_is_truncated_to_200_bytes),
        cmocka_unit_test(control_characters_are_replaced),
        cmocka_unit_test(truncation_keeps_utf8_characters_whole),
        cmocka_unit_test(transport_errors_retry),
        cmocka_unit_test(missing_status_is_transport_error),
        cmocka_unit_test(too_large_body_with_status_uses_status),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
