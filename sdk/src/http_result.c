#include "wharf/sdk/http_result.h"

#include <stdio.h>
#include <string.h>

#include "wharf/sdk/clock.h"
#include "wharf/sdk/retry_after.h"

const char *wharf_http_error_name(wharf_http_error error)
{
    switch (error) {
    case WHARF_HTTP_OK:
        return "no error";
    case WHARF_HTTP_ERR_RESOLVE:
        return "host name did not resolve";
    case WHARF_HTTP_ERR_CONNECT:
        return "connection failed";
    case WHARF_HTTP_ERR_TIMEOUT:
        return "request timed out";
    case WHARF_HTTP_ERR_TLS:
        return "TLS handshake or certificate verification failed";
    case WHARF_HTTP_ERR_TOO_LARGE:
        return "response body too large";
    case WHARF_HTTP_ERR_CANCELLED:
        return "request cancelled";
    case WHARF_HTTP_ERR_OTHER:
        return "transport failure";
    }
    return "unknown transport error";
}

/* Length of the longest prefix of text (at most max bytes) that does not end
 * inside a UTF-8 sequence, so a quote never ends with half a character. */
static size_t utf8_prefix_length(const char *text, size_t length, size_t max)
{
    size_t cut;
    size_t lead;
    size_t sequence;
    unsigned char byte;

    if (length <= max)
        return length;

    /* text[cut] is the first byte left out. When it continues a character,
     * step back to that character's lead byte. */
    cut = max;
    lead = cut;
    while (lead > 0 && cut - lead < 3 && ((unsigned char)text[lead] & 0xC0) == 0x80)
        lead--;

    byte = (unsigned char)text[lead];
    if (byte < 0x80)
        return cut;
    if ((byte & 0xE0) == 0xC0)
        sequence = 2;
    else if ((byte & 0xF0) == 0xE0)
        sequence = 3;
    else if ((byte & 0xF8) == 0xF0)
        sequence = 4;
    else
        return cut; /* not UTF-8; cut anywhere */

    return lead + sequence <= cut ? cut : lead;
}

/* Append text to reason, replacing control characters with spaces so that a
 * reason stays one line in logs. */
static void append_sanitised(char *reason, size_t reason_size, const char *text,
                             size_t length)
{
    size_t used = strlen(reason);
    size_t i;

    for (i = 0; i < length && used + 1 < reason_size; i++) {
        unsigned char byte = (unsigned char)text[i];

        reason[used++] = (byte < 0x20 || byte == 0x7f) ? ' ' : (char)byte;
    }
    reason[used] = '\0';
}

static void format_status_reason(const wharf_http_response *response,
                                 wharf_http_result *result)
{
    size_t body_size = response->body != NULL ? response->body_size : 0;
    size_t quoted;

    snprintf(result->reason, sizeof(result->reason), "HTTP %ld: ", response->status);
    if (body_size == 0) {
        append_sanitised(result->reason, sizeof(result->reason), "(empty body)", 12);
        return;
    }

    quoted = utf8_prefix_length(response->body, body_size, WHARF_HTTP_RESULT_BODY_MAX);
    append_sanitised(result->reason, sizeof(result->reason), response->body, quoted);
    if (quoted < body_size)
        append_sanitised(result->reason, sizeof(result->reason), "...", 3);
}

static void format_transport_reason(const wharf_http_response *response,
                                    wharf_http_result *result)
{
    const char *message = response->error_message;

    if (response->error == WHARF_HTTP_OK)
        message = "no HTTP status received";
    else if (message == NULL || message[0] == '\0')
        message = wharf_http_error_name(response->error);

    snprintf(result->reason, sizeof(result->reason), "transport error: ");
    append_sanitised(result->reason, sizeof(result->reason), message, strlen(message));
}

static int status_is_retryable(long status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

void wharf_http_result_classify(const wharf_http_response *response,
                                const char *retry_after, int64_t now_ms,
                                wharf_http_result *result)
{
    int64_t delay_ms;

    memset(result, 0, sizeof(*result));
    result->retry_after_ms = -1;
    result->status_code = (int)response->status;

    /* A body over max_response_size still came with a status: the
     * destination has decided, so the status decides, not the size. */
    if ((response->error != WHARF_HTTP_OK &&
         !(response->error == WHARF_HTTP_ERR_TOO_LARGE && response->status > 0)) ||
        response->status <= 0) {
        result->kind = WHARF_RESULT_RETRY;
        format_transport_reason(response, result);
        return;
    }

    if (response->status >= 200 && response->status <= 299) {
        result->kind = WHARF_RESULT_SUCCESS;
        return;
    }

    format_status_reason(response, result);
    if (!status_is_retryable(response->status)) {
        result->kind = WHARF_RESULT_ERROR;
        return;
    }

    result->kind = WHARF_RESULT_RETRY;
    if (retry_after != NULL && wharf_retry_after_parse(retry_after, now_ms, &delay_ms) == 0)
        result->retry_after_ms = delay_ms;
}

void wharf_http_result_from_response(const wharf_host *host,
                                     const wharf_http_response *response,
                                     wharf_http_result *result)
{
    const char *retry_after = NULL;

    if (host->http_response_header != NULL)
        retry_after = host->http_response_header(response, "Retry-After");
    wharf_http_result_classify(response, retry_after, wharf_clock_now_ms(), result);
}
