/*
 * encode() for the webhook: split the messages still without a result into
 * chunks of batch_size and write each chunk as one JSON array body. When
 * wharfd offers the messages as JSON text (host ABI 1.1), a body is those
 * texts joined with commas. Otherwise each message object is serialised.
 * It may run on a worker thread, so it calls only thread-safe host
 * functions and reads only the immutable instance.
 */
#include "webhook.h"

#include <errno.h>
#include <stdlib.h>

#include "wharf/sdk/batch_json.h"
#include "wharf/sdk/json_writer.h"

static void encoded_free(void *data)
{
    webhook_encoded *encoded = data;
    size_t i;

    if (encoded == NULL)
        return;
    for (i = 0; i < encoded->chunk_count; i++)
        wharf_buffer_free(&encoded->chunks[i].body);
    free(encoded->chunks);
    free(encoded->indexes);
    free(encoded);
}

void webhook_retry_pending(const wharf_host *host, wharf_batch *batch, const char *reason)
{
    size_t count = host->batch_count(batch);
    size_t i;

    for (i = 0; i < count; i++) {
        if (!host->batch_has_result(batch, i))
            host->batch_set_result(batch, i, WHARF_RESULT_RETRY, 0, -1, reason);
    }
}

/* Non-zero when the host table has batch_message_text (ABI 1.1 and later)
 * and it is set. */
static int host_offers_text(const wharf_host *host)
{
    return host->struct_size >=
               offsetof(wharf_host, batch_message_text) + sizeof(host->batch_message_text) &&
           host->batch_message_text != NULL;
}

/* Append the message at index as the next array element, serialised from
 * its object. Returns 1 when written, 0 when left out (no message, or one
 * that cannot be serialised, which gets an ERROR result), or -ENOMEM. */
static int append_message_object(const wharf_host *host, wharf_batch *batch, size_t index,
                                 int first, wharf_buffer *body)
{
    const struct json_object *message = host->batch_message(batch, index);
    size_t element_start = body->length;
    int rc;

    if (message == NULL)
        return 0;
    rc = first ? 0 : wharf_buffer_append_char(body, ',');
    if (rc == 0)
        rc = wharf_json_append(body, message);
    if (rc == 0)
        return 1;

    body->length = element_start;
    if (body->data != NULL)
        body->data[element_start] = '\0';
    if (rc == -ENOMEM)
        return rc;
    host->batch_set_result(batch, index, WHARF_RESULT_ERROR, 0, -1,
                           "message could not be encoded as JSON: nesting too deep");
    return 0;
}

/* The body of one chunk from the messages' texts: the same array that
 * wharf_batch_append_json_array() writes, without serialising objects. A
 * message that the host has no text for is serialised from its object.
 * Returns 0 or -ENOMEM. */
static int append_text_array(const wharf_host *host, wharf_batch *batch, const size_t *indexes,
                             size_t index_count, wharf_buffer *body, size_t *written)
{
    size_t needed = 2;
    size_t count = 0;
    size_t i;
    int rc;

    /* Size the body once: the texts, the commas and the brackets. */
    for (i = 0; i < index_count; i++) {
        size_t length = 0;

        if (host->batch_message_text(batch, indexes[i], &length) != NULL)
            needed += length + 1;
    }
    rc = wharf_buffer_reserve(body, needed);
    if (rc == 0)
        rc = wharf_buffer_append_char(body, '[');

    for (i = 0; rc == 0 && i < index_count; i++) {
        size_t length = 0;
        const char *text;

        if (host->batch_has_result(batch, indexes[i]))
            continue;
        text = host->batch_message_text(batch, indexes[i], &length);
        if (text == NULL) {
            rc = append_message_object(host, batch, indexes[i], count == 0, body);
            if (rc == 1) {
                count++;
                rc = 0;
            }
            continue;
        }
        if (count > 0)
            rc = wharf_buffer_append_char(body, ',');
        if (rc == 0)
            rc = wharf_buffer_append(body, text, length);
        count++;
    }
    if (rc == 0)
        rc = wharf_buffer_append_char(body, ']');
    if (rc != 0)
        return rc;

    *written = count;
    return 0;
}

static int encode_chunks(const webhook *hook, wharf_batch *batch, webhook_encoded *encoded)
{
    int use_text = host_offers_text(hook->host);
    const wharf_host *host = hook->host;
    size_t batch_size = hook->config.batch_size;
    size_t i;
    int rc;

    rc = wharf_batch_pending_indexes(host, batch, &encoded->indexes, &encoded->index_count);
    if (rc != 0)
        return rc;

    encoded->chunk_count = (encoded->index_count + batch_size - 1) / batch_size;
    if (encoded->chunk_count == 0)
        return 0;
    encoded->chunks = calloc(encoded->chunk_count, sizeof(*encoded->chunks));
    if (encoded->chunks == NULL) {
        encoded->chunk_count = 0;
        return -ENOMEM;
    }

    for (i = 0; i < encoded->chunk_count; i++) {
        webhook_chunk *chunk = &encoded->chunks[i];

        chunk->first = i * batch_size;
        chunk->count = encoded->index_count - chunk->first;
        if (chunk->count > batch_size)
            chunk->count = batch_size;

        if (use_text) {
            rc = append_text_array(host, batch, encoded->indexes + chunk->first, chunk->count,
                                   &chunk->body, &chunk->written);
            if (rc != 0)
                return rc;
            continue;
        }

        /* Chunks of one batch have about the same size, so the first one's
         * size spares the others the reallocations of growing from empty. */
        if (i > 0) {
            rc = wharf_buffer_reserve(&chunk->body, encoded->chunks[0].body.length +
                                                        encoded->chunks[0].body.length / 8);
            if (rc != 0)
                return rc;
        }
        rc = wharf_batch_append_json_array(host, batch, encoded->indexes + chunk->first,
                                           chunk->count, &chunk->body, &chunk->written);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void webhook_encode(void *instance, wharf_batch *batch)
{
    const webhook *hook = instance;
    const wharf_host *host = hook->host;
    webhook_encoded *encoded = calloc(1, sizeof(*encoded));
    int rc = -ENOMEM;

    if (encoded != NULL)
        rc = encode_chunks(hook, batch, encoded);

    if (rc != 0) {
        host->log(hook->connector, WHARF_LOG_ERROR,
                  "out of memory while encoding a batch of %zu messages; "
                  "they will be retried",
                  host->batch_count(batch));
        webhook_retry_pending(host, batch, "out of memory while encoding the request body");
        encoded_free(encoded);
        return;
    }

    host->batch_set_encoded(batch, encoded, encoded_free);
}
