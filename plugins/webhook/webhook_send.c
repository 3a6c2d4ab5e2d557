/*
 * send() for the webhook: one POST per encoded chunk, all started at once
 * (wharfd queues them behind the connector's connection limit). A response
 * sets the result of every message of its chunk, or one result per message
 * when a 2xx body carries "results" (webhook_results.h), and the last one
 * to finish completes the batch.
 */
#include "webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "webhook_results.h"
#include "wharf/sdk/http_result.h"

typedef struct webhook_send_state webhook_send_state;

typedef struct webhook_request {
    webhook_send_state *state;
    const webhook_chunk *chunk;
    size_t number; /* 1-based, for log lines */
} webhook_request;

struct webhook_send_state {
    const webhook *hook;
    wharf_batch *batch;
    const webhook_encoded *encoded;
    /* Requests started and not finished, plus one held by webhook_send()
     * until it has started them all, so that the batch cannot complete
     * while requests are still being started. */
    size_t outstanding;
    webhook_request requests[];
};

static void set_chunk_result(const webhook_send_state *state, const webhook_chunk *chunk,
                             wharf_result_kind kind, int status_code,
                             int64_t retry_after_ms, const char *reason)
{
    const wharf_host *host = state->hook->host;
    size_t i;

    for (i = 0; i < chunk->count; i++) {
        size_t index = state->encoded->indexes[chunk->first + i];

        /* Messages that encode() could not serialise keep their ERROR. */
        if (!host->batch_has_result(state->batch, index))
            host->batch_set_result(state->batch, index, kind, status_code,
                                   retry_after_ms, reason);
    }
}

/* Apply the per-message results of a 2xx body to the chunk's messages that
 * were in the request body, in order. Messages that already have a result
 * (from encode()) were left out of the body. Returns 0, or -ENOMEM with no
 * result set. */
static int set_item_results(const webhook_send_state *state, const webhook_chunk *chunk,
                            const wharf_http_response *response)
{
    const wharf_host *host = state->hook->host;
    const char *content_type = NULL;
    webhook_item_result *items;
    size_t position = 0;
    size_t i;
    int rc;

    items = calloc(chunk->written, sizeof(*items));
    if (items == NULL)
        return -ENOMEM;
    if (host->http_response_header != NULL)
        content_type = host->http_response_header(response, "Content-Type");
    rc = webhook_results_parse(response->status, content_type, response->body,
                               response->body_size, items, chunk->written);
    if (rc != 0) {
        free(items);
        return rc;
    }

    for (i = 0; i < chunk->count && position < chunk->written; i++) {
        size_t index = state->encoded->indexes[chunk->first + i];
        const webhook_item_result *item;

        if (host->batch_has_result(state->batch, index))
            continue;
        item = &items[position++];
        host->batch_set_result(state->batch, index, item->kind, (int)response->status,
                               item->retry_after_ms,
                               item->kind == WHARF_RESULT_SUCCESS ? NULL : item->reason);
    }
    free(items);
    return 0;
}

static void release_request(webhook_send_state *state)
{
    const wharf_host *host = state->hook->host;
    wharf_batch *batch = state->batch;

    state->outstanding--;
    if (state->outstanding > 0)
        return;

    /* batch_complete() may free the batch and everything attached to it, so
     * nothing of it is touched afterwards. */
    free(state);
    host->batch_complete(batch);
}

static void log_finished(const webhook_request *request, const wharf_http_response *response,
                         const char *outcome)
{
    const webhook_send_state *state = request->state;
    const webhook *hook = state->hook;

    hook->host->log(hook->connector, WHARF_LOG_DEBUG,
                    "request %zu of %zu (%zu messages) finished in %.3f s: %s",
                    request->number, state->encoded->chunk_count, request->chunk->written,
                    response->total_seconds, outcome);
}

