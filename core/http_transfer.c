/*
 * One outgoing request: validation, a private copy of the request, the curl
 * easy handle options, response capture and the mapping of curl's result to
 * wharf_http_error.
 */
#include "http_transfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define HTTP_TRANSFER_MAGIC 0x77687466u /* "whtf" */

#define HTTP_TRANSFER_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_TRANSFER_DEFAULT_MAX_RESPONSE_SIZE ((size_t)1 << 20)

/* Keeps a server that streams header lines forever from growing memory. It
 * counts every header line received, interim 1xx responses included. */
#define HTTP_TRANSFER_MAX_HEADER_BYTES ((size_t)256 * 1024)

/* Validation. */

/* RFC 9110 token characters, used for method and header field names. */
static int http_is_token(const char *text)
{
    static const char symbols[] = "!#$%&'*+-.^_`|~";

    if (!text || text[0] == '\0')
        return 0;
    for (const char *c = text; *c; c++) {
        int alphanumeric = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                           (*c >= '0' && *c <= '9');
        if (!alphanumeric && !strchr(symbols, *c))
            return 0;
    }
    return 1;
}

/* A field value may not contain control characters other than HTAB, because
 * a CR or LF would let the value inject further header lines. */
static int http_is_field_value(const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
            return 0;
    }
    return 1;
}

static int http_transfer_validate(const char *log_label,
                                  const wharf_http_request *request)
{
    if (!request->url) {
        log_debug("http pool %s: rejected request: url is missing", log_label);
        return -EINVAL;
    }
    if (request->method && !http_is_token(request->method)) {
        log_debug("http pool %s: rejected request: method is not an HTTP token",
                  log_label);
        return -EINVAL;
    }
    if (request->header_count > 0 && !request->headers) {
        log_debug("http pool %s: rejected request: header_count is %zu but headers is NULL",
                  log_label, request->header_count);
        return -EINVAL;
    }
    for (size_t i = 0; i < request->header_count; i++) {
        const wharf_http_header *header = &request->headers[i];

        if (!http_is_token(header->name) || !header->value ||
            !http_is_field_value(header->value)) {
            log_debug("http pool %s: rejected request: header %zu has an invalid "
                      "name or a value with control characters",
                      log_label, i);
            return -EINVAL;
        }
    }
    if (request->body_size > 0 && !request->body) {
        log_debug("http pool %s: rejected request: body_size is %zu but body is NULL",
                  log_label, request->body_size);
        return -EINVAL;
    }
    if (request->method && strcmp(request->method, "HEAD") == 0 &&
        request->body_size > 0) {
        log_debug("http pool %s: rejected request: HEAD with a body", log_label);
        return -EINVAL;
    }
    return 0;
}

/* Check that url parses and is http or https, and set *target to its
 * scheme://host:port for log lines. The path and query stay out of logs
 * because they may carry tokens. */
static int http_transfer_parse_url(const char *log_label, const char *url,
                                   char **target)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    CURLUcode url_rc;
    int rc = -EINVAL;

    if (!parsed)
        return -ENOMEM;

    url_rc = curl_url_set(parsed, CURLUPART_URL, url, 0);
    if (url_rc != CURLUE_OK) {
        log_debug("http pool %s: rejected request: invalid URL: %s", log_label,
                  curl_url_strerror(url_rc));
        goto out;
    }

    if (curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        log_debug("http pool %s: rejected request: URL scheme \"%s\" is not http or https",
                  log_label, scheme ? scheme : "");
        goto out;
    }

    if (curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        log_debug("http pool %s: rejected request: URL has no host", log_label);
        goto out;
    }

    if (asprintf(target, "%s://%s:%s", scheme, host, port) < 0) {
        *target = NULL;
        rc = -ENOMEM;
        goto out;
    }
    rc = 0;

out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(parsed);
    return rc;
}

/* Response capture. */

static void http_transfer_clear_headers(http_transfer *transfer)
{
    for (size_t i = 0; i < transfer->header_count; i++)
        free(transfer->headers[i].name);
    transfer->header_count = 0;
}

