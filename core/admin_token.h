/*
 * Bearer tokens that authenticate requests to the admin API (/api/v1/).
 *
 * Clients send "Authorization: Bearer TOKEN" (RFC 6750 section 2.1). With no
 * token configured the admin API is open, which wharfd allows only on a
 * loopback address. Once one token is configured, every admin request must
 * carry one of the configured tokens. Several tokens may be configured at
 * once, so that a new token can be rolled out before the old one is removed.
 *
 * No function here writes a token, or any part of one, into a message.
 */
#ifndef WHARF_CORE_ADMIN_TOKEN_H
#define WHARF_CORE_ADMIN_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A shorter token is too easy to guess; 16 characters of hex are 64 bits. */
#define ADMIN_TOKEN_MIN_LENGTH 16
#define ADMIN_TOKEN_MAX_LENGTH 512

/* A token file larger than this contains something other than tokens. */
#define ADMIN_TOKEN_FILE_MAX_SIZE (64 * 1024)

typedef struct admin_token_set {
    char **tokens;
    size_t count;

    /* Log lines about rejected requests are written at most once per
     * interval, with the number of rejections since the previous line. */
    uint64_t rejection_logged_at_ms;
    unsigned rejections_not_logged;
} admin_token_set;

/* Check that token can be sent as a bearer token and is long enough.
 * source names where it came from ("--admin-token", "FILE:3") for the
 * message. Returns 0, or -EINVAL with a message that never contains the
 * token. */
int admin_token_validate(const char *token, const char *source, char *error,
                         size_t error_size);

/* Validate token and add a copy of it to set; a token already in set is not
 * added again. Returns 0, -EINVAL with a message, or -ENOMEM. */
int admin_token_add(admin_token_set *set, const char *token, const char *source,
                    char *error, size_t error_size);

/* Add the tokens in the file at path: one per line, with blank lines and
 * lines starting with '#' ignored and spaces around a token removed. The
 * file is rejected when it is not a regular file, is larger than
 * ADMIN_TOKEN_FILE_MAX_SIZE, contains no token, is readable by every user or
 * writable by others than its owner. Returns 0, or a negative errno value
 * with a message that names the path, the line and the fix. */
int admin_token_load_file(admin_token_set *set, const char *path, char *error,
                          size_t error_size);

/* Whether admin requests must carry a token. */
bool admin_token_required(const admin_token_set *set);

/* Check the Authorization header value (NULL when absent) of an admin
 * request. Returns 0 when no token is required or one of the tokens
 * matches. Otherwise returns -EACCES with a message that states what is
 * missing or wrong, and sets *invalid_token when a token was sent but
 * matched none (the case RFC 6750 calls "invalid_token"). Every configured
 * token is compared, each in time that depends only on the length of the
 * token sent. */
int admin_token_check(const admin_token_set *set, const char *authorization,
                      bool *invalid_token, char *error, size_t error_size);

/* Count a rejected request at now_ms and decide whether to log it. Returns
 * 0 when this one is not to be logged, else the number of rejections that
 * the log line covers (this one included). */
unsigned admin_token_count_rejection(admin_token_set *set, uint64_t now_ms);

/* Free every token; set is empty afterwards. Token memory is cleared before
 * it is freed. */
void admin_token_set_free(admin_token_set *set);

#endif