static void request_done(void *user_data, const wharf_http_response *response)
{
    webhook_request *request = user_data;
    webhook_send_state *state = request->state;
    const webhook *hook = state->hook;
    wharf_http_result result;

    wharf_http_result_from_response(hook->host, response, &result);

    /* A body cut at the response size limit cannot be read, so its status
     * alone decides, as for any other response. */
    if (result.kind == WHARF_RESULT_SUCCESS && response->error == WHARF_HTTP_OK) {
        if (set_item_results(state, request->chunk, response) == 0) {
            log_finished(request, response, "2xx, results per message from the body");
            release_request(state);
            return;
        }
        result.kind = WHARF_RESULT_RETRY;
        snprintf(result.reason, sizeof(result.reason),
                 "out of memory while reading the response body");
    }

    set_chunk_result(state, request->chunk, result.kind, result.status_code,
                     result.retry_after_ms,
                     result.kind == WHARF_RESULT_SUCCESS ? NULL : result.reason);

    log_finished(request, response,
                 result.kind == WHARF_RESULT_SUCCESS ? "success" : result.reason);
    release_request(state);
}

/* Result for a request that wharfd did not start (rc from http_request). */
static void fail_unstarted(const webhook_send_state *state, const webhook_chunk *chunk,
                           int rc)
{
    if (rc == -EINVAL) {
        set_chunk_result(state, chunk, WHARF_RESULT_ERROR, 0, -1,
                         "transport error: wharfd rejected the request as invalid; "
                         "check the url setting");
        return;
    }
    if (rc == -ECANCELED) {
        set_chunk_result(state, chunk, WHARF_RESULT_RETRY, 0, -1,
                         "transport error: request cancelled because wharfd is stopping");
        return;
    }
    set_chunk_result(state, chunk, WHARF_RESULT_RETRY, 0, -1,
                     "transport error: wharfd could not start the request");
}

static void start_request(webhook_send_state *state, size_t number)
{
    const webhook *hook = state->hook;
    webhook_request *request = &state->requests[number - 1];
    const webhook_chunk *chunk = &state->encoded->chunks[number - 1];
    wharf_http_request http = {0};
    int rc;

    /* Every message of this chunk already has a result from encode(). */
    if (chunk->written == 0)
        return;

    request->state = state;
    request->chunk = chunk;
    request->number = number;

    http.struct_size = sizeof(http);
    http.method = "POST";
    http.url = hook->config.url;
    http.headers = hook->config.headers;
    http.header_count = hook->config.header_count;
    http.body = chunk->body.data;
    http.body_size = chunk->body.length;
    http.timeout_ms = hook->config.timeout_ms;

    state->outstanding++;
    rc = hook->host->http_request(hook->connector, &http, request_done, request);
    if (rc == 0)
        return;

    state->outstanding--;
    hook->host->log(hook->connector, WHARF_LOG_WARN,
                    "request %zu of %zu (%zu messages) was not started, error %d",
                    number, state->encoded->chunk_count, chunk->written, rc);
    fail_unstarted(state, chunk, rc);
}

void webhook_send(void *instance, wharf_batch *batch)
{
    webhook *hook = instance;
    const wharf_host *host = hook->host;
    const webhook_encoded *encoded = host->batch_encoded(batch);
    webhook_send_state *state;
    size_t number;

    /* wharfd calls encode() before send(); this covers a host that does not. */
    if (encoded == NULL) {
        webhook_encode(instance, batch);
        encoded = host->batch_encoded(batch);
    }
    if (encoded == NULL) {
        host->batch_complete(batch);
        return;
    }

    state = calloc(1, sizeof(*state) + encoded->chunk_count * sizeof(state->requests[0]));
    if (state == NULL) {
        host->log(hook->connector, WHARF_LOG_ERROR,
                  "out of memory while sending a batch of %zu messages; "
                  "they will be retried",
                  host->batch_count(batch));
        webhook_retry_pending(host, batch, "out of memory while starting the requests");
        host->batch_complete(batch);
        return;
    }
    state->hook = hook;
    state->batch = batch;
    state->encoded = encoded;
    state->outstanding = 1;

    for (number = 1; number <= encoded->chunk_count; number++)
        start_request(state, number);

    release_request(state);
}
