/* Unit tests of double_text_format(): for every double tried, its text
 * must equal the one snprintf("%.17g") makes (double_text_format_slow()),
 * which is what json-c writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "double_text.h"

/* A fixed-seed xorshift generator, so that a failure repeats. */
static uint64_t random_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t next_random(void)
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

static void assert_same_text(double number)
{
    char fast[DOUBLE_TEXT_SIZE];
    char slow[DOUBLE_TEXT_SIZE];
    size_t fast_length = double_text_format(number, fast);
    size_t slow_length = double_text_format_slow(number, slow);

    if (strcmp(fast, slow) != 0 || fast_length != slow_length)
        fail_msg("%a: double_text_format wrote \"%s\" (%zu bytes), snprintf \"%s\" (%zu bytes)",
                 number, fast, fast_length, slow, slow_length);
}

static void test_fixed_values(void **state)
{
    static const double values[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5, 10.0, 100.0, 1e15, 1e16, 1e17, 1e18,
        1e20, 1e22, 1e23, 123.45, 1234.56, -99.99, 0.001, 0.0001, 0.00001, 1e-6, 1e-7,
        3.14159, 2.718281828459045, 9007199254740992.0, 9007199254740993.0,
        18446744073709551615.0, 0x1p127, 0x1p126, 1.7976931348623157e308, 5e-324,
        2.2250738585072014e-308, 99999999999999999.0, 9999999999999998.0, 0.30000000000000004,
        1000000000000000.25, 1000000000000000.75, 4503599627370497.5, 123456789012345680.0,
        NAN, INFINITY, -INFINITY,
    };

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_same_text(values[i]);
}

static void test_plain_texts(void **state)
{
    char text[DOUBLE_TEXT_SIZE];

    (void)state;
    assert_int_equal(double_text_format(3.0, text), 3);
    assert_string_equal(text, "3.0");
    double_text_format(0.1, text);
    assert_string_equal(text, "0.10000000000000001");
    double_text_format(-1234.5, text);
    assert_string_equal(text, "-1234.5");
    double_text_format(1e20, text);
    assert_string_equal(text, "1e+20");
    double_text_format(1.5e-5, text);
    assert_string_equal(text, "1.5e-05");
    double_text_format(0.25e-5, text);
    assert_string_equal(text, "2.5000000000000002e-06");
    double_text_format(NAN, text);
    assert_string_equal(text, "NaN");
}

/* Powers of ten and their neighbours, where log10() may guess the
 * exponent wrong and rounding may carry into a new digit. */
static void test_powers_of_ten(void **state)
{
    (void)state;
    for (int exponent = -8; exponent <= 40; exponent++) {
        double power = pow(10.0, exponent);

        assert_same_text(power);
        assert_same_text(nextafter(power, 0.0));
        assert_same_text(nextafter(power, INFINITY));
        assert_same_text(-power);
    }
}

/* Values exactly halfway between two 17-digit texts: m / 4 for odd m
 * from 2^52 to 2^53 has 18 significant digits ending in 5. */
static void test_ties_round_to_even(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t mantissa = (UINT64_C(4000000000000001) + 2 * i * 7919) | 1;

        assert_same_text((double)mantissa / 4.0);
    }
}

static void test_random_bit_patterns(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        uint64_t bits = next_random();
        double number;

        memcpy(&number, &bits, sizeof(number));
        assert_same_text(number);
    }
}

/* Numbers as people type them: a few digits and a decimal point. */
static void test_random_decimals(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        uint64_t digits = next_random() % UINT64_C(100000000000);
        int decimals = (int)(next_random() % 12);

        assert_same_text((double)digits / pow(10.0, decimals));
        assert_same_text(-(double)digits / pow(10.0, decimals));
    }
}

/* Magnitudes spread evenly over the range the fast path covers. */
static void test_random_magnitudes(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        double exponent = -8.0 + (double)(next_random() % 47000) / 1000.0;
        double mantissa = 1.0 + (double)(next_random() >> 11) / 9007199254740992.0;

        assert_same_text(mantissa * pow(10.0, exponent));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_values),       cmocka_unit_test(test_plain_texts),
        cmocka_unit_test(test_powers_of_ten),      cmocka_unit_test(test_ties_round_to_even),
        cmocka_unit_test(test_random_bit_patterns), cmocka_unit_test(test_random_decimals),
        cmocka_unit_test(test_random_magnitudes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
