#include "ingest_json.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Maximum length of a path in a message; longer paths are cut, which only
 * shortens the message. */
#define PATH_CAPACITY 256

typedef struct value_walk {
    char path[PATH_CAPACITY];
    size_t path_length;
    char *error;
    size_t error_size;
} value_walk;

static bool is_continuation(unsigned char byte)
{
    return (byte & 0xC0) == 0x80;
}

bool ingest_utf8_valid(const char *text, size_t size, size_t *bad_offset)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t at = 0;

    while (at < size) {
        unsigned char lead;
        uint64_t eight;

        /* Skip ASCII eight bytes at a time: most text in customer data is. */
        if (size - at >= 8) {
            memcpy(&eight, bytes + at, 8);
            if ((eight & UINT64_C(0x8080808080808080)) == 0) {
                at += 8;
                continue;
            }
        }
        lead = bytes[at];
        size_t length;
        /* The allowed range of the second byte narrows for some lead bytes
         * to exclude overlong forms (E0, F0), UTF-16 surrogates (ED) and
         * code points above U+10FFFF (F4), per RFC 3629 section 4. */
        unsigned char second_min = 0x80;
        unsigned char second_max = 0xBF;

        if (lead < 0x80) {
            at++;
            continue;
        }
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            if (lead == 0xE0)
                second_min = 0xA0;
            else if (lead == 0xED)
                second_max = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            if (lead == 0xF0)
                second_min = 0x90;
            else if (lead == 0xF4)
                second_max = 0x8F;
        } else {
            goto invalid;
        }

        if (size - at < length)
            goto invalid;
        if (bytes[at + 1] < second_min || bytes[at + 1] > second_max)
            goto invalid;
        for (size_t i = 2; i < length; i++) {
            if (!is_continuation(bytes[at + i]))
                goto invalid;
        }
        at += length;
    }
    return true;

invalid:
    if (bad_offset != NULL)
        *bad_offset = at;
    return false;
}

const char *ingest_json_type_name(const json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a number with a fraction";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "an unknown JSON type";
}

bool ingest_json_is_scalar(const json_object *value)
{
    json_type type = json_object_get_type(value);

    return type != json_type_object && type != json_type_array;
}

/* The path shown for the root value when the caller passed "". */
static const char *shown_path(const value_walk *walk)
{
    return walk->path_length > 0 ? walk->path : "the body";
}

int ingest_utf8_clip(const char *text, size_t max_bytes)
{
    size_t length = strnlen(text, max_bytes);

    /* Step back over continuation bytes (10xxxxxx) to the start of the
     * character that the cut would split, if any. */
    if (length == max_bytes && text[length] != '\0') {
        while (length > 0 && is_continuation((unsigned char)text[length]))
            length--;
    }
    if (length > 0x7FFFFFFF)
        length = 0x7FFFFFFF;
    return (int)length;
}

void ingest_utf8_cut_invalid(char *text)
{
    size_t bad_offset;

    if (!ingest_utf8_valid(text, strlen(text), &bad_offset))
        text[bad_offset] = '\0';
}

size_t ingest_path_append(char *path, size_t capacity, const char *separator,
                          const char *name)
{
    size_t length = strlen(path);
    size_t separator_length = strlen(separator);
    int name_length;

    if (capacity == 0 || length + separator_length + 1 >= capacity)
        return length;
    memcpy(path + length, separator, separator_length);
    length += separator_length;
    name_length = ingest_utf8_clip(name, capacity - length - 1);
    memcpy(path + length, name, (size_t)name_length);
    length += (size_t)name_length;
    path[length] = '\0';
    return length;
}

static void push_key(value_walk *walk, const char *key)
{
    walk->path_length = ingest_path_append(walk->path, sizeof(walk->path),
                                           walk->path_length > 0 ? "." : "", key);
}

static void push_index(value_walk *walk, size_t index)
{
    char text[24];

    snprintf(text, sizeof(text), "[%zu]", index);
    walk->path_length = ingest_path_append(walk->path, sizeof(walk->path), "", text);
}

static void pop_to(value_walk *walk, size_t length)
{
    walk->path_length = length;
    walk->path[length] = '\0';
}

