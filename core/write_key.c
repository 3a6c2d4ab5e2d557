#include "write_key.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Maximum length of decoded Basic credentials. Longer ones cannot contain
 * a write key of a sane length and are treated as wrong. */
#define CREDENTIALS_MAX 1024

#define HOW_TO_SEND                                                                        \
    "send the write key as the user name of HTTP Basic authentication "                   \
    "(Authorization: Basic base64 of \"WRITE_KEY:\"), or as \"writeKey\" in the JSON body"

typedef enum header_state {
    HEADER_ABSENT,
    HEADER_MATCHES,
    HEADER_WRONG_KEY,
    HEADER_NOT_BASIC,
    HEADER_BAD_BASE64
} header_state;

bool write_key_equal(const char *configured, const char *candidate, size_t candidate_size)
{
    size_t configured_size = strlen(configured);
    /* Accumulate every difference instead of returning at the first one;
     * the length of configured is not treated as secret. */
    size_t difference = configured_size ^ candidate_size;

    if (configured_size == 0)
        return false;
    for (size_t i = 0; i < candidate_size; i++)
        difference |= (unsigned char)candidate[i] ^
                      (unsigned char)configured[i % configured_size];
    return difference == 0;
}

/* The value of a base64 digit (RFC 4648 section 4 alphabet), or -1. */
static int base64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode text[0..size) into output (at most output_size bytes). Padding
 * '=' is optional but must come last. Returns the decoded length, or -1
 * for invalid base64 or output that does not fit. */
static long base64_decode(const char *text, size_t size, unsigned char *output,
                          size_t output_size)
{
    uint32_t bits = 0;
    int bit_count = 0;
    size_t length = 0;
    size_t padding = 0;

    while (size > 0 && text[size - 1] == '=' && padding < 2) {
        size--;
        padding++;
    }
    /* One digit left over after full groups of four has only 6 bits, which
     * cannot encode a byte. */
    if (size % 4 == 1)
        return -1;

    for (size_t i = 0; i < size; i++) {
        int digit = base64_digit(text[i]);

        if (digit < 0)
            return -1;
        bits = (bits << 6) | (uint32_t)digit;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (length == output_size)
                return -1;
            output[length++] = (unsigned char)(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }
    return (long)length;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static header_state check_header(const char *configured, const char *authorization)
{
    unsigned char credentials[CREDENTIALS_MAX];
    const char *token;
    size_t token_size;
    const unsigned char *colon;
    long length;

    if (authorization == NULL)
        return HEADER_ABSENT;

    /* RFC 9110 section 11.1: the scheme name is case-insensitive. */
    while (is_space(*authorization))
        authorization++;
    if (strncasecmp(authorization, "Basic", 5) != 0 || !is_space(authorization[5]))
        return HEADER_NOT_BASIC;
    token = authorization + 5;
    while (is_space(*token))
        token++;
    token_size = strlen(token);
    while (token_size > 0 && is_space(token[token_size - 1]))
        token_size--;

    length = base64_decode(token, token_size, credentials, sizeof(credentials));
    if (length < 0)
        return HEADER_BAD_BASE64;

    /* RFC 7617: the user name ends at the first colon. */
    colon = memchr(credentials, ':', (size_t)length);
    if (colon != NULL)
        length = colon - credentials;
    return write_key_equal(configured, (const char *)credentials, (size_t)length)
               ? HEADER_MATCHES
               : HEADER_WRONG_KEY;
}

bool write_key_header_matches(const char *configured, const char *authorization)
{
    return check_header(configured, authorization) == HEADER_MATCHES;
}

int write_key_check(const char *configured, const char *authorization,
                    const char *body_write_key, char *error, size_t error_size)
{
    header_state header = check_header(configured, authorization);

    if (header == HEADER_MATCHES)
        return 0;
    if (body_write_key != NULL &&
        write_key_equal(configured, body_write_key, strlen(body_write_key)))
        return 0;

    if (header == HEADER_NOT_BASIC && body_write_key == NULL)
        snprintf(error, error_size,
                 "the Authorization header does not hold Basic credentials; " HOW_TO_SEND);
    else if (header == HEADER_BAD_BASE64 && body_write_key == NULL)
        snprintf(error, error_size,
                 "the Basic credentials in the Authorization header are not valid base64; "
                 HOW_TO_SEND);
    else if (header == HEADER_ABSENT && body_write_key == NULL)
        snprintf(error, error_size, "missing write key: " HOW_TO_SEND);
    else
        snprintf(error, error_size,
                 "invalid write key: the key sent is not the one wharfd was started with "
                 "(--write-key); " HOW_TO_SEND);
    return -EACCES;
}
