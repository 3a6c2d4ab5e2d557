#include "wharf/sdk/record_requests.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wharf_record_requests_free(wharf_record_requests *requests)
{
    for (size_t i = 0; i < requests->count; i++) {
        wharf_buffer_free(&requests->requests[i].body);
        free(requests->requests[i].indexes);
    }
    free(requests->requests);
    memset(requests, 0, sizeof(*requests));
}

static size_t text_length(const char *text)
{
    return text != NULL ? strlen(text) : 0;
}

/* Builder state: the request being filled, NULL until the first record. */
typedef struct record_builder {
    const wharf_record_format *format;
    wharf_record_requests *requests;
    wharf_record_request *open;
    size_t index_capacity;
} record_builder;

static int close_open_request(record_builder *builder)
{
    int rc;

    if (builder->open == NULL)
        return 0;
    rc = wharf_buffer_append_string(&builder->open->body,
                                    builder->format->suffix != NULL ? builder->format->suffix : "");
    if (rc == 0)
        builder->open = NULL;
    return rc;
}

static int open_request(record_builder *builder, size_t remaining)
{
    wharf_record_requests *requests = builder->requests;
    wharf_record_request *grown;
    size_t capacity = builder->format->max_records;

    grown = realloc(requests->requests, (requests->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    requests->requests = grown;
    builder->open = &grown[requests->count];
    memset(builder->open, 0, sizeof(*builder->open));
    requests->count++;

    if (capacity == 0 || capacity > remaining)
        capacity = remaining;
    builder->open->indexes = malloc((capacity > 0 ? capacity : 1) * sizeof(size_t));
    builder->index_capacity = capacity > 0 ? capacity : 1;
    if (builder->open->indexes == NULL)
        return -ENOMEM;
    return wharf_buffer_append_string(&builder->open->body,
                                      builder->format->prefix != NULL ? builder->format->prefix : "");
}

/* Non-zero when a record of record_size bytes does not fit into the open
 * request. */
static int record_overflows(const record_builder *builder, size_t record_size)
{
    const wharf_record_format *format = builder->format;
    const wharf_record_request *open = builder->open;
    size_t separator = open->count > 0 ? 1 : 0;

    if (format->max_records > 0 && open->count >= format->max_records)
        return 1;
    if (format->max_body_size == 0)
        return 0;
    return open->body.length + separator + record_size + text_length(format->suffix) >
           format->max_body_size;
}

static int add_record(record_builder *builder, size_t index, const wharf_buffer *record,
                      size_t remaining)
{
    wharf_record_request *open;
    size_t *grown;
    int rc;

    if (builder->open != NULL && record_overflows(builder, record->length)) {
        rc = close_open_request(builder);
        if (rc != 0)
            return rc;
    }
    if (builder->open == NULL) {
        rc = open_request(builder, remaining);
        if (rc != 0)
            return rc;
    }

    open = builder->open;
    if (open->count == builder->index_capacity) {
        grown = realloc(open->indexes, 2 * builder->index_capacity * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        open->indexes = grown;
        builder->index_capacity *= 2;
    }
    if (open->count > 0) {
        rc = wharf_buffer_append_char(&open->body, ',');
        if (rc != 0)
            return rc;
    }
    rc = wharf_buffer_append(&open->body, record->data, record->length);
    if (rc != 0)
        return rc;
    open->indexes[open->count++] = index;
    return 0;
}

/* Bytes a record may have so that a request holding only it fits. */
static size_t max_record_size(const wharf_record_format *format)
{
    size_t frame = text_length(format->prefix) + text_length(format->suffix);

    if (format->max_body_size == 0)
        return (size_t)-1;
    return format->max_body_size > frame ? format->max_body_size - frame : 0;
}

int wharf_record_requests_build(const wharf_host *host, wharf_batch *batch,
                                const size_t *indexes, size_t index_count,
                                const wharf_record_format *format,
                                wharf_record_write_fn write, void *context,
                                wharf_record_requests *requests)
{
    record_builder builder = {format, requests, NULL, 0};
    wharf_buffer record = WHARF_BUFFER_INIT;
    size_t record_limit = max_record_size(format);
    char reason[512];
    int written;
    int rc = 0;

    for (size_t i = 0; i < index_count; i++) {
        size_t index = indexes[i];
        const struct json_object *message;

        if (host->batch_has_result(batch, index))
            continue;
        message = host->batch_message(batch, index);

        wharf_buffer_clear(&record);
        reason[0] = '\0';
        written = write(context, message, index, &record, reason, sizeof(reason));
        if (written == -ENOMEM) {
            rc = -ENOMEM;
            break;
        }
        if (written == WHARF_RECORD_SKIP) {
            host->batch_set_result(batch, index, WHARF_RESULT_SKIP, 0, -1,
                                   reason[0] != '\0' ? reason : "skipped by the plugin");
            continue;
        }
        if (written != 0) {
            host->batch_set_result(batch, index, WHARF_RESULT_ERROR, 0, -1,
                                   reason[0] != '\0' ? reason : "record could not be written");
            continue;
        }

        if (record.length > record_limit) {
            snprintf(reason, sizeof(reason),
                     "record is %zu bytes, more than the %zu bytes one request may carry; "
                     "remove large attributes from the mapping or shorten their values",
                     record.length, record_limit);
            host->batch_set_result(batch, index, WHARF_RESULT_ERROR, 0, -1, reason);
            continue;
        }

        rc = add_record(&builder, index, &record, index_count - i);
        if (rc != 0)
            break;
    }

    if (rc == 0)
        rc = close_open_request(&builder);
    wharf_buffer_free(&record);
    return rc;
}
