/*
 * One parsed HTTP request: its URL, headers and body as http-parser hands
 * them over in pieces, and the accessors the handler reads them with.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_server_internal.h"

int http_text_append(http_text *text, const char *bytes, size_t length)
{
    size_t needed = text->length + length + 1;

    if (needed > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 64;
        char *data;

        while (capacity < needed)
            capacity *= 2;
        data = realloc(text->data, capacity);
        if (data == NULL)
            return -ENOMEM;
        text->data = data;
        text->capacity = capacity;
    }

    if (length > 0)
        memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
    return 0;
}

http_request *http_request_create(http_connection *connection)
{
    http_request *request = calloc(1, sizeof(*request));

    if (request == NULL)
        return NULL;
    request->connection = connection;
    request->method = "";
    return request;
}

void http_request_destroy(http_request *request)
{
    if (request == NULL)
        return;
    free(request->url.data);
    free(request->target);
    free(request->header_text.data);
    free(request->headers);
    free(request->body.data);
    free(request->response_headers.data);
    free(request);
}

/* RFC 9110 section 5.6.2: a field name is a token. */
static bool is_token(const char *text)
{
    static const char separators[] = "!#$%&'*+-.^_`|~";

    if (*text == '\0')
        return false;
    for (; *text != '\0'; text++) {
        unsigned char c = (unsigned char)*text;

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(separators, c) != NULL)))
            return false;
    }
    return true;
}

int http_request_add_response_header(http_request *request, const char *name,
                                     const char *value)
{
    size_t length = request->response_headers.length;
    int result;

    /* A CR or LF in a value would let it start a header of its own. */
    if (!is_token(name) || strpbrk(value, "\r\n") != NULL)
        return -EINVAL;

    result = http_text_append(&request->response_headers, name, strlen(name));
    if (result == 0)
        result = http_text_append(&request->response_headers, ": ", 2);
    if (result == 0)
        result = http_text_append(&request->response_headers, value, strlen(value));
    if (result == 0)
        result = http_text_append(&request->response_headers, "\r\n", 2);

    /* A header cut short by a failed allocation is taken out again. */
    if (result < 0 && request->response_headers.data != NULL) {
        request->response_headers.length = length;
        request->response_headers.data[length] = '\0';
    }
    return result;
}

int http_request_append_url(http_request *request, const char *bytes,
                            size_t length)
{
    return http_text_append(&request->url, bytes, length);
}

int http_request_append_body(http_request *request, const char *bytes,
                             size_t length)
{
    return http_text_append(&request->body, bytes, length);
}

/* Terminate the header being received. A name without a value gets "". */
static int request_end_header(http_request *request)
{
    http_header_entry *entry;
    int result = 0;

    if (request->header_state == HTTP_HEADER_NONE)
        return 0;

    entry = &request->headers[request->header_count - 1];
    if (request->header_state == HTTP_HEADER_FIELD) {
        result = http_text_append(&request->header_text, "", 1);
        entry->value_offset = request->header_text.length;
    }
    if (result == 0)
        result = http_text_append(&request->header_text, "", 1);

    request->header_state = HTTP_HEADER_NONE;
    return result;
}

static int request_start_header(http_request *request)
{
    int result = request_end_header(request);

    if (result < 0)
        return result;

    if (request->header_count == request->header_capacity) {
        size_t capacity = request->header_capacity ? request->header_capacity * 2 : 16;
        http_header_entry *headers =
            realloc(request->headers, capacity * sizeof(*headers));

        if (headers == NULL)
            return -ENOMEM;
        request->headers = headers;
        request->header_capacity = capacity;
    }

    request->headers[request->header_count].name_offset = request->header_text.length;
    request->headers[request->header_count].value_offset = request->header_text.length;
    request->header_count++;
    request->header_state = HTTP_HEADER_FIELD;
    return 0;
}

int http_request_append_header(http_request *request, bool is_value,
                               const char *bytes, size_t length)
{
    int result = 0;

    /* Trailer fields of a chunked body come after the header section. They
     * are dropped, so that they can never stand in for a header that the
     * handler trusts (RFC 9110 section 6.5.1). */
    if (request->target != NULL)
        return 0;

    /* http-parser may split a name or a value over several calls, and calls
     * the value callback only for a non-empty value. */
    if (!is_value && request->header_state != HTTP_HEADER_FIELD) {
        result = request_start_header(request);
    } else if (is_value && request->header_state == HTTP_HEADER_FIELD) {
        result = http_text_append(&request->header_text, "", 1);
        request->headers[request->header_count - 1].value_offset =
            request->header_text.length;
        request->header_state = HTTP_HEADER_VALUE;
    }
    if (result < 0)
        return result;

    return http_text_append(&request->header_text, bytes, length);
}

int http_request_finish_headers(http_request *request)
{
    struct http_parser_url parts;
    const char *url = request->url.data ? request->url.data : "";
    size_t url_length = request->url.length;
    size_t path_offset = 0;
    size_t path_length = url_length;
    size_t query_offset = 0;
    size_t query_length = 0;
    int result;

    result = request_end_header(request);
    if (result < 0 || request->target != NULL)
        return result;

    /* http_parser_parse_url() handles both "/path?query" and the absolute
     * form "http://host/path?query". A target that it rejects (such as "*")
     * is split by hand at the first '?'. */
    http_parser_url_init(&parts);
    if (http_parser_parse_url(url, url_length, 0, &parts) == 0) {
        path_length = 0;
        if (parts.field_set & (1 << UF_PATH)) {
            path_offset = parts.field_data[UF_PATH].off;
            path_length = parts.field_data[UF_PATH].len;
        }
        if (parts.field_set & (1 << UF_QUERY)) {
            query_offset = parts.field_data[UF_QUERY].off;
            query_length = parts.field_data[UF_QUERY].len;
        }
    } else {
        const char *question = memchr(url, '?', url_length);

        if (question != NULL) {
            path_length = (size_t)(question - url);
            query_offset = path_length + 1;
            query_length = url_length - query_offset;
        }
    }

    request->target = malloc(path_length + query_length + 2);
    if (request->target == NULL)
        return -ENOMEM;
    request->path = request->target;
    memcpy(request->path, url + path_offset, path_length);
    request->path[path_length] = '\0';
    request->query = request->path + path_length + 1;
    memcpy(request->query, url + query_offset, query_length);
    request->query[query_length] = '\0';
    return 0;
}

