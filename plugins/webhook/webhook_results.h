/*
 * Per-message results in a 2xx response body. A destination may respond to
 * a request of N messages with {"results": [...]}, one entry per message in
 * the order sent, each {"status": "ok" | "retry" | "error" | "skip",
 * "reason": "...", "retry_after_seconds": N}. A 2xx body of {"error": ...}
 * or {"errors": ...} without "results" fails every message. A body declared
 * as JSON that does not parse retries every message. Any other 2xx body
 * means every message succeeded.
 */
#ifndef WHARF_WEBHOOK_RESULTS_H
#define WHARF_WEBHOOK_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/host.h"

/* Maximum size of a reason the parser writes, terminator included. */
#define WEBHOOK_RESULT_REASON_SIZE 320

/* Result of one message of the request. */
typedef struct webhook_item_result {
    wharf_result_kind kind;
    int64_t retry_after_ms; /* RETRY only: the entry's delay, or -1 for none */
    char reason[WEBHOOK_RESULT_REASON_SIZE]; /* empty for SUCCESS */
} webhook_item_result;

/* Parse the body of a 2xx response (status) to a request that carried
 * count messages, and write one result per message into items[0 .. count).
 * A body that is not JSON but is declared as JSON by content_type (the
 * response's Content-Type header, or NULL) gives every message a RETRY,
 * because whether the destination took the messages is unknown. Returns 0,
 * or -ENOMEM. */
int webhook_results_parse(long status, const char *content_type, const char *body,
                          size_t body_size, webhook_item_result *items, size_t count);

#endif /* WHARF_WEBHOOK_RESULTS_H */
