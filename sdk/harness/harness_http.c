/*
 * The HTTP half of the host table. http_request() copies the request into a
 * FIFO and returns. The run loop later performs queued requests one at a
 * time with a blocking libcurl easy handle, and calls each done callback on
 * the test's thread, as wharfd calls it on its loop thread.
 */
#include "harness_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "wharf/sdk/settings.h"

/* wharfd's defaults for the zero values of wharf_http_request. */
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RESPONSE_SIZE (1024 * 1024)

/* Smallest request layout a 1.0 plugin passes. */
#define REQUEST_V1_0_SIZE                                                        \
    (offsetof(wharf_http_request, max_response_size) + sizeof(size_t))

/* A response as the done callback receives it, plus the headers for
 * http_response_header(). public must stay the first member, because
 * http_response_header() converts the plugin's pointer back to this struct. */
typedef struct harness_response {
    wharf_http_response public;
    wharf_buffer body;
    size_t max_body;
    int too_large;
    wharf_http_header *headers;
    size_t header_count;
    size_t header_capacity;
    char error_buffer[CURL_ERROR_SIZE];
} harness_response;

static void request_free(harness_request *request)
{
    if (request == NULL)
        return;
    free(request->method);
    free(request->url);
    wharf_http_headers_free(request->headers, request->header_count);
    free(request->body);
    free(request);
}

static int url_is_http(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static int header_is_valid(const wharf_http_header *header)
{
    return header->name != NULL && header->value != NULL && header->name[0] != '\0' &&
           strpbrk(header->name, "\r\n:") == NULL && strpbrk(header->value, "\r\n") == NULL;
}

static harness_request *request_copy(const wharf_http_request *source)
{
    harness_request *request = calloc(1, sizeof(*request));

    if (request == NULL)
        return NULL;

    request->method = strdup(source->method != NULL ? source->method : "GET");
    request->url = strdup(source->url);
    if (request->method == NULL || request->url == NULL)
        goto fail;

    if (wharf_http_headers_copy(source->headers, source->header_count, &request->headers) != 0)
        goto fail;
    request->header_count = source->header_count;

    if (source->body_size > 0) {
        request->body = malloc(source->body_size);
        if (request->body == NULL)
            goto fail;
        memcpy(request->body, source->body, source->body_size);
        request->body_size = source->body_size;
    }

    request->timeout_ms = source->timeout_ms != 0 ? source->timeout_ms : DEFAULT_TIMEOUT_MS;
    request->max_response_size = source->max_response_size != 0 ? source->max_response_size
                                                                : DEFAULT_MAX_RESPONSE_SIZE;
    return request;

fail:
    request_free(request);
    return NULL;
}

static int http_request(wharf_connector *connector, const wharf_http_request *source,
                        wharf_http_done_fn done, void *user_data)
{
    wharf_harness *harness = connector->harness;
    harness_request *request;
    size_t i;

    if (!harness_on_loop_thread(harness, "http_request"))
        return -EINVAL;

    if (source == NULL || done == NULL || source->struct_size < REQUEST_V1_0_SIZE) {
        harness_violation(harness, "http_request: request or done is NULL, or "
                                   "request->struct_size is not sizeof(wharf_http_request)");
        return -EINVAL;
    }
    if (source->url == NULL || !url_is_http(source->url))
        return -EINVAL;
    if (source->body == NULL && source->body_size > 0)
        return -EINVAL;
    for (i = 0; i < source->header_count; i++) {
        if (!header_is_valid(&source->headers[i]))
            return -EINVAL;
    }

    request = request_copy(source);
    if (request == NULL)
        return -ENOMEM;
    request->done = done;
    request->user_data = user_data;

    if (harness->queue_tail != NULL)
        harness->queue_tail->next = request;
    else
        harness->queue_head = request;
    harness->queue_tail = request;
    return 0;
}

static const char *http_response_header(const wharf_http_response *response,
                                        const char *name)
{
    const harness_response *full = (const harness_response *)response;
    size_t i;

    if (response == NULL || name == NULL)
        return NULL;
    /* With repeated headers, the last one wins, as for Retry-After. */
    for (i = full->header_count; i > 0; i--) {
        if (strcasecmp(full->headers[i - 1].name, name) == 0)
            return full->headers[i - 1].value;
    }
    return NULL;
}

static size_t receive_body(char *data, size_t size, size_t count, void *user_data)
{
    harness_response *response = user_data;
    size_t length = size * count;

    if (response->body.length + length > response->max_body) {
        response->too_large = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    if (wharf_buffer_append(&response->body, data, length) != 0)
        return 0;
    return length;
}

static char *copy_trimmed(const char *start, const char *end)
{
    char *copy;

    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
                           end[-1] == '\n'))
        end--;

    copy = malloc((size_t)(end - start) + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, start, (size_t)(end - start));
    copy[end - start] = '\0';
    return copy;
}

static void clear_headers(harness_response *response)
{
    wharf_http_headers_free(response->headers, response->header_count);
    response->headers = NULL;
    response->header_count = 0;
    response->header_capacity = 0;
}

static size_t receive_header(char *data, size_t size, size_t count, void *user_data)
{
    harness_response *response = user_data;
    size_t length = size * count;
    const char *colon = memchr(data, ':', length);
    wharf_http_header header;

    /* A new status line starts a new response (after 100 Continue or a
     * proxy's CONNECT): keep only the headers of the last one. */
    if (length >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        clear_headers(response);
        return length;
    }
    if (colon == NULL)
        return length;

    if (response->header_count == response->header_capacity) {
        size_t capacity = response->header_capacity == 0 ? 16 : response->header_capacity * 2;
        wharf_http_header *grown =
            realloc(response->headers, capacity * sizeof(*response->headers));

        if (grown == NULL)
            return 0;
        response->headers = grown;
        response->header_capacity = capacity;
    }

    header.name = copy_trimmed(data, colon);
    header.value = copy_trimmed(colon + 1, data + length);
    if (header.name == NULL || header.value == NULL) {
        free((char *)header.name);
        free((char *)header.value);
        return 0;
    }
    response->headers[response->header_count++] = header;
    return length;
}

