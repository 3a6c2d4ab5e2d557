#include "log_filters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The names wharfd writes (sync_message_name() in core/sync.c). */
static const char *const message_names[] = {
    "outgoing.user.start",    "outgoing.user.success",    "outgoing.user.skip",
    "outgoing.user.retry",    "outgoing.user.error",      "outgoing.account.start",
    "outgoing.account.success", "outgoing.account.skip", "outgoing.account.retry",
    "outgoing.account.error",
};

#define MESSAGE_COUNT (sizeof(message_names) / sizeof(message_names[0]))

int log_filters_message_known(const char *message)
{
    for (size_t i = 0; i < MESSAGE_COUNT; i++) {
        if (strcmp(message, message_names[i]) == 0)
            return 1;
    }
    return 0;
}

const char *log_filters_message_names(void)
{
    static char names[512];

    if (names[0] == '\0') {
        size_t used = 0;

        for (size_t i = 0; i < MESSAGE_COUNT; i++)
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
                                     i > 0 ? ", " : "", message_names[i]);
    }
    return names;
}

/* Read exactly count decimal digits at *text and advance past them.
 * Returns the number, or -1 when a character is not a digit. */
static int read_digits(const char **text, int count)
{
    int value = 0;

    for (int i = 0; i < count; i++) {
        char digit = (*text)[i];

        if (digit < '0' || digit > '9')
            return -1;
        value = value * 10 + (digit - '0');
    }
    *text += count;
    return value;
}

/* Read the character expected at *text and advance past it. Returns 0, or
 * -1 when another character is there. */
static int read_separator(const char **text, char expected)
{
    if (**text != expected)
        return -1;
    (*text)++;
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* Check an ISO 8601 UTC time of the form wharfd accepts, and that its date
 * exists. Returns 0 or -1. */
static int check_iso_time(const char *text)
{
    const char *cursor = text;
    int year, month, day, hour, minute, second;

    year = read_digits(&cursor, 4);
    if (year < 0 || read_separator(&cursor, '-') != 0)
        return -1;
    month = read_digits(&cursor, 2);
    if (month < 0 || read_separator(&cursor, '-') != 0)
        return -1;
    day = read_digits(&cursor, 2);
    if (day < 0 || read_separator(&cursor, 'T') != 0)
        return -1;
    hour = read_digits(&cursor, 2);
    if (hour < 0 || read_separator(&cursor, ':') != 0)
        return -1;
    minute = read_digits(&cursor, 2);
    if (minute < 0 || read_separator(&cursor, ':') != 0)
        return -1;
    second = read_digits(&cursor, 2);
    if (second < 0)
        return -1;

    if (*cursor == '.') {
        cursor++;
        if (*cursor < '0' || *cursor > '9')
            return -1;
        while (*cursor >= '0' && *cursor <= '9')
            cursor++;
    }
    if (*cursor == 'Z')
        cursor++;
    if (*cursor != '\0')
        return -1;

    /* wharfd counts time in milliseconds since 1970 and rejects earlier
     * times. Second 60 is a leap second, which wharfd also accepts. */
    if (year < 1970 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60)
        return -1;
    return 0;
}

/* Turn an age such as "30m" into the ISO 8601 UTC time that long ago.
 * Returns 0, or -1 when text is not an age of at most the maximum. */
static int age_to_time(const char *text, char *since, size_t size)
{
    static const struct {
        char unit;
        long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    const long max_seconds = (long)LOG_FILTERS_MAX_AGE_DAYS * 86400;
    char *end;
    long amount;

    /* strtol() would also take leading spaces and a sign. */
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    amount = strtol(text, &end, 10);
    if (errno != 0 || end[0] == '\0' || end[1] != '\0')
        return -1;

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        time_t moment;
        struct tm utc;

        if (end[0] != units[i].unit)
            continue;
        if (amount > max_seconds / units[i].seconds)
            return -1;
        moment = time(NULL) - (time_t)(amount * units[i].seconds);
        if (gmtime_r(&moment, &utc) == NULL ||
            strftime(since, size, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
            return -1;
        return 0;
    }
    return -1;
}

int log_filters_since(const char *text, char *since, size_t size)
{
    size_t length = strlen(text);

    if (check_iso_time(text) == 0) {
        if (length >= size)
            return -1;
        memcpy(since, text, length + 1);
        return 0;
    }
    return age_to_time(text, since, size);
}
