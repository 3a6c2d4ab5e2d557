/* Unit tests of ISO 8601 date and time parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "iso8601.h"

static void valid_dates_parsed(void **state)
{
    static const struct {
        const char *text;
        int64_t epoch_ms;
    } cases[] = {
        {"1970-01-01", 0},
        {"1970-01-02", 86400000},
        {"1969-12-31", -86400000},
        {"2000-02-29", INT64_C(951782400000)},
        {"1900-03-01", INT64_C(-2203891200000)},
        {"1945-12-30 00:00:00.000", INT64_C(-757555200000)},
        {"0000-01-01", INT64_C(-62167219200000)},
        {"0001-01-01", INT64_C(-62135596800000)},
        {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
        {"2024-06-01T12:00:00Z", INT64_C(1717243200000)},
        {"2024-06-01T12:00:00.5Z", INT64_C(1717243200500)},
        {"2024-06-01T12:00:00,25Z", INT64_C(1717243200250)},
        {"2024-06-01T12:00:00.123456789Z", INT64_C(1717243200123)},
        {"2024-06-01t12:00:00z", INT64_C(1717243200000)},
        {"2024-06-01 12:00:00", INT64_C(1717243200000)},
        {"2024-06-01T12:00", INT64_C(1717243200000)},
        {"2024-06-01T14:00:00+02:00", INT64_C(1717243200000)},
        {"2024-06-01T14:30+0230", INT64_C(1717243200000)},
        {"2024-06-01T07:00:00-05", INT64_C(1717243200000)},
        {"2024-06-01T00:00:00-12:00", INT64_C(1717243200000)},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t epoch_ms = 0;
        int result = iso8601_parse(cases[i].text, strlen(cases[i].text), &epoch_ms);

        if (result != 0)
            fail_msg("\"%s\" was rejected", cases[i].text);
        if (epoch_ms != cases[i].epoch_ms)
            fail_msg("\"%s\" parsed to %lld, expected %lld", cases[i].text, (long long)epoch_ms,
                     (long long)cases[i].epoch_ms);
    }
}

static void invalid_dates_rejected(void **state)
{
    static const char *const cases[] = {
        "",
        "2024",
        "2024-6-01",
        "2024-06-1",
        "2024-13-01",
        "2024-00-10",
        "2024-06-00",
        "2024-06-31",
        "2023-02-29",
        "1900-02-29",
        "abcd-ef-gh",
        "20240601",
        "2024-W22-6",
        "2024-153",
        "+2024-06-01",
        "2024-06-01T",
        "2024-06-01T12",
        "2024-06-01T1200",
        "2024-06-01T24:00:00Z",
        "2024-06-01T12:60",
        "2024-06-01T12:00:60Z",
        "2024-06-01T12:00:00.Z",
        "2024-06-01T12:00:00+2",
        "2024-06-01T12:00:00+24:00",
        "2024-06-01T12:00:00+02:60",
        "2024-06-01X12:00",
        "2024-06-01T12:00:00Zjunk",
        "2024-06-01T12:00:00 Z",
        "2024-06-01 is a date",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t epoch_ms = 42;

        if (iso8601_parse(cases[i], strlen(cases[i]), &epoch_ms) == 0)
            fail_msg("\"%s\" was accepted as %lld", cases[i], (long long)epoch_ms);
        assert_int_equal(epoch_ms, 42);
    }
}

static void length_bounds_parse(void **state)
{
    int64_t epoch_ms = 0;

    (void)state;
    /* Only length bytes are read: no terminator needed, and a longer
     * buffer's tail is ignored. */
    assert_int_equal(iso8601_parse("1970-01-02T00:00:00Zgarbage", 20, &epoch_ms), 0);
    assert_int_equal(epoch_ms, 86400000);
    assert_int_not_equal(iso8601_parse("1970-01-02T00:00:00Z", 18, &epoch_ms), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_dates_parsed),
        cmocka_unit_test(invalid_dates_rejected),
        cmocka_unit_test(length_bounds_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