/* Store name and value in one allocation. Returns 0 or -ENOMEM. */
static int http_header_field_set(http_header_field *field, const char *name,
                                 size_t name_length, const char *value,
                                 size_t value_length)
{
    char *memory = malloc(name_length + value_length + 2);

    if (!memory)
        return -ENOMEM;
    memcpy(memory, name, name_length);
    memory[name_length] = '\0';
    memcpy(memory + name_length + 1, value, value_length);
    memory[name_length + 1 + value_length] = '\0';

    field->name = memory;
    field->value = memory + name_length + 1;
    return 0;
}

static int http_transfer_add_header(http_transfer *transfer, const char *name,
                                    size_t name_length, const char *value,
                                    size_t value_length)
{
    if (transfer->header_count == transfer->header_capacity) {
        size_t capacity = transfer->header_capacity ? transfer->header_capacity * 2 : 16;
        http_header_field *fields =
            realloc(transfer->headers, capacity * sizeof(*fields));

        if (!fields)
            return -ENOMEM;
        transfer->headers = fields;
        transfer->header_capacity = capacity;
    }

    if (http_header_field_set(&transfer->headers[transfer->header_count], name,
                              name_length, value, value_length) < 0)
        return -ENOMEM;
    transfer->header_count++;
    return 0;
}

/* An obsolete folded line (RFC 9112 section 5.2) continues the previous
 * field's value, and is joined to it with one space. */
static int http_transfer_continue_header(http_transfer *transfer,
                                         const char *more, size_t more_length)
{
    http_header_field *last;
    http_header_field joined;
    size_t name_length;
    size_t value_length;
    char *value;
    int rc;

    if (transfer->header_count == 0)
        return 0;
    last = &transfer->headers[transfer->header_count - 1];
    name_length = strlen(last->name);
    value_length = strlen(last->value);

    value = malloc(value_length + more_length + 2);
    if (!value)
        return -ENOMEM;
    memcpy(value, last->value, value_length);
    value[value_length] = ' ';
    memcpy(value + value_length + 1, more, more_length);

    rc = http_header_field_set(&joined, last->name, name_length, value,
                               value_length + 1 + more_length);
    free(value);
    if (rc < 0)
        return rc;
    free(last->name);
    *last = joined;
    return 0;
}

static int http_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* CURLOPT_HEADERFUNCTION: one line per call, status line and CRLF included.
 * Returning anything but the line's length aborts the transfer. */
static size_t http_transfer_on_header(char *data, size_t size, size_t count,
                                      void *pointer)
{
    http_transfer *transfer = pointer;
    size_t length = size * count;
    size_t end = length;
    size_t colon;
    size_t name_end;
    size_t value_start;
    int rc;

    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n'))
        end--;

    transfer->header_bytes += length;
    if (transfer->header_bytes > HTTP_TRANSFER_MAX_HEADER_BYTES) {
        transfer->abort = HTTP_TRANSFER_ABORT_HEADERS_TOO_LARGE;
        return 0;
    }

    /* Each status line starts a response. Interim 1xx responses come first,
     * and only the final response's fields are kept. */
    if (end >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        http_transfer_clear_headers(transfer);
        return length;
    }
    if (end == 0)
        return length;

    if (http_is_blank(data[0])) {
        size_t start = 0;

        while (start < end && http_is_blank(data[start]))
            start++;
        while (end > start && http_is_blank(data[end - 1]))
            end--;
        rc = http_transfer_continue_header(transfer, data + start, end - start);
        goto out;
    }

    for (colon = 0; colon < end && data[colon] != ':'; colon++)
        ;
    if (colon == end)
        return length;

    name_end = colon;
    while (name_end > 0 && http_is_blank(data[name_end - 1]))
        name_end--;
    if (name_end == 0)
        return length;

    value_start = colon + 1;
    while (value_start < end && http_is_blank(data[value_start]))
        value_start++;
    while (end > value_start && http_is_blank(data[end - 1]))
        end--;

    rc = http_transfer_add_header(transfer, data, name_end, data + value_start,
                                  end - value_start);

out:
    if (rc < 0) {
        transfer->abort = HTTP_TRANSFER_ABORT_OUT_OF_MEMORY;
        return 0;
    }
    return length;
}

/* CURLOPT_WRITEFUNCTION: append to the body, or abort once it would pass
 * max_response_size so an endless body cannot grow memory. */