static wharf_http_error map_curl_error(CURLcode code, int too_large)
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
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_USE_SSL_FAILED:
        return WHARF_HTTP_ERR_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return WHARF_HTTP_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? WHARF_HTTP_ERR_TOO_LARGE : WHARF_HTTP_ERR_OTHER;
    default:
        return WHARF_HTTP_ERR_OTHER;
    }
}

static struct curl_slist *build_header_list(const harness_request *request)
{
    struct curl_slist *list = NULL;
    struct curl_slist *grown;
    wharf_buffer line = WHARF_BUFFER_INIT;
    size_t i;

    /* Without this, libcurl waits for 100 Continue before large bodies. */
    list = curl_slist_append(NULL, "Expect:");
    if (list == NULL)
        return NULL;

    for (i = 0; i < request->header_count; i++) {
        const wharf_http_header *header = &request->headers[i];

        wharf_buffer_clear(&line);
        /* "Name;" is libcurl's syntax for a header with an empty value. */
        if (header->value[0] == '\0')
            wharf_buffer_append_format(&line, "%s;", header->name);
        else
            wharf_buffer_append_format(&line, "%s: %s", header->name, header->value);
        grown = line.data != NULL ? curl_slist_append(list, line.data) : NULL;
        if (grown == NULL) {
            curl_slist_free_all(list);
            list = NULL;
            break;
        }
        list = grown;
    }

    wharf_buffer_free(&line);
    return list;
}

static void configure_method(CURL *curl, const harness_request *request)
{
    if (strcmp(request->method, "GET") == 0 && request->body_size == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(request->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        return;
    }

    /* POSTFIELDS sends the body with whatever CUSTOMREQUEST names. */
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_size);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                     request->body != NULL ? (const char *)request->body : "");
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request->method);
}

static void perform(wharf_harness *harness, const harness_request *request,
                    harness_response *response)
{
    CURL *curl = harness->curl;
    struct curl_slist *headers = build_header_list(request);
    CURLcode code;
    long status = 0;
    double total_seconds = 0;

    if (headers == NULL) {
        response->public.error = WHARF_HTTP_ERR_OTHER;
        response->public.error_message = "out of memory while building request headers";
        return;
    }

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, request->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)request->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, response->error_buffer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, receive_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, receive_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, response);
    configure_method(curl, request);

    code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &total_seconds);
    curl_slist_free_all(headers);

    response->public.error = map_curl_error(code, response->too_large);
    response->public.status = status;
    response->public.total_seconds = total_seconds;
    if (code != CURLE_OK) {
        response->public.error_message = response->error_buffer[0] != '\0'
                                             ? response->error_buffer
                                             : curl_easy_strerror(code);
    }
}

static harness_request *queue_pop(wharf_harness *harness)
{
    harness_request *request = harness->queue_head;

    if (request == NULL)
        return NULL;
    harness->queue_head = request->next;
    if (harness->queue_head == NULL)
        harness->queue_tail = NULL;
    return request;
}

static void response_init(harness_response *response, size_t max_body)
{
    memset(response, 0, sizeof(*response));
    response->public.struct_size = sizeof(response->public);
    response->public.error_message = "";
    response->max_body = max_body;
}

static void response_finish(harness_response *response)
{
    /* Like wharfd, a failed transfer hands over no partial body; the status
     * stays when one arrived. The body is NUL-terminated, "" when empty. */
    if (response->public.error != WHARF_HTTP_OK || response->body.data == NULL) {
        response->public.body = "";
        response->public.body_size = 0;
        return;
    }
    response->public.body = response->body.data;
    response->public.body_size = response->body.length;
}

static void response_free(harness_response *response)
{
    wharf_buffer_free(&response->body);
    clear_headers(response);
}

int harness_http_has_queued(const wharf_harness *harness)
{
    return harness->queue_head != NULL;
}

void harness_http_run_next(wharf_harness *harness)
{
    harness_request *request = queue_pop(harness);
    harness_response response;

    if (request == NULL)
        return;

    response_init(&response, request->max_response_size);
    if (harness->curl == NULL)
        harness->curl = curl_easy_init();
    if (harness->curl == NULL) {
        response.public.error = WHARF_HTTP_ERR_OTHER;
        response.public.error_message = "curl_easy_init failed";
    } else {
        perform(harness, request, &response);
    }
    response_finish(&response);

    request->done(request->user_data, &response.public);

    response_free(&response);
    request_free(request);
}

void harness_http_cancel_all(wharf_harness *harness)
{
    harness_request *request;

    while ((request = queue_pop(harness)) != NULL) {
        harness_response response;

        response_init(&response, 0);
        response.public.error = WHARF_HTTP_ERR_CANCELLED;
        response.public.error_message = "request cancelled: the harness stopped the send";
        response_finish(&response);
        request->done(request->user_data, &response.public);
        request_free(request);
    }
}

void harness_http_cleanup(wharf_harness *harness)
{
    if (harness->curl != NULL)
        curl_easy_cleanup(harness->curl);
    harness->curl = NULL;
}

void harness_http_install(wharf_host *host)
{
    host->http_request = http_request;
    host->http_response_header = http_response_header;
}
