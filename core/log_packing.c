#include "log_packing.h"

#include <stdlib.h>
#include <string.h>

/* Key fragments of the claims and data that sync.c writes, each replaced
 * by its index plus one. JSON text contains no unescaped byte below 0x20,
 * so these codes cannot be mistaken for text. A fragment that begins
 * another one comes after it, because the first match wins. */
static const struct {
    const char *text;
    size_t length;
} fragments[] = {
#define FRAGMENT(text) {text, sizeof(text) - 1}
    FRAGMENT("{\"external_id\":"),
    FRAGMENT(",\"email\":"),
    FRAGMENT(",\"domain\":"),
    FRAGMENT(",\"anonymous_ids\":[]}"),
    FRAGMENT(",\"anonymous_ids\":["),
    FRAGMENT("{\"attempt\":"),
    FRAGMENT(",\"status_code\":"),
    FRAGMENT(",\"reason\":"),
    FRAGMENT(",\"retry_in_ms\":"),
    FRAGMENT("{\"reason\":"),
    FRAGMENT("{\"status_code\":"),
#undef FRAGMENT
};

#define FRAGMENT_COUNT (sizeof(fragments) / sizeof(fragments[0]))

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int log_id_pack(const char *text, size_t length, uint8_t bytes[LOG_ID_BYTES])
{
    size_t filled = 0;

    if (length != 36)
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

void log_id_unpack(const uint8_t bytes[LOG_ID_BYTES], char text[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;

    for (size_t i = 0; i < LOG_ID_BYTES; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[at++] = '-';
        text[at++] = hex[bytes[i] >> 4];
        text[at++] = hex[bytes[i] & 0x0f];
    }
    text[at] = '\0';
}

size_t log_text_pack(char *text, size_t length)
{
    size_t written = 0;

    for (size_t i = 0; i < length; i++) {
        if ((unsigned char)text[i] < 0x20)
            return 0;
    }
    for (size_t i = 0; i < length;) {
        size_t matched = 0;

        if (text[i] == '{' || text[i] == ',') {
            for (size_t f = 0; f < FRAGMENT_COUNT; f++) {
                if (fragments[f].length <= length - i &&
                    memcmp(text + i, fragments[f].text, fragments[f].length) == 0) {
                    text[written++] = (char)(f + 1);
                    matched = fragments[f].length;
                    break;
                }
            }
        }
        if (matched > 0) {
            i += matched;
            continue;
        }
        /* Every code is shorter than its fragment, so written never
         * passes i and the copy reads each byte before it is overwritten. */
        text[written++] = text[i++];
    }
    return written;
}

char *log_text_unpack(const char *packed, size_t length)
{
    size_t size = 1;
    char *text;
    char *at;

    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)packed[i];

        size += c >= 1 && c <= FRAGMENT_COUNT ? fragments[c - 1].length : 1;
    }
    text = malloc(size);
    if (text == NULL)
        return NULL;
    at = text;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)packed[i];

        if (c >= 1 && c <= FRAGMENT_COUNT) {
            memcpy(at, fragments[c - 1].text, fragments[c - 1].length);
            at += fragments[c - 1].length;
        } else {
            *at++ = (char)c;
        }
    }
    *at = '\0';
    return text;
}