static size_t http_transfer_on_body(char *data, size_t size, size_t count,
                                    void *pointer)
{
    http_transfer *transfer = pointer;
    size_t length = size * count;
    size_t used = transfer->response.body_size;

    if (length > transfer->max_response_size - used) {
        transfer->abort = HTTP_TRANSFER_ABORT_BODY_TOO_LARGE;
        return 0;
    }

    if (used + length + 1 > transfer->body_capacity) {
        size_t capacity = transfer->body_capacity ? transfer->body_capacity : 4096;
        char *body;

        while (capacity < used + length + 1)
            capacity *= 2;
        if (capacity > transfer->max_response_size + 1)
            capacity = transfer->max_response_size + 1;

        body = realloc(transfer->body, capacity);
        if (!body) {
            transfer->abort = HTTP_TRANSFER_ABORT_OUT_OF_MEMORY;
            return 0;
        }
        transfer->body = body;
        transfer->body_capacity = capacity;
    }

    memcpy(transfer->body + used, data, length);
    transfer->response.body_size = used + length;
    transfer->body[used + length] = '\0';
    return length;
}

/* Request copy and easy handle. */

/* Methods whose empty body is still sent with Content-Length: 0, which some
 * servers require. */
static int http_method_sends_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

static int http_request_has_header(const wharf_http_request *request,
                                   const char *name)
{
    for (size_t i = 0; i < request->header_count; i++) {
        if (strcasecmp(request->headers[i].name, name) == 0)
            return 1;
    }
    return 0;
}

static int http_transfer_append_header(http_transfer *transfer, const char *line)
{
    struct curl_slist *list = curl_slist_append(transfer->request_headers, line);

    if (!list)
        return -ENOMEM;
    transfer->request_headers = list;
    return 0;
}

static int http_transfer_build_headers(http_transfer *transfer,
                                       const wharf_http_request *request,
                                       int sends_body)
{
    for (size_t i = 0; i < request->header_count; i++) {
        const wharf_http_header *header = &request->headers[i];
        char *line;
        int rc;

        /* curl drops a header given as "Name:" and sends "Name;" as an empty
         * one. */
        if (header->value[0] == '\0')
            rc = asprintf(&line, "%s;", header->name);
        else
            rc = asprintf(&line, "%s: %s", header->name, header->value);
        if (rc < 0)
            return -ENOMEM;

        rc = http_transfer_append_header(transfer, line);
        free(line);
        if (rc < 0)
            return rc;
    }

    /* curl 7.88 sends Expect: 100-continue with bodies over 1 MiB
     * (EXPECT_100_THRESHOLD in its lib/http.h) and then waits up to a second
     * for the interim response. */
    if (!http_request_has_header(request, "Expect") &&
        http_transfer_append_header(transfer, "Expect:") < 0)
        return -ENOMEM;

    /* Without this curl labels every body application/x-www-form-urlencoded. */
    if (sends_body && !http_request_has_header(request, "Content-Type") &&
        http_transfer_append_header(transfer, "Content-Type:") < 0)
        return -ENOMEM;
    return 0;
}

/* Record the first failing option in result. */
#define HTTP_TRANSFER_SET(option, value)                                      \
    do {                                                                      \
        if (result == CURLE_OK)                                               \
            result = curl_easy_setopt(easy, option, value);                   \
    } while (0)

