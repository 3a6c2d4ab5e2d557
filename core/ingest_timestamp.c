#include "ingest_timestamp.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR (60 * MS_PER_MINUTE)
#define MS_PER_DAY (24 * MS_PER_HOUR)

/* Read exactly count decimal digits at *cursor into *value. */
static bool read_digits(const char **cursor, int count, int *value)
{
    int result = 0;

    for (int i = 0; i < count; i++) {
        char c = (*cursor)[i];

        if (c < '0' || c > '9')
            return false;
        result = result * 10 + (c - '0');
    }
    *cursor += count;
    *value = result;
    return true;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to year-month-day in the proleptic Gregorian
 * calendar. Counts from a March-based year so that the leap day is the last
 * day of its year, which makes the day of the year a closed formula. */
static int64_t days_from_civil(int year, int month, int day)
{
    int64_t shifted_year = month <= 2 ? year - 1 : year;
    int64_t era = (shifted_year >= 0 ? shifted_year : shifted_year - 399) / 400;
    int64_t year_of_era = shifted_year - era * 400;
    int64_t month_from_march = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    /* 719468 is the number of days from 0000-03-01 to 1970-01-01. */
    return era * 146097 + day_of_era - 719468;
}

/* Parse "Z", "+HH:MM", "+HHMM" or "+HH" (or '-') into an offset in ms that
 * is subtracted from local time to give UTC. */
static bool read_offset(const char **cursor, int64_t *offset_ms)
{
    const char *at = *cursor;
    int sign;
    int hours;
    int minutes = 0;

    if (*at == 'Z' || *at == 'z') {
        *offset_ms = 0;
        *cursor = at + 1;
        return true;
    }
    if (*at != '+' && *at != '-')
        return false;
    sign = *at == '-' ? -1 : 1;
    at++;
    if (!read_digits(&at, 2, &hours) || hours > 23)
        return false;
    if (*at == ':') {
        at++;
        if (!read_digits(&at, 2, &minutes))
            return false;
    } else if (*at >= '0' && *at <= '9') {
        if (!read_digits(&at, 2, &minutes))
            return false;
    }
    if (minutes > 59)
        return false;
    *offset_ms = sign * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE);
    *cursor = at;
    return true;
}

/* Parse "HH:MM[:SS[.fraction]]" into ms since midnight. */
static bool read_time(const char **cursor, int64_t *time_ms)
{
    const char *at = *cursor;
    int hour;
    int minute;
    int second = 0;
    int64_t millisecond = 0;

    if (!read_digits(&at, 2, &hour) || *at++ != ':' || !read_digits(&at, 2, &minute))
        return false;
    if (*at == ':') {
        at++;
        if (!read_digits(&at, 2, &second))
            return false;
        if (*at == '.' || *at == ',') {
            int64_t scale = 100;

            at++;
            if (*at < '0' || *at > '9')
                return false;
            for (; *at >= '0' && *at <= '9'; at++) {
                millisecond += (*at - '0') * scale;
                scale /= 10;
            }
        }
    }
    /* 24:00 would be the end of the day and 60 a leap second; Segment
     * libraries send neither, and refusing them keeps the arithmetic plain. */
    if (hour > 23 || minute > 59 || second > 59)
        return false;
    *time_ms = hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND +
               millisecond;
    *cursor = at;
    return true;
}

int ingest_timestamp_parse(const char *text, int64_t *epoch_ms)
{
    const char *at = text;
    int year;
    int month;
    int day;
    int64_t time_ms = 0;
    int64_t offset_ms = 0;

    if (!read_digits(&at, 4, &year) || *at++ != '-' || !read_digits(&at, 2, &month) ||
        *at++ != '-' || !read_digits(&at, 2, &day))
        return -EINVAL;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return -EINVAL;

    if (*at == 'T' || *at == 't' || *at == ' ') {
        at++;
        if (!read_time(&at, &time_ms))
            return -EINVAL;
        if (*at != '\0' && !read_offset(&at, &offset_ms))
            return -EINVAL;
    }
    if (*at != '\0')
        return -EINVAL;

    *epoch_ms = days_from_civil(year, month, day) * MS_PER_DAY + time_ms - offset_ms;
    return 0;
}
