#include "utf8_text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* A byte that does not start a valid UTF-8 sequence decodes to this base
 * plus the byte: above U+10FFFF, so it never equals a real code point, and
 * distinct per byte, so invalid text still compares byte for byte. */
#define INVALID_BYTE_BASE 0x110000u

static uint64_t hash_seed;
static pthread_once_t hash_seed_once = PTHREAD_ONCE_INIT;

static void choose_hash_seed(void)
{
    uint64_t seed = 0;

    /* A random seed keeps client-chosen strings from being crafted to
     * collide in the intern tables. If getrandom fails the clock still
     * varies the seed between runs. */
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32);
    }
    hash_seed = seed;
}

static uint64_t current_seed(void)
{
    pthread_once(&hash_seed_once, choose_hash_seed);
    return hash_seed;
}

/* The 64-bit finalizer of MurmurHash3: every input bit affects every
 * output bit. */
static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t absorb(uint64_t h, uint64_t word)
{
    h ^= mix64(word);
    h = (h << 27) | (h >> 37);
    return h * 0x9e3779b97f4a7c15ull;
}

uint32_t utf8_hash(const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    uint64_t h = current_seed() ^ ((uint64_t)length * 0x9e3779b97f4a7c15ull);
    uint64_t word;

    while (length >= 8) {
        memcpy(&word, bytes, 8);
        h = absorb(h, word);
        bytes += 8;
        length -= 8;
    }

    word = 0;
    memcpy(&word, bytes, length);
    h = absorb(h, word ^ ((uint64_t)length << 56));
    return (uint32_t)(mix64(h) >> 32);
}

/* Decode one code point at text (length > 0); returns the bytes used, at
 * least 1. Overlong forms, surrogates and values above U+10FFFF are
 * invalid and decode one byte at a time. */
static size_t decode(const unsigned char *text, size_t length, uint32_t *code_point)
{
    uint32_t lead = text[0];
    uint32_t value;
    uint32_t minimum;
    size_t needed;

    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    }
    if (lead >= 0xc2 && lead <= 0xdf) {
        needed = 1;
        value = lead & 0x1f;
        minimum = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        needed = 2;
        value = lead & 0x0f;
        minimum = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        needed = 3;
        value = lead & 0x07;
        minimum = 0x10000;
    } else {
        goto invalid;
    }

    if (length <= needed)
        goto invalid;
    for (size_t i = 1; i <= needed; i++) {
        if ((text[i] & 0xc0) != 0x80)
            goto invalid;
        value = (value << 6) | (text[i] & 0x3f);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        goto invalid;
    *code_point = value;
    return needed + 1;

invalid:
    *code_point = INVALID_BYTE_BASE + lead;
    return 1;
}

/* Encode one code point (or an invalid byte kept as itself); returns the
 * bytes written, at most 4. */
