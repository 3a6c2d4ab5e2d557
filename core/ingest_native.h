/*
 * The native ingest API (POST /api/v1/users and /api/v1/accounts): request
 * bodies parsed into entity changes.
 *
 * One entity:
 *   {"claims": {"external_id", "email", "anonymous_id"},   (users)
 *    "attributes": {...},
 *    "account": {"external_id", "domain", "anonymous_id"}} (users only)
 * with account claims external_id, domain and anonymous_id on
 * /api/v1/accounts. Many: {"users": [entity, ...]} or
 * {"accounts": [entity, ...]}. Attribute writes follow ingest_attributes.h.
 *
 * Claims are strings (a number where a claim belongs is an error naming
 * it); emails and domains are normalized as ingest_claims.h describes. A
 * malformed domain never fails the call: it is left out with a warning,
 * and only an entity left with no claim at all is rejected.
 */
#ifndef WHARF_CORE_INGEST_NATIVE_H
#define WHARF_CORE_INGEST_NATIVE_H

#include <stddef.h>

#include "ingest_result.h"

struct json_object;

typedef enum ingest_native_kind {
    INGEST_NATIVE_USERS = 1, /* POST /api/v1/users -> CHANGE_USER */
    INGEST_NATIVE_ACCOUNTS   /* POST /api/v1/accounts -> CHANGE_ACCOUNT */
} ingest_native_kind;

/* Parse a request body (already inflated if it was gzip). result is an
 * empty result, zeroed (= {0}) or from ingest_result_init(); the caller
 * clears it with ingest_result_clear() whatever the return.
 *
 * Returns 0 when the body was read: result contains the valid entities'
 * changes and, for a bulk body, {"index", "error"} for each rejected
 * entity (its neighbours are kept). Returns -EINVAL (respond 400) with a
 * message when the body as a whole is invalid: malformed JSON, not an
 * object, a bulk member that is not an array, or a single entity that is
 * invalid. -ENOMEM (respond 500). */
int ingest_native_parse(const char *body, size_t size, ingest_native_kind kind,
                        ingest_result *result, char *error, size_t error_size);

#endif