const char *http_request_method(const http_request *request)
{
    return request->method;
}

const char *http_request_path(const http_request *request)
{
    return request->path ? request->path : "";
}

const char *http_request_query(const http_request *request)
{
    return request->query ? request->query : "";
}

/* The first header with that name wins, and repeated headers are not
 * joined. No header that the API reads is a list, and http-parser itself
 * rejects conflicting Content-Length or Transfer-Encoding headers. */
const char *http_request_header(const http_request *request, const char *name)
{
    const char *text = request->header_text.data;

    for (size_t i = 0; i < request->header_count; i++) {
        if (strcasecmp(text + request->headers[i].name_offset, name) == 0)
            return text + request->headers[i].value_offset;
    }
    return NULL;
}

const char *http_request_body(const http_request *request, size_t *size)
{
    if (size != NULL)
        *size = request->body.length;
    return request->body.data ? request->body.data : "";
}

static int hex_digit_value(char digit)
{
    if (digit >= '0' && digit <= '9')
        return digit - '0';
    if (digit >= 'a' && digit <= 'f')
        return digit - 'a' + 10;
    if (digit >= 'A' && digit <= 'F')
        return digit - 'A' + 10;
    return -1;
}

/* Decode one byte of a form-encoded query component at *cursor and advance
 * past it. "%41" is 'A' and '+' is a space. A '%' that does not start two hex
 * digits is kept as it is. */
static char decode_query_byte(const char **cursor, const char *end)
{
    const char *at = *cursor;

    if (*at == '+') {
        *cursor = at + 1;
        return ' ';
    }
    if (*at == '%' && end - at >= 3) {
        int high = hex_digit_value(at[1]);
        int low = hex_digit_value(at[2]);

        if (high >= 0 && low >= 0) {
            *cursor = at + 3;
            return (char)(high * 16 + low);
        }
    }
    *cursor = at + 1;
    return *at;
}

static bool query_name_equals(const char *start, const char *end, const char *name)
{
    const char *cursor = start;

    while (cursor < end) {
        if (*name == '\0' || decode_query_byte(&cursor, end) != *name)
            return false;
        name++;
    }
    return *name == '\0';
}

/* Find the end of the query pair that starts at pair (the next '&', or end)
 * and its '=' (or that end when it has none). */
static void split_pair(const char *pair, const char *end, const char **pair_end,
                       const char **equals)
{
    *pair_end = memchr(pair, '&', (size_t)(end - pair));
    if (*pair_end == NULL)
        *pair_end = end;
    *equals = memchr(pair, '=', (size_t)(*pair_end - pair));
    if (*equals == NULL)
        *equals = *pair_end;
}

int http_request_query_each_name(const http_request *request,
                                 int (*fn)(const char *name, void *user_data),
                                 void *user_data)
{
    const char *query = http_request_query(request);
    const char *end = query + strlen(query);
    const char *pair = query;
    /* A decoded name is never longer than the query it comes from. */
    char *name = malloc((size_t)(end - query) + 1);
    int rc = 0;

    if (name == NULL)
        return -ENOMEM;
    while (pair < end && rc == 0) {
        const char *pair_end;
        const char *equals;
        const char *cursor = pair;
        size_t length = 0;

        split_pair(pair, end, &pair_end, &equals);

        /* "a=1&&b=2" and a trailing '&' hold empty pairs, which name nothing. */
        if (pair_end > pair) {
            while (cursor < equals)
                name[length++] = decode_query_byte(&cursor, equals);
            name[length] = '\0';
            rc = fn(name, user_data);
        }
        pair = pair_end + 1;
    }
    free(name);
    return rc;
}

/* The first parameter with that name wins. "?flag" without '=' has the value
 * "". A value that does not fit in buffer (with its NUL) gives -ENOSPC,
 * because a cut value could pass for a valid one. */
int http_request_query_value(const http_request *request, const char *name, char *buffer,
                             size_t buffer_size)
{
    const char *query = http_request_query(request);
    const char *end = query + strlen(query);
    const char *pair = query;

    while (pair < end) {
        const char *pair_end;
        const char *equals;
        const char *cursor;
        size_t length = 0;

        split_pair(pair, end, &pair_end, &equals);

        if (equals > pair && query_name_equals(pair, equals, name)) {
            cursor = equals < pair_end ? equals + 1 : pair_end;
            while (cursor < pair_end) {
                if (length + 1 >= buffer_size)
                    return -ENOSPC;
                buffer[length++] = decode_query_byte(&cursor, pair_end);
            }
            if (buffer_size == 0)
                return -ENOSPC;
            buffer[length] = '\0';
            return 1;
        }

        pair = pair_end + 1;
    }
    return 0;
}

const char *http_request_query_param(const http_request *request, const char *name,
                                     char *buffer, size_t buffer_size)
{
    return http_request_query_value(request, name, buffer, buffer_size) == 1 ? buffer : NULL;
}
