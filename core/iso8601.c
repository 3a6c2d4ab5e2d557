#include "iso8601.h"

#include <errno.h>

#define MS_PER_SECOND 1000
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR (60 * MS_PER_MINUTE)
#define MS_PER_DAY ((int64_t)24 * MS_PER_HOUR)

/* Read exactly count ASCII digits; returns 0 or -EINVAL. */
static int read_digits(const char *text, size_t length, size_t *position, int count,
                       int *value)
{
    int result = 0;

    if (*position + (size_t)count > length)
        return -EINVAL;
    for (int i = 0; i < count; i++) {
        char c = text[*position + (size_t)i];

        if (c < '0' || c > '9')
            return -EINVAL;
        result = result * 10 + (c - '0');
    }
    *position += (size_t)count;
    *value = result;
    return 0;
}

static int is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int64_t floor_divide(int64_t a, int64_t b)
{
    int64_t quotient = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}

/* Leap years among years 0..year of the proleptic Gregorian calendar
 * (year 0 is one); 0 for year -1. */
static int64_t leap_years_through(int64_t year)
{
    return floor_divide(year, 4) - floor_divide(year, 100) + floor_divide(year, 400) + 1;
}

static int64_t days_since_epoch(int year, int month, int day)
{
    static const int days_before_month[12] = {0,   31,  59,  90,  120, 151,
                                              181, 212, 243, 273, 304, 334};
    int64_t days = (int64_t)365 * (year - 1970) + leap_years_through(year - 1) -
                   leap_years_through(1969);

    days += days_before_month[month - 1] + (month > 2 && is_leap_year(year)) + day - 1;
    return days;
}

static int days_in_month(int year, int month)
{
    static const int lengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return month == 2 && is_leap_year(year) ? 29 : lengths[month - 1];
}

/* Parse "HH:MM[:SS[.fraction]]" into milliseconds since midnight. */
static int parse_time(const char *text, size_t length, size_t *position, int64_t *ms)
{
    int hour;
    int minute;
    int second = 0;
    int fraction_ms = 0;

    if (read_digits(text, length, position, 2, &hour) != 0 || *position >= length ||
        text[(*position)++] != ':' || read_digits(text, length, position, 2, &minute) != 0)
        return -EINVAL;
    if (*position < length && text[*position] == ':') {
        (*position)++;
        if (read_digits(text, length, position, 2, &second) != 0)
            return -EINVAL;
        if (*position < length && (text[*position] == '.' || text[*position] == ',')) {
            int digits = 0;

            (*position)++;
            while (*position < length && text[*position] >= '0' && text[*position] <= '9') {
                if (digits < 3)
                    fraction_ms = fraction_ms * 10 + (text[*position] - '0');
                digits++;
                (*position)++;
            }
            if (digits == 0)
                return -EINVAL;
            for (; digits < 3; digits++)
                fraction_ms *= 10;
        }
    }
    if (hour > 23 || minute > 59 || second > 59)
        return -EINVAL;
    *ms = (int64_t)hour * MS_PER_HOUR + (int64_t)minute * MS_PER_MINUTE +
          (int64_t)second * MS_PER_SECOND + fraction_ms;
    return 0;
}

/* Parse "Z" or "+HH[[:]MM]" into the offset from UTC in milliseconds. */
static int parse_offset(const char *text, size_t length, size_t *position, int64_t *offset_ms)
{
    int sign;
    int hours;
    int minutes = 0;

    if (text[*position] == 'Z' || text[*position] == 'z') {
        (*position)++;
        *offset_ms = 0;
        return 0;
    }
    if (text[*position] != '+' && text[*position] != '-')
        return -EINVAL;
    sign = text[(*position)++] == '-' ? -1 : 1;
    if (read_digits(text, length, position, 2, &hours) != 0)
        return -EINVAL;
    if (*position < length) {
        if (text[*position] == ':')
            (*position)++;
        if (read_digits(text, length, position, 2, &minutes) != 0)
            return -EINVAL;
    }
    if (hours > 23 || minutes > 59)
        return -EINVAL;
    *offset_ms = sign * ((int64_t)hours * MS_PER_HOUR + (int64_t)minutes * MS_PER_MINUTE);
    return 0;
}

int iso8601_parse(const char *text, size_t length, int64_t *epoch_ms)
{
    size_t position = 0;
    int year;
    int month;
    int day;
    int64_t time_ms = 0;
    int64_t offset_ms = 0;

    /* The cheapest reject first: most strings that reach here are not
     * dates at all. */
    if (length < 10 || text[4] != '-' || text[7] != '-')
        return -EINVAL;
    if (read_digits(text, length, &position, 4, &year) != 0)
        return -EINVAL;
    position++; /* the '-' checked above */
    if (read_digits(text, length, &position, 2, &month) != 0)
        return -EINVAL;
    position++;
    if (read_digits(text, length, &position, 2, &day) != 0)
        return -EINVAL;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return -EINVAL;

    if (position < length) {
        char separator = text[position++];

        if (separator != 'T' && separator != 't' && separator != ' ')
            return -EINVAL;
        if (parse_time(text, length, &position, &time_ms) != 0)
            return -EINVAL;
        if (position < length && parse_offset(text, length, &position, &offset_ms) != 0)
            return -EINVAL;
    }
    if (position != length)
        return -EINVAL;

    *epoch_ms = days_since_epoch(year, month, day) * MS_PER_DAY + time_ms - offset_ms;
    return 0;
}