static int http_transfer_setup_easy(http_transfer *transfer,
                                    const wharf_http_request *request,
                                    const char *log_label)
{
    static const char empty_body[] = "";
    const char *method = transfer->method;
    int sends_body = request->body_size > 0 || http_method_sends_body(method);
    long timeout_ms = request->timeout_ms ? (long)request->timeout_ms
                                          : HTTP_TRANSFER_DEFAULT_TIMEOUT_MS;
    CURLcode result = CURLE_OK;
    CURL *easy;
    int rc;

    easy = curl_easy_init();
    if (!easy)
        return -ENOMEM;
    transfer->easy = easy;

    rc = http_transfer_build_headers(transfer, request, sends_body);
    if (rc < 0)
        return rc;

    HTTP_TRANSFER_SET(CURLOPT_URL, transfer->url);
    HTTP_TRANSFER_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    HTTP_TRANSFER_SET(CURLOPT_FOLLOWLOCATION, 0L);
    HTTP_TRANSFER_SET(CURLOPT_NOSIGNAL, 1L);
    HTTP_TRANSFER_SET(CURLOPT_USERAGENT, "wharf/" WHARF_VERSION);
    HTTP_TRANSFER_SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    HTTP_TRANSFER_SET(CURLOPT_ERRORBUFFER, transfer->error_buffer);
    HTTP_TRANSFER_SET(CURLOPT_PRIVATE, (void *)transfer);
    HTTP_TRANSFER_SET(CURLOPT_HTTPHEADER, transfer->request_headers);
    HTTP_TRANSFER_SET(CURLOPT_HEADERFUNCTION, http_transfer_on_header);
    HTTP_TRANSFER_SET(CURLOPT_HEADERDATA, (void *)transfer);
    HTTP_TRANSFER_SET(CURLOPT_WRITEFUNCTION, http_transfer_on_body);
    HTTP_TRANSFER_SET(CURLOPT_WRITEDATA, (void *)transfer);
    /* Fails early with CURLE_FILESIZE_EXCEEDED when Content-Length is
     * already too large. The write callback covers bodies of unknown size. */
    HTTP_TRANSFER_SET(CURLOPT_MAXFILESIZE_LARGE,
                      (curl_off_t)transfer->max_response_size);

    if (strcmp(method, "GET") == 0 && !sends_body) {
        HTTP_TRANSFER_SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        HTTP_TRANSFER_SET(CURLOPT_NOBODY, 1L);
    } else {
        if (sends_body) {
            /* The size goes first so curl never runs strlen on the body. */
            HTTP_TRANSFER_SET(CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)request->body_size);
            HTTP_TRANSFER_SET(CURLOPT_POSTFIELDS,
                              transfer->request_body ? transfer->request_body
                                                     : (void *)empty_body);
        }
        if (strcmp(method, "POST") != 0)
            HTTP_TRANSFER_SET(CURLOPT_CUSTOMREQUEST, method);
    }

    if (result != CURLE_OK) {
        log_warn("http pool %s: setting up the curl handle failed: %s",
                 log_label, curl_easy_strerror(result));
        return -EIO;
    }
    return 0;
}

int http_transfer_create(http_transfer **transfer_out, const char *log_label,
                         const wharf_http_request *request)
{
    http_transfer *transfer = NULL;
    int rc;

    *transfer_out = NULL;

    rc = http_transfer_validate(log_label, request);
    if (rc < 0)
        return rc;

    transfer = calloc(1, sizeof(*transfer));
    if (!transfer)
        return -ENOMEM;
    transfer->magic = HTTP_TRANSFER_MAGIC;
    transfer->response.struct_size = sizeof(transfer->response);
    transfer->response.error_message = "";
    transfer->response.body = "";

    rc = http_transfer_parse_url(log_label, request->url, &transfer->target);
    if (rc < 0)
        goto fail;

    /* Half of SIZE_MAX still leaves room for the NUL and the doubling in
     * http_transfer_on_body without overflow. */
    transfer->max_response_size = request->max_response_size
                                      ? request->max_response_size
                                      : HTTP_TRANSFER_DEFAULT_MAX_RESPONSE_SIZE;
    if (transfer->max_response_size > SIZE_MAX / 2)
        transfer->max_response_size = SIZE_MAX / 2;

    rc = -ENOMEM;
    transfer->method = strdup(request->method ? request->method : "GET");
    transfer->url = strdup(request->url);
    if (!transfer->method || !transfer->url)
        goto fail;
    if (request->body_size > 0) {
        transfer->request_body = malloc(request->body_size);
        if (!transfer->request_body)
            goto fail;
        memcpy(transfer->request_body, request->body, request->body_size);
    }

    rc = http_transfer_setup_easy(transfer, request, log_label);
    if (rc < 0)
        goto fail;

    *transfer_out = transfer;
    return 0;

fail:
    http_transfer_free(transfer);
    return rc;
}

