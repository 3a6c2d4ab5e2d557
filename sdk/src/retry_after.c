#include "wharf/sdk/retry_after.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* A cursor over the header value; every parse step advances it or fails. */
typedef struct date_cursor {
    const char *at;
    const char *end;
} date_cursor;

typedef struct http_date {
    int year;
    int month; /* 1 to 12 */
    int day;
    int hour;
    int minute;
    int second;
} http_date;

static const char *const short_day_names[7] = {"Mon", "Tue", "Wed", "Thu",
                                               "Fri", "Sat", "Sun"};
static const char *const long_day_names[7] = {"Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday",
                                              "Sunday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Day and month names are case-sensitive in RFC 9110; accepting any case
 * costs nothing and matches what servers send in practice. */
static int match_word(date_cursor *cursor, const char *word)
{
    size_t length = strlen(word);
    size_t i;

    if ((size_t)(cursor->end - cursor->at) < length)
        return 0;
    for (i = 0; i < length; i++) {
        if (lower(cursor->at[i]) != lower(word[i]))
            return 0;
    }
    cursor->at += length;
    return 1;
}

static int match_char(date_cursor *cursor, char expected)
{
    if (cursor->at >= cursor->end || *cursor->at != expected)
        return 0;
    cursor->at++;
    return 1;
}

/* Read exactly count digits. */
static int match_digits(date_cursor *cursor, int count, int *value)
{
    int result = 0;
    int i;

    if (cursor->end - cursor->at < count)
        return 0;
    for (i = 0; i < count; i++) {
        if (!is_digit(cursor->at[i]))
            return 0;
        result = result * 10 + (cursor->at[i] - '0');
    }
    cursor->at += count;
    *value = result;
    return 1;
}

/* The weekday is checked for spelling only: a date whose weekday does not
 * match is still a usable date, so it is not rejected. */
static int match_day_name(date_cursor *cursor, const char *const names[7])
{
    int i;

    for (i = 0; i < 7; i++) {
        if (match_word(cursor, names[i]))
            return 1;
    }
    return 0;
}

static int match_month(date_cursor *cursor, int *month)
{
    int i;

    for (i = 0; i < 12; i++) {
        if (match_word(cursor, month_names[i])) {
            *month = i + 1;
            return 1;
        }
    }
    return 0;
}

/* "HH:MM:SS" */
static int match_time(date_cursor *cursor, http_date *date)
{
    return match_digits(cursor, 2, &date->hour) && match_char(cursor, ':') &&
           match_digits(cursor, 2, &date->minute) && match_char(cursor, ':') &&
           match_digits(cursor, 2, &date->second);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf_fixdate(date_cursor cursor, http_date *date)
{
    return match_day_name(&cursor, short_day_names) && match_char(&cursor, ',') &&
           match_char(&cursor, ' ') && match_digits(&cursor, 2, &date->day) &&
           match_char(&cursor, ' ') && match_month(&cursor, &date->month) &&
           match_char(&cursor, ' ') && match_digits(&cursor, 4, &date->year) &&
           match_char(&cursor, ' ') && match_time(&cursor, date) &&
           match_char(&cursor, ' ') && match_word(&cursor, "GMT") &&
           cursor.at == cursor.end;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT"; the two-digit year is resolved later. */
static int parse_rfc850_date(date_cursor cursor, http_date *date)
{
    return match_day_name(&cursor, long_day_names) && match_char(&cursor, ',') &&
           match_char(&cursor, ' ') && match_digits(&cursor, 2, &date->day) &&
           match_char(&cursor, '-') && match_month(&cursor, &date->month) &&
           match_char(&cursor, '-') && match_digits(&cursor, 2, &date->year) &&
           match_char(&cursor, ' ') && match_time(&cursor, date) &&
           match_char(&cursor, ' ') && match_word(&cursor, "GMT") &&
           cursor.at == cursor.end;
}

/* "Sun Nov  6 08:49:37 1994": the day is two digits or a space and one. */
static int parse_asctime_date(date_cursor cursor, http_date *date)
{
    if (!(match_day_name(&cursor, short_day_names) && match_char(&cursor, ' ') &&
          match_month(&cursor, &date->month) && match_char(&cursor, ' ')))
        return 0;

    if (match_char(&cursor, ' ')) {
        if (!match_digits(&cursor, 1, &date->day))
            return 0;
    } else if (!match_digits(&cursor, 2, &date->day)) {
        return 0;
    }

    return match_char(&cursor, ' ') && match_time(&cursor, date) &&
           match_char(&cursor, ' ') && match_digits(&cursor, 4, &date->year) &&
           cursor.at == cursor.end;
}

static int is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month == 2 && is_leap_year(year))
        return 29;
    return days[month - 1];
}

/* Days from 0001-01-01 to January 1st of year, in the proleptic Gregorian
 * calendar. */
static int64_t days_before_year(int year)
{
    int64_t previous = year - 1;

    return previous * 365 + previous / 4 - previous / 100 + previous / 400;
}

static int64_t date_to_epoch_seconds(const http_date *date)
{
    int64_t days = days_before_year(date->year) - days_before_year(1970);
    int month;

    for (month = 1; month < date->month; month++)
        days += days_in_month(date->year, month);
    days += date->day - 1;

    return days * 86400 + (int64_t)date->hour * 3600 + date->minute * 60 + date->second;
}

/* Year of now_ms in UTC, for resolving RFC 850 two-digit years. */
static int year_of(int64_t now_ms)
{
    int64_t days = now_ms / 86400000;
    int year = 1970;

    if (days < 0)
        return 1970;
    while (days >= (is_leap_year(year) ? 366 : 365)) {
        days -= is_leap_year(year) ? 366 : 365;
        year++;
    }
    return year;
}

static int date_is_valid(const http_date *date)
{
    /* Second 60 allows for a leap second. */
    return date->year >= 1 && date->month >= 1 && date->month <= 12 &&
           date->day >= 1 && date->day <= days_in_month(date->year, date->month) &&
           date->hour <= 23 && date->minute <= 59 && date->second <= 60;
}

static int parse_delta_seconds(date_cursor cursor, int64_t *delay_ms)
{
    const int64_t max_seconds = INT64_MAX / 1000;
    int64_t seconds = 0;
    int saturated = 0;

    if (cursor.at == cursor.end)
        return -EINVAL;

    for (; cursor.at < cursor.end; cursor.at++) {
        if (!is_digit(*cursor.at))
            return -EINVAL;
        if (seconds > (max_seconds - (*cursor.at - '0')) / 10)
            saturated = 1;
        else
            seconds = seconds * 10 + (*cursor.at - '0');
    }

    *delay_ms = saturated ? INT64_MAX : seconds * 1000;
    return 0;
}

int wharf_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms)
{
    date_cursor cursor;
    http_date date;
    int64_t date_ms;

    if (value == NULL)
        return -EINVAL;

    cursor.at = value;
    cursor.end = value + strlen(value);
    while (cursor.at < cursor.end && (*cursor.at == ' ' || *cursor.at == '\t'))
        cursor.at++;
    while (cursor.end > cursor.at && (cursor.end[-1] == ' ' || cursor.end[-1] == '\t'))
        cursor.end--;

    if (cursor.at < cursor.end && is_digit(*cursor.at))
        return parse_delta_seconds(cursor, delay_ms);

    memset(&date, 0, sizeof(date));
    if (parse_rfc850_date(cursor, &date)) {
        /* RFC 9110: a two-digit year more than 50 years in the future means
         * the most recent past year with the same last two digits. */
        int now_year = year_of(now_ms);

        date.year += now_year - now_year % 100;
        if (date.year > now_year + 50)
            date.year -= 100;
    } else if (!parse_imf_fixdate(cursor, &date) && !parse_asctime_date(cursor, &date)) {
        return -EINVAL;
    }

    if (!date_is_valid(&date))
        return -EINVAL;

    date_ms = date_to_epoch_seconds(&date) * 1000;
    *delay_ms = date_ms > now_ms ? date_ms - now_ms : 0;
    return 0;
}
