/*
 * The webhook connector: POSTs messages as JSON arrays to one URL, one
 * request per chunk of batch_size messages.
 */
#ifndef WHARF_WEBHOOK_H
#define WHARF_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/plugin.h"
#include "wharf/sdk/buffer.h"

#define WEBHOOK_MAX_BATCH_SIZE 1000
#define WEBHOOK_MAX_TIMEOUT_MS 600000

/* Settings after validation. */
typedef struct webhook_config {
    char *url;
    /* The configured headers plus Content-Type: application/json, unless
     * the operator set a Content-Type of their own. */
    wharf_http_header *headers;
    size_t header_count;
    size_t batch_size;
    uint32_t timeout_ms;
} webhook_config;

/* One instance per connector. Immutable after create(), so encode() may
 * read it from a worker thread. */
typedef struct webhook {
    const wharf_host *host;
    wharf_connector *connector;
    webhook_config config;
} webhook;

/* One request: the messages at indexes[first .. first + count) of the
 * encoded batch. */
typedef struct webhook_chunk {
    size_t first;
    size_t count;
    size_t written; /* messages in body; 0 means there is nothing to send */
    wharf_buffer body;
} webhook_chunk;

/* What encode() attaches to a batch. */
typedef struct webhook_encoded {
    size_t *indexes; /* messages without a result when encode() ran */
    size_t index_count;
    webhook_chunk *chunks;
    size_t chunk_count;
} webhook_encoded;

/* Read and validate the settings. Returns 0, or -EINVAL / -ENOMEM with an
 * operator-facing message naming the setting in error. */
int webhook_config_read(const struct json_object *settings, webhook_config *config,
                        char *error, size_t error_size);
void webhook_config_free(webhook_config *config);

void webhook_encode(void *instance, wharf_batch *batch);

/* Give every message without a result a RETRY with reason, for failures
 * that are not the messages' fault (out of memory, wharfd stopping). */
void webhook_retry_pending(const wharf_host *host, wharf_batch *batch, const char *reason);

void webhook_send(void *instance, wharf_batch *batch);

#endif /* WHARF_WEBHOOK_H */