static size_t encode(uint32_t code_point, unsigned char *out)
{
    if (code_point >= INVALID_BYTE_BASE) {
        out[0] = (unsigned char)(code_point - INVALID_BYTE_BASE);
        return 1;
    }
    if (code_point < 0x80) {
        out[0] = (unsigned char)code_point;
        return 1;
    }
    if (code_point < 0x800) {
        out[0] = (unsigned char)(0xc0 | (code_point >> 6));
        out[1] = (unsigned char)(0x80 | (code_point & 0x3f));
        return 2;
    }
    if (code_point < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (code_point >> 12));
        out[1] = (unsigned char)(0x80 | ((code_point >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (code_point & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (code_point >> 18));
    out[1] = (unsigned char)(0x80 | ((code_point >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((code_point >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (code_point & 0x3f));
    return 4;
}

static uint32_t fold_latin(uint32_t c)
{
    if (c == 0xb5)
        return 0x3bc; /* micro sign folds to Greek small mu */
    if (c >= 0xc0 && c <= 0xde && c != 0xd7)
        return c + 0x20;
    if (c < 0x100)
        return c;

    /* Latin Extended-A pairs capital and small letters, with the capital
     * on even code points in two runs and on odd ones in two others.
     * U+0130 and U+0149 fold only to several characters or in Turkish. */
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
        return c;
    if (c == 0x178)
        return 0xff;
    if (c == 0x17f)
        return 's';
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
        return (c & 1) ? c + 1 : c;
    return c;
}

static uint32_t fold_greek_cyrillic(uint32_t c)
{
    if (c == 0x386)
        return 0x3ac;
    if (c >= 0x388 && c <= 0x38a)
        return c + 0x25;
    if (c == 0x38c)
        return 0x3cc;
    if (c == 0x38e || c == 0x38f)
        return c + 0x3f;
    if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
        return c + 0x20;
    if (c == 0x3c2)
        return 0x3c3; /* final sigma folds to sigma */
    if (c >= 0x400 && c <= 0x40f)
        return c + 0x50;
    if (c >= 0x410 && c <= 0x42f)
        return c + 0x20;
    return c;
}

uint32_t utf8_fold_code_point(uint32_t code_point)
{
    if (code_point < 0x80)
        return (code_point >= 'A' && code_point <= 'Z') ? code_point + 0x20 : code_point;
    if (code_point < 0x180)
        return fold_latin(code_point);
    if (code_point >= 0x370 && code_point < 0x430)
        return fold_greek_cyrillic(code_point);
    return code_point;
}

uint32_t utf8_folded_hash(const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    uint64_t h = current_seed() ^ 0x5bd1e9955bd1e995ull;
    size_t position = 0;
    uint64_t count = 0;

    while (position < length) {
        uint32_t code_point;

        position += decode(bytes + position, length - position, &code_point);
        h = absorb(h, utf8_fold_code_point(code_point));
        count++;
    }
    h = absorb(h, count);
    return (uint32_t)(mix64(h) >> 32);
}

char *utf8_fold_copy(const char *text, size_t length, size_t *folded_length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    /* Each input byte yields at most one code point of at most 4 bytes.
     * The bound is true whatever the fold table maps to. */
    unsigned char *folded = malloc(length * 4 + 1);
    size_t position = 0;
    size_t used = 0;

    if (folded == NULL)
        return NULL;
    while (position < length) {
        uint32_t code_point;

        position += decode(bytes + position, length - position, &code_point);
        used += encode(utf8_fold_code_point(code_point), folded + used);
    }
    folded[used] = '\0';
    *folded_length = used;
    return (char *)folded;
}

int utf8_fold_compare(const char *a, size_t a_length, const char *b, size_t b_length)
{
    const unsigned char *left = (const unsigned char *)a;
    const unsigned char *right = (const unsigned char *)b;
    size_t i = 0;
    size_t j = 0;

    while (i < a_length && j < b_length) {
        uint32_t x;
        uint32_t y;

        i += decode(left + i, a_length - i, &x);
        j += decode(right + j, b_length - j, &y);
        x = utf8_fold_code_point(x);
        y = utf8_fold_code_point(y);
        if (x != y)
            return x < y ? -1 : 1;
    }
    if (i < a_length)
        return 1;
    if (j < b_length)
        return -1;
    return 0;
}

/* Whether folded text at its start matches all of needle; *end receives
 * the bytes of text consumed. */
static int match_prefix(const unsigned char *text, size_t length, const unsigned char *needle,
                        size_t needle_length, size_t *end)
{
    size_t i = 0;
    size_t j = 0;

    while (j < needle_length) {
        uint32_t x;
        uint32_t y;

        if (i >= length)
            return 0;
        i += decode(text + i, length - i, &x);
        j += decode(needle + j, needle_length - j, &y);
        if (utf8_fold_code_point(x) != y)
            return 0;
    }
    *end = i;
    return 1;
}

int utf8_fold_starts_with(const char *text, size_t length, const char *needle,
                          size_t needle_length)
{
    size_t end;

    return match_prefix((const unsigned char *)text, length, (const unsigned char *)needle,
                        needle_length, &end);
}

static size_t count_code_points(const unsigned char *text, size_t length)
{
    size_t count = 0;
    uint32_t ignored;

    for (size_t i = 0; i < length; count++)
        i += decode(text + i, length - i, &ignored);
    return count;
}

int utf8_fold_ends_with(const char *text, size_t length, const char *needle,
                        size_t needle_length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    const unsigned char *folded = (const unsigned char *)needle;
    size_t text_points = count_code_points(bytes, length);
    size_t needle_points = count_code_points(folded, needle_length);
    size_t position = 0;
    size_t end;
    uint32_t ignored;

    /* Folding maps one code point to one, so a match is exactly the last
     * needle_points code points of text. */
    if (needle_points > text_points)
        return 0;
    for (size_t skipped = 0; skipped < text_points - needle_points; skipped++)
        position += decode(bytes + position, length - position, &ignored);
    return match_prefix(bytes + position, length - position, folded, needle_length, &end) &&
           position + end == length;
}

int utf8_fold_contains(const char *text, size_t length, const char *needle,
                       size_t needle_length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t position = 0;
    size_t end;
    uint32_t ignored;

    if (needle_length == 0)
        return 1;
    while (position < length) {
        if (match_prefix(bytes + position, length - position, (const unsigned char *)needle,
                         needle_length, &end))
            return 1;
        position += decode(bytes + position, length - position, &ignored);
    }
    return 0;
}
