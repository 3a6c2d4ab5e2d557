/*
 * One outgoing request and its response, private to the HTTP client.
 *
 * http_transfer.c validates and copies a wharf_http_request, prepares its
 * curl easy handle and records what comes back. http_client.c queues the
 * transfers in pools and runs them on the multi handle.
 */
#ifndef WHARF_CORE_HTTP_TRANSFER_H
#define WHARF_CORE_HTTP_TRANSFER_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"

typedef struct http_header_field {
    char *name; /* one allocation contains name and value */
    char *value;
} http_header_field;

/* Why a curl callback aborted the transfer. */
typedef enum http_transfer_abort {
    HTTP_TRANSFER_ABORT_NONE = 0,
    HTTP_TRANSFER_ABORT_BODY_TOO_LARGE,
    HTTP_TRANSFER_ABORT_HEADERS_TOO_LARGE,
    HTTP_TRANSFER_ABORT_OUT_OF_MEMORY
} http_transfer_abort;

typedef struct http_transfer {
    /* First member, so that http_response_header() finds the transfer from
     * the response pointer handed to the done callback. */
    wharf_http_response response;
    uint32_t magic;

    /* Set and used by http_client.c. */
    http_pool *pool;
    struct http_transfer *previous;
    struct http_transfer *next;
    int running; /* easy handle is added to the multi handle */
    wharf_http_done_fn done;
    void *user_data;

    CURL *easy;
    struct curl_slist *request_headers;
    char *method;
    char *url;
    char *target; /* scheme://host:port of the URL, safe to log */
    void *request_body;
    size_t max_response_size;

    char *body; /* NUL-terminated; response.body_size bytes before the NUL */
    size_t body_capacity;
    http_header_field *headers; /* of the final response only */
    size_t header_count;
    size_t header_capacity;
    size_t header_bytes; /* of all responses, interim 1xx ones included */
    http_transfer_abort abort;
    char error_buffer[CURL_ERROR_SIZE];
} http_transfer;

/* Validate request, copy everything it points to and prepare the easy
 * handle. log_label names the pool in log lines. Returns 0, -EINVAL (missing
 * or non-http(s) URL, invalid method or header) or -ENOMEM. */
int http_transfer_create(http_transfer **transfer, const char *log_label,
                         const wharf_http_request *request);

/* Free the transfer and its easy handle, which must not be in a multi handle. */
void http_transfer_free(http_transfer *transfer);

/* Fill transfer->response from curl's result, while the easy handle exists. */
void http_transfer_record_result(http_transfer *transfer, CURLcode result);

/* Fill transfer->response for a transfer cancelled before it finished. */
void http_transfer_record_cancel(http_transfer *transfer, const char *reason);

/* Fill transfer->response for a transfer curl did not accept; error is a
 * negative errno code. */
void http_transfer_record_start_failure(http_transfer *transfer, int error);

#endif
