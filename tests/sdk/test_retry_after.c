/* Unit tests for Retry-After parsing: delta-seconds and the three
 * HTTP-date forms of RFC 9110. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wharf/sdk/retry_after.h"

/* 1994-11-06T08:49:37Z, the example date of RFC 9110. */
#define EXAMPLE_DATE_MS INT64_C(784111777000)

static int64_t parse_ok(const char *value, int64_t now_ms)
{
    int64_t delay_ms = -42;

    assert_int_equal(wharf_retry_after_parse(value, now_ms, &delay_ms), 0);
    return delay_ms;
}

static void assert_invalid(const char *value)
{
    int64_t delay_ms = -42;

    assert_int_equal(wharf_retry_after_parse(value, EXAMPLE_DATE_MS, &delay_ms), -EINVAL);
    assert_int_equal(delay_ms, -42);
}

static void delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("0", 0), 0);
    assert_int_equal(parse_ok("120", 0), 120000);
    assert_int_equal(parse_ok("  7\t", 0), 7000);
    assert_int_equal(parse_ok("007", 0), 7000);
}

static void delta_seconds_saturate(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("99999999999999999999999", 0), INT64_MAX);
    assert_int_equal(parse_ok("9223372036854775", 0), INT64_C(9223372036854775000));
    assert_int_equal(parse_ok("9223372036854776", 0), INT64_MAX);
}

static void imf_fixdate(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE_DATE_MS - 5000), 5000);
    assert_int_equal(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT", 0), EXAMPLE_DATE_MS);
    /* 2000 is a leap year divisible by 400. */
    assert_int_equal(parse_ok("Tue, 29 Feb 2000 23:59:59 GMT", 0), INT64_C(951868799000));
    assert_int_equal(parse_ok("Fri, 04 Dec 2026 20:14:16 GMT", 0), INT64_C(1796415256000));
}

static void imf_fixdate_in_past_is_zero(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE_DATE_MS + 1), 0);
}

static void rfc850_date(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("Sunday, 06-Nov-94 08:49:37 GMT", EXAMPLE_DATE_MS - 1000), 1000);
}

static void rfc850_two_digit_year_window(void **state)
{
    /* Seen from 2026, "70" is 2070 (44 years ahead), "80" is 1980 because
     * 2080 would be more than 50 years in the future. */
    int64_t now_ms = INT64_C(1796415256000);

    (void)state;
    assert_int_equal(parse_ok("Tuesday, 01-Jan-70 00:00:00 GMT", now_ms),
                     INT64_C(3155760000000) - now_ms);
    assert_int_equal(parse_ok("Tuesday, 01-Jan-80 00:00:00 GMT", now_ms), 0);
}

static void asctime_date(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("Sun Nov  6 08:49:37 1994", EXAMPLE_DATE_MS - 2000), 2000);
    assert_int_equal(parse_ok("Sun Nov 06 08:49:37 1994", EXAMPLE_DATE_MS - 2000), 2000);
}

static void names_in_any_case(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("sun, 06 nov 1994 08:49:37 gmt", EXAMPLE_DATE_MS), 0);
}

static void invalid_values(void **state)
{
    (void)state;
    assert_invalid(NULL);
    assert_invalid("");
    assert_invalid("   ");
    assert_invalid("-5");
    assert_invalid("5s");
    assert_invalid("1.5");
    assert_invalid("soon");
    assert_invalid("Sun, 06 Nov 1994 08:49:37 UTC");
    assert_invalid("Sun, 6 Nov 1994 08:49:37 GMT");
    assert_invalid("Sun, 06 Nov 1994 08:49 GMT");
    assert_invalid("Sun, 06 Foo 1994 08:49:37 GMT");
    assert_invalid("Xyz, 06 Nov 1994 08:49:37 GMT");
    assert_invalid("Sun, 06 Nov 1994 08:49:37 GMT trailing");
    assert_invalid("Sun, 31 Nov 1994 08:49:37 GMT");
    assert_invalid("Mon, 29 Feb 1900 08:49:37 GMT");
    assert_invalid("Sun, 06 Nov 1994 24:00:00 GMT");
    assert_invalid("Sun, 06 Nov 1994 23:60:00 GMT");
    assert_invalid("Sun Nov 6 08:49:37 1994");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delta_seconds),
        cmocka_unit_test(delta_seconds_saturate),
        cmocka_unit_test(imf_fixdate),
        cmocka_unit_test(imf_fixdate_in_past_is_zero),
        cmocka_unit_test(rfc850_date),
        cmocka_unit_test(rfc850_two_digit_year_window),
        cmocka_unit_test(asctime_date),
        cmocka_unit_test(names_in_any_case),
        cmocka_unit_test(invalid_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