void http_transfer_free(http_transfer *transfer)
{
    if (!transfer)
        return;

    if (transfer->easy)
        curl_easy_cleanup(transfer->easy);
    curl_slist_free_all(transfer->request_headers);
    free(transfer->method);
    free(transfer->url);
    free(transfer->target);
    free(transfer->request_body);
    free(transfer->body);
    http_transfer_clear_headers(transfer);
    free(transfer->headers);
    transfer->magic = 0;
    free(transfer);
}

/* Results. */

static wharf_http_error http_error_from_curl(CURLcode code,
                                             http_transfer_abort abort)
{
    switch (code) {
    case CURLE_OK:
        return WHARF_HTTP_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return WHARF_HTTP_ERR_RESOLVE;
    case CURLE_COULDNT_CONNECT:
        return WHARF_HTTP_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return WHARF_HTTP_ERR_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return WHARF_HTTP_ERR_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return WHARF_HTTP_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        if (abort == HTTP_TRANSFER_ABORT_BODY_TOO_LARGE ||
            abort == HTTP_TRANSFER_ABORT_HEADERS_TOO_LARGE)
            return WHARF_HTTP_ERR_TOO_LARGE;
        return WHARF_HTTP_ERR_OTHER;
    default:
        return WHARF_HTTP_ERR_OTHER;
    }
}

void http_transfer_record_result(http_transfer *transfer, CURLcode result)
{
    wharf_http_response *response = &transfer->response;
    char *buffer = transfer->error_buffer;
    long status = 0;
    double seconds = 0;

    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(transfer->easy, CURLINFO_TOTAL_TIME, &seconds);
    response->status = status;
    response->total_seconds = seconds;
    response->error = http_error_from_curl(result, transfer->abort);

    if (response->error == WHARF_HTTP_OK) {
        response->body = transfer->body ? transfer->body : "";
        response->error_message = "";
        return;
    }

    /* A failed transfer hands over no partial body. */
    response->body = "";
    response->body_size = 0;

    if (result == CURLE_FILESIZE_EXCEEDED ||
        transfer->abort == HTTP_TRANSFER_ABORT_BODY_TOO_LARGE)
        snprintf(buffer, CURL_ERROR_SIZE,
                 "response body is larger than max_response_size (%zu bytes); "
                 "raise max_response_size if the response is expected",
                 transfer->max_response_size);
    else if (transfer->abort == HTTP_TRANSFER_ABORT_HEADERS_TOO_LARGE)
        snprintf(buffer, CURL_ERROR_SIZE,
                 "response headers are larger than %zu bytes",
                 HTTP_TRANSFER_MAX_HEADER_BYTES);
    else if (transfer->abort == HTTP_TRANSFER_ABORT_OUT_OF_MEMORY)
        snprintf(buffer, CURL_ERROR_SIZE, "out of memory storing the response");
    else if (buffer[0] == '\0')
        snprintf(buffer, CURL_ERROR_SIZE, "%s", curl_easy_strerror(result));
    response->error_message = buffer;
}

void http_transfer_record_cancel(http_transfer *transfer, const char *reason)
{
    wharf_http_response *response = &transfer->response;

    response->error = WHARF_HTTP_ERR_CANCELLED;
    response->status = 0;
    response->body = "";
    response->body_size = 0;
    snprintf(transfer->error_buffer, CURL_ERROR_SIZE, "request cancelled: %s",
             reason);
    response->error_message = transfer->error_buffer;
}

void http_transfer_record_start_failure(http_transfer *transfer, int error)
{
    wharf_http_response *response = &transfer->response;

    response->error = WHARF_HTTP_ERR_OTHER;
    response->status = 0;
    response->body = "";
    response->body_size = 0;
    snprintf(transfer->error_buffer, CURL_ERROR_SIZE,
             "starting the request failed: %s", strerror(-error));
    response->error_message = transfer->error_buffer;
}

/* Find a header of the final response by name, ignoring case. The first
 * field with the name wins, and repeated fields are not joined. */
const char *http_response_header(const wharf_http_response *response,
                                 const char *name)
{
    const http_transfer *transfer = (const http_transfer *)response;

    if (!response || !name || transfer->magic != HTTP_TRANSFER_MAGIC)
        return NULL;

    for (size_t i = 0; i < transfer->header_count; i++) {
        if (strcasecmp(transfer->headers[i].name, name) == 0)
            return transfer->headers[i].value;
    }
    return NULL;
}