static int check_text(value_walk *walk, const char *text, size_t size, const char *what)
{
    size_t bad_offset;
    const char *nul = memchr(text, '\0', size);

    if (nul != NULL) {
        snprintf(walk->error, walk->error_size,
                 "%s %s contains a NUL character (\\u0000) at byte %zu; "
                 "remove it, because wharfd stores text as C strings",
                 what, shown_path(walk), (size_t)(nul - text));
        return -EINVAL;
    }
    if (!ingest_utf8_valid(text, size, &bad_offset)) {
        snprintf(walk->error, walk->error_size,
                 "%s %s is not valid UTF-8 (invalid byte sequence at byte %zu); "
                 "send text encoded as UTF-8",
                 what, shown_path(walk), bad_offset);
        return -EINVAL;
    }
    return 0;
}

static int walk_value(value_walk *walk, json_object *value)
{
    size_t saved = walk->path_length;

    switch (json_object_get_type(value)) {
    case json_type_string:
        return check_text(walk, json_object_get_string(value),
                          (size_t)json_object_get_string_len(value), "the value of");
    case json_type_double:
        if (!isfinite(json_object_get_double(value))) {
            snprintf(walk->error, walk->error_size,
                     "the value of %s is not a finite number; JSON has no NaN or Infinity",
                     shown_path(walk));
            return -EINVAL;
        }
        return 0;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            int rc;

            push_index(walk, i);
            rc = walk_value(walk, json_object_array_get_idx(value, i));
            pop_to(walk, saved);
            if (rc < 0)
                return rc;
        }
        return 0;
    case json_type_object: {
        json_object_object_foreach(value, key, member) {
            int rc;

            /* NOTE: json-c cuts a key at an escaped \u0000, so such a key
             * arrives shortened and cannot be detected here. */
            rc = check_text(walk, key, strlen(key), "a key in");
            if (rc < 0)
                return rc;
            push_key(walk, key);
            rc = walk_value(walk, member);
            pop_to(walk, saved);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case json_type_null:
    case json_type_boolean:
    case json_type_int:
        return 0;
    }
    return 0;
}

/* Whether text is valid UTF-8 without a NUL, as check_text() requires. */
static bool text_acceptable(const char *text, size_t size)
{
    return memchr(text, '\0', size) == NULL && ingest_utf8_valid(text, size, NULL);
}

/* The checks of walk_value() without tracking the path: nearly every value
 * passes, and only a failure needs the path for its message. */
static bool value_acceptable(json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_string:
        return text_acceptable(json_object_get_string(value),
                               (size_t)json_object_get_string_len(value));
    case json_type_double:
        return isfinite(json_object_get_double(value));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            if (!value_acceptable(json_object_array_get_idx(value, i)))
                return false;
        }
        return true;
    case json_type_object: {
        json_object_object_foreach(value, key, member) {
            if (!text_acceptable(key, strlen(key)) || !value_acceptable(member))
                return false;
        }
        return true;
    }
    case json_type_null:
    case json_type_boolean:
    case json_type_int:
        return true;
    }
    return true;
}

int ingest_json_check_values(const json_object *value, const char *path, char *error,
                             size_t error_size)
{
    value_walk walk = {.error = error, .error_size = error_size};

    if (value_acceptable((json_object *)value))
        return 0;

    walk.path_length = ingest_path_append(walk.path, sizeof(walk.path), "", path);
    return walk_value(&walk, (json_object *)value);
}

static bool is_json_whitespace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * A parser for the common shape of request bodies that builds the same
 * json-c objects, in the same order, as json_tokener 0.16 in strict mode,
 * without the tokener's byte-by-byte state machine, which took about a
 * quarter of ingest's CPU time. It reads a subset of JSON and gives up on the rest.
 * It gives up on a \u escape, a control character in a string, and
 * whitespace other than space, tab, newline and carriage return. It gives
 * up on a number that is not in the form of RFC 8259 section 6, has more
 * than 18 integer digits or does not fit a finite double, and on the words
 * NaN and Infinity. It gives up on keys longer than FAST_KEY_MAX bytes and
 * on nesting deeper than FAST_DEPTH_MAX. json_tokener then parses the
 * whole body again, so that every document outside the subset, and every
 * error, reads exactly as before.
 */

