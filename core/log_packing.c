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
