/*
 * encode() for the webhook: split the messages still without a result into
 * chunks of batch_size and serialise each chunk as one JSON array body.
 * It may run on a worker thread, so it calls only thread-safe host
 * functions and reads only the immutable instance.
 */
#include "webhook.h"

#include <errno.h>
#include <stdlib.h>

#include "wharf/sdk/batch_json.h"

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

static int encode_chunks(const webhook *hook, wharf_batch *batch, webhook_encoded *encoded)
{
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