/* Below json-c's default depth of 32 (JSON_TOKENER_DEFAULT_DEPTH). */
#define FAST_DEPTH_MAX 30
/* Maximum length of a number's text and of an object key that the fast
 * parser reads; longer ones are rare. */
#define FAST_NUMBER_MAX 64
#define FAST_KEY_MAX 255

typedef enum fast_result { FAST_OK, FAST_GIVE_UP } fast_result;

typedef struct fast_parser {
    const char *at;
    const char *end;
    int depth; /* containers entered; the root object or array is 1 */
    char *scratch; /* decoded strings and NUL-terminated keys */
    size_t scratch_capacity;
    const ingest_json_filter *filter; /* or NULL */
} fast_parser;

static void fast_skip_whitespace(fast_parser *p)
{
    while (p->at < p->end && is_json_whitespace(*p->at))
        p->at++;
}

static bool fast_reserve(fast_parser *p, size_t size)
{
    char *grown;
    size_t capacity = p->scratch_capacity == 0 ? 256 : p->scratch_capacity;

    if (size <= p->scratch_capacity)
        return true;
    while (capacity < size)
        capacity *= 2;
    grown = realloc(p->scratch, capacity);
    if (grown == NULL)
        return false;
    p->scratch = grown;
    p->scratch_capacity = capacity;
    return true;
}

/* Bytes that end a run of plain string text: the quote, the backslash and
 * the control characters. */
static const bool string_stop[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

/* The first byte from at (before end) that string_stop marks, or end.
 * With SSE2, which every x86-64 CPU has, it tests 16 bytes at a time,
 * because this loop was the largest part of parsing a batch. */
static const char *skip_plain_text(const char *at, const char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i last_control = _mm_set1_epi8(0x1f);

    while (end - at >= 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)at);
        /* A byte is at most 0x1f when the unsigned minimum leaves it. */
        __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, last_control), bytes);
        __m128i stops = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
            control);
        unsigned mask = (unsigned)_mm_movemask_epi8(stops);

        if (mask != 0)
            return at + __builtin_ctz(mask);
        at += 16;
    }
#endif
    while (at < end && !string_stop[(unsigned char)*at])
        at++;
    return at;
}

/* Read a string whose opening quote p->at points at. *text is either in
 * the body or, when the string has escapes or copy is set, in p->scratch
 * with a NUL after it. */
