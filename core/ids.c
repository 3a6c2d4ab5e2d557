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

    snprintf(id, ID_TEXT_SIZE,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6],
             bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13],
             bytes[14], bytes[15]);
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
