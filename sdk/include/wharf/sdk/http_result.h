/*
 * Mapping of an HTTP response onto a wharf result, the rule most HTTP
 * destinations follow:
 *
 *   2xx                               SUCCESS
 *   408, 429, 5xx, transport errors   RETRY (Retry-After becomes retry_after_ms)
 *   1xx, 3xx, other 4xx               ERROR
 *
 * Reasons quote at most WHARF_HTTP_RESULT_BODY_MAX bytes of the response
 * body, with control characters replaced, and never a request header, since
 * those may carry credentials.
 */
#ifndef WHARF_SDK_HTTP_RESULT_H
#define WHARF_SDK_HTTP_RESULT_H

#include <stdint.h>

#include "wharf/host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of the response body quoted in a reason. */
#define WHARF_HTTP_RESULT_BODY_MAX 200

typedef struct wharf_http_result {
    wharf_result_kind kind;
    int status_code;        /* HTTP status, or 0 when no response arrived */
    int64_t retry_after_ms; /* RETRY only: Retry-After delay, or -1 for none */
    /* Empty for SUCCESS. Otherwise "HTTP 400: <body>", "HTTP 404: (empty
     * body)" or "transport error: <message>". */
    char reason[320];
} wharf_http_result;

/* Classify response. retry_after is the response's Retry-After header value
 * or NULL (host->http_response_header(response, "Retry-After")); now_ms is
 * wharf_clock_now_ms() or a fixed time in tests. A Retry-After that does not
 * parse is ignored. */
void wharf_http_result_classify(const wharf_http_response *response,
                                const char *retry_after, int64_t now_ms,
                                wharf_http_result *result);

/* Classify with the host's header lookup and the current time. */
void wharf_http_result_from_response(const wharf_host *host,
                                     const wharf_http_response *response,
                                     wharf_http_result *result);

/* Human-readable name of a transport error, such as "connection failed". */
const char *wharf_http_error_name(wharf_http_error error);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_HTTP_RESULT_H */
