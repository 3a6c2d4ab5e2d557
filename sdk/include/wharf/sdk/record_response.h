/*
 * Per-record outcomes from the JSON body of a batch response, for
 * destinations that respond to a request of several records with one body
 * listing the records that succeeded and those that failed, each named by
 * a key the request gave it (a position, an id, an email address):
 *
 *   {"results": [{"id": "0"}, ...],
 *    "errors": [{"category": "VALIDATION_ERROR", "message": "...",
 *                "context": {"id": ["1"]}}]}
 *
 * Paths are member names separated by dots ("context.id"). An array met
 * at the end of a path gives every string in it; a number is compared as
 * its decimal text.
 */
#ifndef WHARF_SDK_RECORD_RESPONSE_H
#define WHARF_SDK_RECORD_RESPONSE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where a response body lists records; a NULL path is not looked for. */
typedef struct wharf_record_response_format {
    const char *results_path;     /* array of succeeded records, "results" */
    const char *result_key_path;  /* key inside one result, "id" */
    const char *errors_path;      /* array of failures, "errors" */
    const char *error_key_path;   /* key(s) inside one failure, "context.id" */
    const char *error_code_path;  /* machine-readable code, "category" */
    const char *error_message_path; /* text for operators, "message" */
} wharf_record_response_format;

typedef enum wharf_record_state {
    WHARF_RECORD_UNLISTED = 0, /* the response does not name the record */
    WHARF_RECORD_SUCCEEDED = 1,
    WHARF_RECORD_FAILED = 2
} wharf_record_state;

typedef struct wharf_record_outcome {
    wharf_record_state state;
    char code[64];     /* FAILED: the error's code, "" when it has none */
    char message[256]; /* FAILED: the error's message, control characters replaced */
} wharf_record_outcome;

/* Parse body (body_size bytes; need not be NUL-terminated) and fill
 * outcomes[i] for the record whose key is keys[i], for i below key_count.
 * A failure listed for a record wins over a success listed for it. Keys
 * that the body names but keys does not contain are counted in
 * *unmatched (may be NULL).
 *
 * Returns 0; -EINVAL when the body is not a JSON object, with a reason
 * quoting its start; or -ENOMEM. */
int wharf_record_response_parse(const char *body, size_t body_size,
                                const wharf_record_response_format *format,
                                const char *const *keys, size_t key_count,
                                wharf_record_outcome *outcomes, size_t *unmatched,
                                char *reason, size_t reason_size);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_RECORD_RESPONSE_H */
