#include "double_text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 uint128;

/* printf's "%.17g" keeps 17 significant digits. */
#define SIGNIFICANT_DIGITS 17
#define DIGITS_LOW UINT64_C(10000000000000000)   /* 10^16 */
#define DIGITS_HIGH UINT64_C(100000000000000000) /* 10^17 */

static const uint64_t small_powers[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

/* 10^exponent for exponent 0 to 38. */
static uint128 power_of_ten(int exponent)
{
    if (exponent < 20)
        return small_powers[exponent];
    return (uint128)small_powers[19] * small_powers[exponent - 19];
}

/* The 17 significant digits of magnitude (finite, positive) as an
 * integer from 10^16 to 10^17 - 1, rounded as printf rounds (to nearest,
 * ties to even, on the exact binary value), with the decimal exponent of
 * the first digit. Returns 0 outside 1e-6 to 2^127, where the products
 * below could overflow 128 bits. */
static int significant_digits(double magnitude, uint64_t *digits, int *exponent)
{
    uint64_t bits;
    uint64_t mantissa;
    int binary_exponent;
    int decimal_exponent;

    if (!(magnitude >= 1e-6 && magnitude < 0x1p127))
        return 0;
    /* magnitude = mantissa * 2^binary_exponent exactly, with the implicit
     * leading bit of a 53-bit mantissa: the range above has no
     * subnormal. */
    memcpy(&bits, &magnitude, sizeof(bits));
    mantissa = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    binary_exponent = (int)((bits >> 52) & 0x7ff) - 1075;

    /* About floor(log10(2^(binary_exponent + 52))), with 78913 / 2^18
     * for log10(2): the exponent of the first digit is within one of it,
     * and the loop below corrects the guess. */
    decimal_exponent = ((binary_exponent + 52) * 78913) >> 18;
    for (int attempt = 0; attempt < 3; attempt++) {
        int scale = SIGNIFICANT_DIGITS - 1 - decimal_exponent;
        uint128 quotient;
        uint128 remainder;
        uint128 divisor;

        if (scale > 22 || scale < -22)
            return 0;
        if (binary_exponent >= 0) {
            uint128 value = (uint128)mantissa << binary_exponent;

            if (scale >= 0) {
                quotient = value * (uint64_t)power_of_ten(scale);
                remainder = 0;
                divisor = 1;
            } else {
                divisor = power_of_ten(-scale);
                quotient = value / divisor;
                remainder = value % divisor;
            }
        } else {
            /* mantissa * 10^scale / 2^-binary_exponent, with scale at
             * most 22 so that the product stays below 2^127. */
            uint128 product;
            int shift = -binary_exponent;

            if (scale < 0 || shift > 120)
                return 0;
            product = (uint128)mantissa * power_of_ten(scale);
            quotient = product >> shift;
            divisor = (uint128)1 << shift;
            remainder = product & (divisor - 1);
        }

        if (quotient < DIGITS_LOW) {
            decimal_exponent--;
            continue;
        }
        if (quotient >= DIGITS_HIGH) {
            decimal_exponent++;
            continue;
        }
        if (remainder * 2 > divisor || (remainder * 2 == divisor && (quotient & 1) != 0))
            quotient++;
        if (quotient == DIGITS_HIGH) {
            quotient = DIGITS_LOW;
            decimal_exponent++;
        }
        *digits = (uint64_t)quotient;
        *exponent = decimal_exponent;
        return 1;
    }
    return 0;
}

/* Write digits and exponent in the form "%.17g" chooses: plain when the
 * exponent is from -4 to 16, else d.ddde+XX, trailing zeros dropped. */
static size_t write_g(int negative, uint64_t digits, int exponent, char *text)
{
    char figures[SIGNIFICANT_DIGITS];
    int used = SIGNIFICANT_DIGITS;
    size_t at = 0;

    for (int i = SIGNIFICANT_DIGITS - 1; i >= 0; i--) {
        figures[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    while (used > 1 && figures[used - 1] == '0')
        used--;

    if (negative)
        text[at++] = '-';
    if (exponent < -4 || exponent >= SIGNIFICANT_DIGITS) {
        int magnitude = exponent < 0 ? -exponent : exponent;

        text[at++] = figures[0];
        if (used > 1) {
            text[at++] = '.';
            memcpy(text + at, figures + 1, (size_t)(used - 1));
            at += (size_t)(used - 1);
        }
        text[at++] = 'e';
        text[at++] = exponent < 0 ? '-' : '+';
        if (magnitude >= 100)
            text[at++] = (char)('0' + magnitude / 100);
        text[at++] = (char)('0' + magnitude / 10 % 10);
        text[at++] = (char)('0' + magnitude % 10);
    } else if (exponent >= 0) {
        memcpy(text + at, figures, (size_t)exponent + 1);
        at += (size_t)exponent + 1;
        if (used > exponent + 1) {
            text[at++] = '.';
            memcpy(text + at, figures + exponent + 1, (size_t)(used - exponent - 1));
            at += (size_t)(used - exponent - 1);
        }
    } else {
        text[at++] = '0';
        text[at++] = '.';
        for (int i = exponent + 1; i < 0; i++)
            text[at++] = '0';
        memcpy(text + at, figures, (size_t)used);
        at += (size_t)used;
    }
    text[at] = '\0';
    return at;
}

/* Add ".0" to a text with neither a point nor an exponent, as json-c
 * does so that the number still reads as a double. */
static size_t mark_as_double(char *text, size_t length)
{
    if (strchr(text, '.') != NULL || strchr(text, 'e') != NULL)
        return length;
    memcpy(text + length, ".0", 3);
    return length + 2;
}

/* Write NaN and the infinities as json-c writes them, and return 0 for
 * any other number. */
static size_t write_special(double number, char *text)
{
    const char *word;

    if (isnan(number))
        word = "NaN";
    else if (isinf(number))
        word = number > 0 ? "Infinity" : "-Infinity";
    else
        return 0;
    strcpy(text, word);
    return strlen(word);
}

size_t double_text_format_slow(double number, char text[DOUBLE_TEXT_SIZE])
{
    size_t length = write_special(number, text);
    char *comma;
    int written;

    if (length > 0)
        return length;
    /* Keep room for ".0". */
    written = snprintf(text, DOUBLE_TEXT_SIZE - 2, "%.17g", number);
    if (written < 0 || written >= DOUBLE_TEXT_SIZE - 2) {
        text[0] = '\0';
        return 0;
    }
    /* A locale with a decimal comma writes one in place of the point. */
    comma = strchr(text, ',');
    if (comma != NULL) {
        *comma = '.';
        return (size_t)written;
    }
    return mark_as_double(text, (size_t)written);
}

size_t double_text_format(double number, char text[DOUBLE_TEXT_SIZE])
{
    uint64_t digits;
    int exponent;

    if (!significant_digits(fabs(number), &digits, &exponent))
        return double_text_format_slow(number, text);
    return mark_as_double(text, write_g(signbit(number) != 0, digits, exponent, text));
}