static fast_result fast_string(fast_parser *p, bool copy, const char **text, size_t *length)
{
    /* The two-character escapes of RFC 8259 section 7, without \u. */
    static const char escapes[] = "\"\\/bfnrt";
    static const char decoded[] = "\"\\/\b\f\n\r\t";
    const char *run = ++p->at; /* the bytes not yet copied start here */
    size_t used = 0;
    bool escaped = false;

    for (;;) {
        unsigned char c;
        const char *escape;

        p->at = skip_plain_text(p->at, p->end);
        if (p->at >= p->end)
            return FAST_GIVE_UP;
        c = (unsigned char)*p->at;
        if (c == '"')
            break;
        if (c < 0x20)
            return FAST_GIVE_UP;
        if (p->at + 1 >= p->end || p->at[1] == '\0' ||
            (escape = strchr(escapes, p->at[1])) == NULL)
            return FAST_GIVE_UP;
        if (!fast_reserve(p, used + (size_t)(p->at - run) + 1))
            return FAST_GIVE_UP;
        memcpy(p->scratch + used, run, (size_t)(p->at - run));
        used += (size_t)(p->at - run);
        p->scratch[used++] = decoded[escape - escapes];
        p->at += 2;
        run = p->at;
        escaped = true;
    }

    if (!escaped && !copy) {
        *text = run;
        *length = (size_t)(p->at - run);
        p->at++;
        return FAST_OK;
    }
    if (!fast_reserve(p, used + (size_t)(p->at - run) + 1))
        return FAST_GIVE_UP;
    memcpy(p->scratch + used, run, (size_t)(p->at - run));
    used += (size_t)(p->at - run);
    p->scratch[used] = '\0';
    *text = p->scratch;
    *length = used;
    p->at++;
    return FAST_OK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Read a number in the form of RFC 8259 section 6 as json-c would: an
 * integer as int64, anything with a fraction or exponent as a double that
 * keeps its text. value NULL checks the number without making it. */
static fast_result fast_number(fast_parser *p, json_object **value)
{
    const char *start = p->at;
    const char *digits;
    bool negative = false;
    bool is_double = false;
    char text[FAST_NUMBER_MAX + 1];
    size_t length;
    char *number_end;
    double number;

    if (p->at < p->end && *p->at == '-') {
        negative = true;
        p->at++;
    }
    digits = p->at;
    if (p->at >= p->end || !is_digit(*p->at))
        return FAST_GIVE_UP;
    if (*p->at == '0')
        p->at++;
    else
        while (p->at < p->end && is_digit(*p->at))
            p->at++;
    if (p->at < p->end && *p->at == '.') {
        is_double = true;
        p->at++;
        if (p->at >= p->end || !is_digit(*p->at))
            return FAST_GIVE_UP;
        while (p->at < p->end && is_digit(*p->at))
            p->at++;
    }
    if (p->at < p->end && (*p->at == 'e' || *p->at == 'E')) {
        is_double = true;
        p->at++;
        if (p->at < p->end && (*p->at == '+' || *p->at == '-'))
            p->at++;
        if (p->at >= p->end || !is_digit(*p->at))
            return FAST_GIVE_UP;
        while (p->at < p->end && is_digit(*p->at))
            p->at++;
    }
    length = (size_t)(p->at - start);

    if (!is_double) {
        uint64_t magnitude = 0;

        /* 18 digits stay below INT64_MAX, so nothing overflows. */
        if ((size_t)(p->at - digits) > 18)
            return FAST_GIVE_UP;
        if (value == NULL)
            return FAST_OK;
        for (const char *d = digits; d < p->at; d++)
            magnitude = magnitude * 10 + (uint64_t)(*d - '0');
        *value = json_object_new_int64(negative ? -(int64_t)magnitude : (int64_t)magnitude);
        return *value != NULL ? FAST_OK : FAST_GIVE_UP;
    }

    if (length > FAST_NUMBER_MAX)
        return FAST_GIVE_UP;
    memcpy(text, start, length);
    text[length] = '\0';
    errno = 0;
    number = strtod(text, &number_end);
    if (number_end != text + length || errno != 0 || !isfinite(number))
        return FAST_GIVE_UP;
    if (value == NULL)
        return FAST_OK;
    *value = json_object_new_double_s(number, text);
    return *value != NULL ? FAST_OK : FAST_GIVE_UP;
}

static fast_result fast_value(fast_parser *p, json_object **value, const char *member);

/* Read an array; member is the key whose value it is, or NULL. */
/* After an element or member: the closing bracket ends the container
 * (returns 1), a comma leads to the next one (returns 0), and anything
 * else is not valid JSON (returns -1). */
static int fast_next_or_close(fast_parser *p, char close)
{
    fast_skip_whitespace(p);
    if (p->at >= p->end)
        return -1;
    if (*p->at == close) {
        p->at++;
        return 1;
    }
    if (*p->at != ',')
        return -1;
    p->at++;
    fast_skip_whitespace(p);
    return 0;
}

static fast_result fast_array(fast_parser *p, json_object **value, const char *member)
{
    json_object *array = NULL;
    size_t index = 0;

    if (value != NULL && (array = json_object_new_array()) == NULL)
        return FAST_GIVE_UP;
    p->at++;
    fast_skip_whitespace(p);
    if (p->at < p->end && *p->at == ']') {
        p->at++;
        if (value != NULL)
            *value = array;
        return FAST_OK;
    }
    for (;; index++) {
        json_object *item = NULL;
        const char *item_start = p->at;

        if (fast_value(p, value != NULL ? &item : NULL, NULL) != FAST_OK)
            goto give_up;
        if (value != NULL && json_object_array_add(array, item) != 0) {
            json_object_put(item);
            goto give_up;
        }
        if (p->filter != NULL && p->filter->element != NULL && value != NULL &&
            p->depth == p->filter->element_depth)
            p->filter->element(p->filter->data, member, index, item_start,
                               (size_t)(p->at - item_start));
        switch (fast_next_or_close(p, ']')) {
        case 1:
            if (value != NULL)
                *value = array;
            return FAST_OK;
        case -1:
            goto give_up;
        }
    }

give_up:
    json_object_put(array);
    return FAST_GIVE_UP;
}

static fast_result fast_object(fast_parser *p, json_object **value)
{
    json_object *object = NULL;

    if (value != NULL && (object = json_object_new_object()) == NULL)
        return FAST_GIVE_UP;
    p->at++;
    fast_skip_whitespace(p);
    if (p->at < p->end && *p->at == '}') {
        p->at++;
        if (value != NULL)
            *value = object;
        return FAST_OK;
    }
    for (;;) {
        json_object *member = NULL;
        const char *key;
        size_t key_length;
        char key_copy[FAST_KEY_MAX + 1];
        const char *kept = NULL;

        if (p->at >= p->end || *p->at != '"' ||
            fast_string(p, true, &key, &key_length) != FAST_OK || key_length > FAST_KEY_MAX)
            goto give_up;
        /* The member's value may reuse the scratch buffer. */
        memcpy(key_copy, key, key_length + 1);
        if (value != NULL)
            kept = p->filter == NULL || p->filter->keep == NULL
                       ? key_copy
                       : p->filter->keep(p->filter->data, p->depth, key_copy);
        fast_skip_whitespace(p);
        if (p->at >= p->end || *p->at != ':')
            goto give_up;
        p->at++;
        fast_skip_whitespace(p);
        if (fast_value(p, kept != NULL ? &member : NULL, key_copy) != FAST_OK)
            goto give_up;
        /* A repeated key keeps its first place and takes the last value,
         * as json-c does. */
        if (kept != NULL &&
            json_object_object_add_ex(object, kept, member,
                                      kept == key_copy ? 0 : JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
            json_object_put(member);
            goto give_up;
        }
        switch (fast_next_or_close(p, '}')) {
        case 1:
            if (value != NULL)
                *value = object;
            return FAST_OK;
        case -1:
            goto give_up;
        }
    }

give_up:
    json_object_put(object);
    return FAST_GIVE_UP;
}

static bool fast_word(fast_parser *p, const char *word, size_t length)
{
    if ((size_t)(p->end - p->at) < length || memcmp(p->at, word, length) != 0)
        return false;
    p->at += length;
    return true;
}

/* Read the value at p->at into *value (NULL for JSON null), or with value
 * NULL only check it. member is the key whose value it is, or NULL. */
static fast_result fast_value(fast_parser *p, json_object **value, const char *member)
{
    fast_result result;
    const char *text;
    size_t length;

    if (value != NULL)
        *value = NULL;
    if (p->at >= p->end)
        return FAST_GIVE_UP;
    switch (*p->at) {
    case '{':
    case '[':
        if (++p->depth > FAST_DEPTH_MAX)
            return FAST_GIVE_UP;
        result = *p->at == '{' ? fast_object(p, value) : fast_array(p, value, member);
        p->depth--;
        return result;
    case '"':
        if (fast_string(p, false, &text, &length) != FAST_OK || length > INT32_MAX)
            return FAST_GIVE_UP;
        if (value == NULL)
            return FAST_OK;
        *value = json_object_new_string_len(text, (int)length);
        return *value != NULL ? FAST_OK : FAST_GIVE_UP;
    case 't':
        if (!fast_word(p, "true", 4))
            return FAST_GIVE_UP;
        if (value == NULL)
            return FAST_OK;
        *value = json_object_new_boolean(1);
        return *value != NULL ? FAST_OK : FAST_GIVE_UP;
    case 'f':
        if (!fast_word(p, "false", 5))
            return FAST_GIVE_UP;
        if (value == NULL)
            return FAST_OK;
        *value = json_object_new_boolean(0);
        return *value != NULL ? FAST_OK : FAST_GIVE_UP;
    case 'n':
        return fast_word(p, "null", 4) ? FAST_OK : FAST_GIVE_UP;
    default:
        if (*p->at == '-' || is_digit(*p->at))
            return fast_number(p, value);
        return FAST_GIVE_UP;
    }
}

/* Parse body as one document with fast_value(); false when json_tokener
 * has to. */
static bool fast_parse(const char *body, size_t size, const ingest_json_filter *filter,
                       json_object **root)
{
    fast_parser parser = {.at = body, .end = body + size, .filter = filter};
    json_object *document = NULL;
    bool parsed;

    fast_skip_whitespace(&parser);
    parsed = fast_value(&parser, &document, NULL) == FAST_OK;
    fast_skip_whitespace(&parser);
    if (parsed && parser.at != parser.end) {
        json_object_put(document);
        parsed = false;
    }
    free(parser.scratch);
    if (parsed)
        *root = document;
    return parsed;
}

/* The parse of ingest_json_parse(), with filter applied when the fast
 * parser reads the body (then *filtered is set). */
static int parse_body(const char *body, size_t size, const ingest_json_filter *filter,
                      bool *filtered, json_object **root, char *error, size_t error_size)
{
    json_tokener *tokener = NULL;
    json_object *document = NULL;
    enum json_tokener_error status;
    size_t end;
    int rc = -EINVAL;

    *root = NULL;
    *filtered = false;
    /* json-c takes the length as an int. */
    if (size > (size_t)0x7FFFFFFF) {
        snprintf(error, error_size, "request body of %zu bytes is too large to parse", size);
        goto out;
    }
    /* RFC 8259 section 8.1 lets a parser ignore a byte order mark, which
     * some Windows clients put before the document. */
    if (size >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        size -= 3;
    }
    end = 0;
    while (end < size && is_json_whitespace(body[end]))
        end++;
    if (end == size) {
        snprintf(error, error_size, "request body is empty; send a JSON object");
        goto out;
    }
    if (fast_parse(body, size, filter, root)) {
        *filtered = filter != NULL;
        return 0;
    }

    tokener = json_tokener_new();
    if (tokener == NULL) {
        rc = -ENOMEM;
        snprintf(error, error_size, "out of memory while parsing the request body");
        goto out;
    }
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
    document = json_tokener_parse_ex(tokener, body, (int)size);
    status = json_tokener_get_error(tokener);
    end = json_tokener_get_parse_end(tokener);
    /* A number at the very end of the body is complete only once json-c
     * reads a byte after it; a space is that byte and changes nothing else. */
    if (status == json_tokener_continue) {
        document = json_tokener_parse_ex(tokener, " ", 1);
        status = json_tokener_get_error(tokener);
        end = size;
    }
    if (status == json_tokener_continue) {
        snprintf(error, error_size, "malformed JSON: the body ends inside the document");
        goto out;
    }
    if (status != json_tokener_success) {
        snprintf(error, error_size, "malformed JSON at byte %zu: %s", end,
                 json_tokener_error_desc(status));
        goto out;
    }
    for (; end < size; end++) {
        if (!is_json_whitespace(body[end])) {
            snprintf(error, error_size,
                     "malformed JSON: unexpected data at byte %zu after the document", end);
            goto out;
        }
    }

    *root = document;
    document = NULL;
    rc = 0;

out:
    json_object_put(document);
    if (tokener != NULL)
        json_tokener_free(tokener);
    return rc;
}

int ingest_json_parse(const char *body, size_t size, json_object **root, char *error,
                      size_t error_size)
{
    bool filtered;

    return parse_body(body, size, NULL, &filtered, root, error, error_size);
}

int ingest_json_parse_filtered(const char *body, size_t size, const ingest_json_filter *filter,
                               json_object **root, char *error, size_t error_size)
{
    bool filtered;
    int rc = parse_body(body, size, filter, &filtered, root, error, error_size);

    if (rc < 0)
        return rc;
    return filtered ? 1 : 0;
}
