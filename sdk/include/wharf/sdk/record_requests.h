/*
 * Request bodies that carry one JSON record per message, such as
 * {"inputs": [{...}, {...}]}, split into requests by a record count and a
 * body size that the destination allows.
 *
 * The plugin writes each message's record with a callback. A record that
 * the callback rejects, or that is larger than the destination accepts,
 * gets its own result (ERROR or SKIP) and is left out. Its neighbours
 * still go.
 * Each request remembers the batch index of every record it carries, in
 * body order, so a response that names records by position or by a key can
 * be mapped back to messages.
 *
 * These functions call only thread-safe host functions, so encode() may use
 * them on a worker thread.
 */
#ifndef WHARF_SDK_RECORD_REQUESTS_H
#define WHARF_SDK_RECORD_REQUESTS_H

#include <stddef.h>

#include "wharf/host.h"
#include "wharf/sdk/buffer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

/* Return value of a record writer that skips its message. */
#define WHARF_RECORD_SKIP 1

/* Append the record for message (batch index index) to out, as one JSON
 * value. Return 0 when written; WHARF_RECORD_SKIP with a reason to skip the
 * message; -EINVAL with a reason when the message cannot be written (it
 * gets an ERROR); -ENOMEM. Whatever the writer appended before a non-zero
 * return is dropped. */
typedef int (*wharf_record_write_fn)(void *context, const struct json_object *message,
                                     size_t index, wharf_buffer *out, char *reason,
                                     size_t reason_size);

typedef struct wharf_record_format {
    const char *prefix; /* body text before the first record, "{\"inputs\":[" */
    const char *suffix; /* body text after the last record, "]}" */
    size_t max_records; /* records per request; 0 means no limit */
    /* Largest body in bytes, prefix and suffix included; 0 means no limit.
     * A record that cannot fit even alone gets an ERROR. */
    size_t max_body_size;
} wharf_record_format;

/* One request body and the batch indexes of its records, in body order. */
typedef struct wharf_record_request {
    wharf_buffer body;
    size_t *indexes;
    size_t count;
} wharf_record_request;

typedef struct wharf_record_requests {
    wharf_record_request *requests;
    size_t count;
} wharf_record_requests;

/* Write the messages at indexes[0..index_count) (skipping any that has a
 * result by now) into as few requests as format allows, appending them to
 * requests (which may already hold some, or be zeroed). Messages that the
 * writer rejects or that do not fit get their result here.
 *
 * Returns 0, or -ENOMEM; after -ENOMEM the requests built so far stay in
 * requests and the caller decides what the rest of the batch gets. */
int wharf_record_requests_build(const wharf_host *host, wharf_batch *batch,
                                const size_t *indexes, size_t index_count,
                                const wharf_record_format *format,
                                wharf_record_write_fn write, void *context,
                                wharf_record_requests *requests);

/* Release every request and leave requests empty. */
void wharf_record_requests_free(wharf_record_requests *requests);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_RECORD_REQUESTS_H */
