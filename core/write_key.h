/*
 * The write key that authenticates Segment Tracking API requests under /v1/.
 *
 * Segment clients send it as the user name of HTTP Basic authentication
 * with an empty password ("Authorization: Basic base64(KEY:)"). wharfd also
 * accepts any password, and a user name without a colon, because Segment's
 * servers still accept that from old clients. Segment's HTTP API also documents
 * the key as a top-level "writeKey" member of the JSON body, which
 * analytics-node sends alongside the header; it is accepted too, because it
 * is the same secret. A request passes when either credential matches.
 */
#ifndef WHARF_CORE_WRITE_KEY_H
#define WHARF_CORE_WRITE_KEY_H

#include <stdbool.h>
#include <stddef.h>

/* Whether authorization (the Authorization header value, or NULL) carries
 * configured as Basic credentials. Compares in time independent of the
 * contents of configured. */
bool write_key_header_matches(const char *configured, const char *authorization);

/* Check a request against configured (non-empty): authorization is the
 * Authorization header or NULL, body_write_key the body's top-level
 * "writeKey" or NULL. Returns 0 when either matches, else -EACCES (respond
 * 401) with a message that says how to send the key; the message never
 * contains the key sent or the configured one. */
int write_key_check(const char *configured, const char *authorization,
                    const char *body_write_key, char *error, size_t error_size);

/* Compare two strings in time that depends only on the length of
 * candidate, so that response times do not reveal how much of a guess was
 * right. */
bool write_key_equal(const char *configured, const char *candidate, size_t candidate_size);

#endif
