/*
 * The Segment Tracking API (POST /v1/identify, /v1/group, /v1/track and
 * /v1/batch): request bodies parsed into entity changes, and the responses
 * that Segment client libraries accept.
 *
 * Mapping (docs/ingest.md has the full list of rules):
 *   identify -> CHANGE_USER: userId, anonymousId and traits.email are the
 *               user's claims, every trait is a "set" attribute write.
 *   group    -> CHANGE_ACCOUNT: groupId is the account's external_id,
 *               traits.domain (or the host of traits.website) its domain,
 *               traits its attributes; userId/anonymousId link the user.
 *   track    -> CHANGE_EVENT: event, properties and timestamp on the user.
 *   page, screen, alias are valid Segment messages that wharfd has no use
 *   for: they are accepted and ignored.
 */
#ifndef WHARF_CORE_INGEST_SEGMENT_H
#define WHARF_CORE_INGEST_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "ingest_result.h"

struct json_object;

/* Limits of the Segment HTTP API, which Segment libraries already respect
 * when they build batches: 32 KB per message, 500 KB per request and 2500
 * messages per batch (KB = 1024 bytes). A message is measured as its
 * compact JSON text. */
#define INGEST_SEGMENT_MESSAGE_MAX (32 * 1024)
#define INGEST_SEGMENT_BODY_MAX (500 * 1024)
#define INGEST_SEGMENT_BATCH_MESSAGES_MAX 2500

typedef enum ingest_segment_endpoint {
    INGEST_SEGMENT_IDENTIFY = 1,
    INGEST_SEGMENT_GROUP,
    INGEST_SEGMENT_TRACK,
    INGEST_SEGMENT_BATCH
} ingest_segment_endpoint;

/* The endpoint for a request path such as "/v1/identify". Returns 0, or
 * -ENOENT for any other path. */
int ingest_segment_endpoint_from_path(const char *path, ingest_segment_endpoint *endpoint);

/* Parse a request body (already inflated if it was gzip) sent to endpoint.
 * received_at_ms is when the request arrived (Unix epoch ms), the last
 * fallback for an event's time. result is an empty result, zeroed (= {0})
 * or from ingest_result_init(); the caller clears it with
 * ingest_result_clear() whatever the return. result->write_key is set
 * whenever the body is a JSON object with a "writeKey" string.
 *
 * Returns 0 when the body was read: result contains the changes of the valid
 * messages and, for /v1/batch, {"index", "error"} for each rejected one.
 * Returns -EINVAL (respond 400) when the body as a whole is invalid, with a
 * message in error: malformed JSON, not an object, no "batch" array, or on
 * a single-message endpoint an invalid message; -E2BIG (respond 400) when
 * the body exceeds INGEST_SEGMENT_BODY_MAX; -ENOMEM (respond 500). */
int ingest_segment_parse(const char *body, size_t size, ingest_segment_endpoint endpoint,
                         int64_t received_at_ms, ingest_result *result, char *error,
                         size_t error_size);

/* The response to a request that ingest_segment_parse() read (returned 0):
 * 200 and {"success": true}, with "rejected" and "warnings" arrays when
 * they are not empty. Segment libraries count any 2xx as delivered and
 * never retry a 400, so a batch in which some messages were rejected still
 * gets 200 with the rejected list; a batch in which every message was
 * rejected gets 400 with {"success": false, "error", "rejected"}, so the
 * client logs the failure. Returns NULL when out of memory. */
struct json_object *ingest_segment_response(const ingest_result *result, int *status);

/* The response to a request that could not be read: {"success": false,
 * "error": message}, to send with 400 (or the status that goes with the
 * error). Returns NULL when out of memory. */
struct json_object *ingest_segment_error_response(const char *message);

#endif
