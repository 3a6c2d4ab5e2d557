/*
 * A batch's messages as a JSON array, the body most HTTP destinations take.
 *
 * Messages that already have a result (such as one that encode() could not
 * serialise) are not written. Messages that filter() skipped are not in the
 * batch at all. These functions call only thread-safe host
 * functions, so encode() may use them on a worker thread.
 */
#ifndef WHARF_SDK_BATCH_JSON_H
#define WHARF_SDK_BATCH_JSON_H

#include <stddef.h>

#include "wharf/host.h"
#include "wharf/sdk/buffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Collect the indexes of the messages without a result, in batch order, into
 * a newly allocated array (free() it; NULL when *count is 0). Returns 0 or
 * -ENOMEM. */
int wharf_batch_pending_indexes(const wharf_host *host, const wharf_batch *batch,
                                size_t **indexes, size_t *count);

/* Append the messages at indexes[0..index_count) as one JSON array, skipping
 * any that has a result by now. *written (may be NULL) receives the number
 * of messages written. A message that cannot be serialised (nesting deeper
 * than WHARF_JSON_MAX_DEPTH) gets an ERROR result naming the reason and is
 * left out. Returns 0 or -ENOMEM; on -ENOMEM the buffer keeps its old
 * length. */
int wharf_batch_append_json_array(const wharf_host *host, wharf_batch *batch,
                                  const size_t *indexes, size_t index_count,
                                  wharf_buffer *out, size_t *written);

/* Append every message of the batch that has no result as one JSON array.
 * Same contract as wharf_batch_append_json_array(). */
int wharf_batch_append_pending_json(const wharf_host *host, wharf_batch *batch,
                                    wharf_buffer *out, size_t *written);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_BATCH_JSON_H */
