#include "bench_ingest_body.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user_generator.h"

/* What analytics-node 6 puts around traits, minus "_metadata": a fixed
 * event time keeps bodies identical from run to run. */
#define MESSAGE_TIME "2024-06-01T12:00:00.000Z"
#define LIBRARY_CONTEXT "{\"library\":{\"name\":\"analytics-node\",\"version\":\"6.2.0\"}}"

typedef struct text_buffer {
    char *data;
    size_t length;
    size_t capacity;
} text_buffer;

static int buffer_reserve(text_buffer *buffer, size_t more)
{
    size_t capacity = buffer->capacity == 0 ? 4096 : buffer->capacity;
    char *grown;

    if (buffer->length + more + 1 <= buffer->capacity)
        return 0;
    while (capacity < buffer->length + more + 1)
        capacity *= 2;
    grown = realloc(buffer->data, capacity);
    if (grown == NULL)
        return -1;
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

static int buffer_append(text_buffer *buffer, const char *text, size_t length)
{
    if (buffer_reserve(buffer, length) != 0)
        return -1;
    memcpy(buffer->data + buffer->length, text, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
    return 0;
}

static int buffer_printf(text_buffer *buffer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int buffer_printf(text_buffer *buffer, const char *format, ...)
{
    va_list arguments;
    int length;

    va_start(arguments, format);
    length = vsnprintf(NULL, 0, format, arguments);
    va_end(arguments);
    if (length < 0 || buffer_reserve(buffer, (size_t)length) != 0)
        return -1;
    va_start(arguments, format);
    vsnprintf(buffer->data + buffer->length, (size_t)length + 1, format, arguments);
    va_end(arguments);
    buffer->length += (size_t)length;
    return 0;
}

static void base64_encode(const char *input, char *output, size_t output_size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t length = strlen(input);
    size_t used = 0;

    for (size_t i = 0; i < length && used + 5 <= output_size; i += 3) {
        uint32_t group = (uint32_t)(unsigned char)input[i] << 16;

        if (i + 1 < length)
            group |= (uint32_t)(unsigned char)input[i + 1] << 8;
        if (i + 2 < length)
            group |= (uint32_t)(unsigned char)input[i + 2];
        output[used++] = alphabet[(group >> 18) & 63];
        output[used++] = alphabet[(group >> 12) & 63];
        output[used++] = i + 1 < length ? alphabet[(group >> 6) & 63] : '=';
        output[used++] = i + 2 < length ? alphabet[group & 63] : '=';
    }
    output[used] = '\0';
}

/* Append one identify message for user number. */
static int append_message(text_buffer *body, struct user_generator *generator, uint64_t number)
{
    json_object *traits = user_generator_next(generator, number);
    const char *traits_text;
    int rc;

    if (traits == NULL)
        return -1;
    traits_text =
        json_object_to_json_string_ext(traits, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    rc = buffer_printf(body,
                       "{\"type\":\"identify\",\"userId\":\"user-%llu\","
                       "\"messageId\":\"bench-%llu\",\"timestamp\":\"" MESSAGE_TIME "\","
                       "\"context\":" LIBRARY_CONTEXT ",\"traits\":%s}",
                       (unsigned long long)number, (unsigned long long)number, traits_text);
    json_object_put(traits);
    return rc;
}

static const char batch_start[] = "{\"batch\":[";
static const char batch_end[] = "],\"sentAt\":\"" MESSAGE_TIME "\"}";

/* Build one request of count messages starting at user first. */
static int build_request(struct user_generator *generator, uint64_t first, unsigned count,
                         const char *authorization, bench_request *request, size_t *body_bytes)
{
    text_buffer body = {0};
    text_buffer whole = {0};
    int rc = -1;

    if (buffer_append(&body, batch_start, sizeof(batch_start) - 1) != 0)
        goto out;
    for (unsigned i = 0; i < count; i++) {
        if (i > 0 && buffer_append(&body, ",", 1) != 0)
            goto out;
        if (append_message(&body, generator, first + i) != 0)
            goto out;
    }
    if (buffer_append(&body, batch_end, sizeof(batch_end) - 1) != 0)
        goto out;

    if (buffer_printf(&whole,
                      "POST /v1/batch HTTP/1.1\r\n"
                      "Host: 127.0.0.1\r\n"
                      "Authorization: Basic %s\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n"
                      "\r\n",
                      authorization, body.length) != 0 ||
        buffer_append(&whole, body.data, body.length) != 0)
        goto out;

    request->data = whole.data;
    request->size = whole.length;
    request->messages = count;
    *body_bytes += body.length;
    whole.data = NULL;
    rc = 0;

out:
    free(body.data);
    free(whole.data);
    return rc;
}

int bench_requests_build(struct user_generator *generator, uint64_t first_user,
                         uint64_t messages, unsigned per_request, const char *write_key,
                         bench_request_set *set, char *error, size_t error_size)
{
    char credentials[256];
    char authorization[400];
    size_t count = (size_t)((messages + per_request - 1) / per_request);

    memset(set, 0, sizeof(*set));
    /* Segment libraries send the write key as the Basic user name with an
     * empty password. */
    snprintf(credentials, sizeof(credentials), "%s:", write_key);
    base64_encode(credentials, authorization, sizeof(authorization));

    set->requests = calloc(count > 0 ? count : 1, sizeof(*set->requests));
    if (set->requests == NULL) {
        snprintf(error, error_size, "out of memory for %zu requests", count);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t first = first_user + (uint64_t)i * per_request;
        uint64_t left = messages - (uint64_t)i * per_request;
        unsigned in_this = left < per_request ? (unsigned)left : per_request;

        if (build_request(generator, first, in_this, authorization, &set->requests[i],
                          &set->body_bytes) != 0) {
            snprintf(error, error_size, "out of memory building request %zu of %zu", i + 1,
                     count);
            bench_requests_free(set);
            return -1;
        }
        set->count++;
        set->messages += in_this;
    }
    return 0;
}

void bench_requests_free(bench_request_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->requests[i].data);
    free(set->requests);
    memset(set, 0, sizeof(*set));
}
