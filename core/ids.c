#include "ids.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

void id_generate(char id[ID_TEXT_SIZE])
{
    uint8_t bytes[16];
    size_t filled = 0;

    while (filled < sizeof(bytes)) {
        ssize_t got = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            /* Linux has had getrandom(2) since 3.17; without it ids would
             * not be unique, so stop rather than go on. */
            log_error("getrandom failed: %s", strerror(errno));
            abort();
        }
        filled += (size_t)got;
    }
    /* RFC 9562: version 4, variant 10. */
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80);

    id_format(bytes, id);
}

void id_format(const uint8_t bytes[ID_BYTES], char id[ID_TEXT_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;

    for (size_t i = 0; i < ID_BYTES; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            id[at++] = '-';
        id[at++] = hex[bytes[i] >> 4];
        id[at++] = hex[bytes[i] & 0x0f];
    }
    id[at] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int id_parse(const char *text, size_t length, uint8_t bytes[ID_BYTES])
{
    size_t filled = 0;

    if (length != ID_TEXT_SIZE - 1)
        return -1;
    for (size_t i = 0; i < length;) {
        int high;
        int low;

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -1;
            i++;
            continue;
        }
        high = hex_value(text[i]);
        low = hex_value(text[i + 1]);
        if (high < 0 || low < 0)
            return -1;
        bytes[filled++] = (uint8_t)(high << 4 | low);
        i += 2;
    }
    return 0;
}

void timestamp_format_ms(int64_t milliseconds, char text[TIMESTAMP_TEXT_SIZE])
{
    time_t seconds = (time_t)(milliseconds / 1000);
    int remainder = (int)(milliseconds % 1000);
    struct tm utc;
    size_t length;

    /* Round toward minus infinity so times before 1970 print correctly. */
    if (remainder < 0) {
        remainder += 1000;
        seconds -= 1;
    }
    gmtime_r(&seconds, &utc);
    length = strftime(text, TIMESTAMP_TEXT_SIZE, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(text + length, TIMESTAMP_TEXT_SIZE - length, ".%03dZ", remainder);
}

void timestamp_now(char text[TIMESTAMP_TEXT_SIZE])
{
    struct timeval now;

    gettimeofday(&now, NULL);
    timestamp_format_ms((int64_t)now.tv_sec * 1000 + now.tv_usec / 1000, text);
}
