/* Unit tests for request header building and bearer credentials. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wharf/sdk/request_headers.h"
#include "wharf/sdk/settings.h"

static void bearer_headers(void **state)
{
    wharf_http_header *headers = NULL;
    size_t count = 0;
    char error[256];

    (void)state;
    assert_int_equal(wharf_http_headers_json_bearer("pat-na1-abc", "access_token", &headers,
                                                    &count, error, sizeof(error)), 0);

    assert_int_equal(count, 3);
    assert_string_equal(headers[0].name, "Authorization");
    assert_string_equal(headers[0].value, "Bearer pat-na1-abc");
    assert_string_equal(headers[1].name, "Content-Type");
    assert_string_equal(headers[1].value, "application/json");
    assert_string_equal(headers[2].name, "Accept");
    wharf_http_headers_free(headers, count);
}

static void bad_tokens_rejected_without_value(void **state)
{
    static const char *const tokens[] = {"", " pat", "pat ", "pat\r\nX-Injected: 1", "pat\x7f"};
    wharf_http_header *headers = NULL;
    size_t count = 0;
    char error[256];

    (void)state;
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        error[0] = '\0';
        assert_int_equal(wharf_http_headers_json_bearer(tokens[i], "access_token", &headers,
                                                        &count, error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "setting \"access_token\""));
        assert_null(strstr(error, "pat"));
        assert_null(headers);
        assert_int_equal(count, 0);
    }
}

static void append_grows_array(void **state)
{
    wharf_http_header *headers = NULL;
    size_t count = 0;

    (void)state;
    assert_int_equal(wharf_http_headers_append(&headers, &count, "A", "1"), 0);
    assert_int_equal(wharf_http_headers_append(&headers, &count, "B", "2"), 0);

    assert_int_equal(count, 2);
    assert_string_equal(headers[1].name, "B");
    assert_string_equal(headers[1].value, "2");
    wharf_http_headers_free(headers, count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bearer_headers),
        cmocka_unit_test(bad_tokens_rejected_without_value),
        cmocka_unit_test(append_grows_array),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
