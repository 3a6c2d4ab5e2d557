#include "api_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interrupt.h"
#include "wharfctl.h"

/* wharfd returns at most 1000 log lines or one list of entities at a time,
 * so a body this large means that the URL points at another server. */
#define RESPONSE_MAX_BYTES (64L * 1024 * 1024)

typedef struct response_buffer {
    char *data;
    size_t length;
    size_t capacity;
    int too_large;
} response_buffer;

int api_client_set_url(api_client *client, const char *url)
{
    size_t length = strlen(url);
    char *copy;

    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return -EINVAL;

    while (length > 0 && url[length - 1] == '/')
        length--;
    copy = malloc(length + 1);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, url, length);
    copy[length] = '\0';

    free(client->base_url);
    client->base_url = copy;
    return 0;
}

void api_client_cleanup(api_client *client)
{
    if (client->curl != NULL)
        curl_easy_cleanup(client->curl);
    client->curl = NULL;
    free(client->base_url);
    client->base_url = NULL;
}

static size_t on_body_data(char *data, size_t size, size_t count, void *user_data)
{
    response_buffer *buffer = user_data;
    size_t bytes = size * count;

    if (buffer->length + bytes + 1 > (size_t)RESPONSE_MAX_BYTES) {
        buffer->too_large = 1;
        return 0;
    }

    if (buffer->length + bytes + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity == 0 ? 4096 : buffer->capacity;
        char *grown;

        while (capacity < buffer->length + bytes + 1)
            capacity *= 2;
        grown = realloc(buffer->data, capacity);
        if (grown == NULL)
            return 0;
        buffer->data = grown;
        buffer->capacity = capacity;
    }

    memcpy(buffer->data + buffer->length, data, bytes);
    buffer->length += bytes;
    buffer->data[buffer->length] = '\0';
    return bytes;
}

/* A non-zero return aborts the transfer with CURLE_ABORTED_BY_CALLBACK. */
static int on_transfer_progress(void *user_data, curl_off_t download_total,
                                curl_off_t downloaded, curl_off_t upload_total,
                                curl_off_t uploaded)
{
    (void)user_data;
    (void)download_total;
    (void)downloaded;
    (void)upload_total;
    (void)uploaded;
    return interrupt_requested();
}

static CURL *client_handle(api_client *client)
{
    if (client->curl == NULL)
        client->curl = curl_easy_init();
    return client->curl;
}

static void print_transport_error(const api_client *client, const char *method, const char *url,
                                  CURLcode code, const char *detail)
{
    const char *reason = detail[0] != '\0' ? detail : curl_easy_strerror(code);
    long os_error = 0;

    switch (code) {
    case CURLE_COULDNT_CONNECT:
        /* The system's reason ("Connection refused") is clearer than curl's
         * "Failed to connect to HOST port N after 0 ms". */
        curl_easy_getinfo(client->curl, CURLINFO_OS_ERRNO, &os_error);
        wharfctl_error("cannot connect to wharfd at %s: %s; start wharfd, or point --url "
                       "(or the WHARF_URL environment variable) at the address it listens on",
                       client->base_url, os_error != 0 ? strerror((int)os_error) : reason);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        wharfctl_error("cannot resolve the host of %s: %s; check --url or WHARF_URL",
                       client->base_url, reason);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        wharfctl_error("%s %s timed out after %.1f s: %s; raise the limit with --timeout SECONDS",
                       method, url, client->timeout_ms / 1000.0, reason);
        break;
    default:
        wharfctl_error("%s %s failed: %s", method, url, reason);
        break;
    }
}

static int parse_body(api_response *response)
{
    json_tokener *tokener;

    if (response->length == 0)
        return 0;

    tokener = json_tokener_new();
    if (tokener == NULL)
        return -ENOMEM;
    response->body = json_tokener_parse_ex(tokener, response->text, (int)response->length);
    if (json_tokener_get_error(tokener) != json_tokener_success) {
        json_object_put(response->body);
        response->body = NULL;
    }
    json_tokener_free(tokener);
    return 0;
}

int api_client_request(api_client *client, const char *method, const char *path,
                       const json_object *body, api_response *response)
{
    CURL *curl = client_handle(client);
    struct curl_slist *headers = NULL;
    response_buffer buffer = {0};
    char curl_error[CURL_ERROR_SIZE] = "";
    char *url = NULL;
    CURLcode code;
    int rc = 0;

    memset(response, 0, sizeof(*response));
    if (curl == NULL || client->base_url == NULL) {
        wharfctl_error("cannot start an HTTP request: out of memory");
        return -ENOMEM;
    }

    url = malloc(strlen(client->base_url) + strlen(path) + 1);
    if (url == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    strcpy(url, client->base_url);
    strcat(url, path);

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, client->timeout_ms);
    /* curl must not install its own signal handlers: ours catches Ctrl-C. */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buffer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_transfer_progress);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "wharfctl/" WHARFCTL_VERSION);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (client->token != NULL) {
        size_t size = strlen("Authorization: Bearer ") + strlen(client->token) + 1;
        char *line = malloc(size);

        if (line == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        snprintf(line, size, "Authorization: Bearer %s", client->token);
        headers = curl_slist_append(headers, line);
        free(line);
    }
    if (body != NULL) {
        const char *text = json_object_to_json_string_ext((json_object *)body,
                                                          JSON_C_TO_STRING_PLAIN);

        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
        curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, text);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    code = curl_easy_perform(curl);
    if (code == CURLE_ABORTED_BY_CALLBACK && interrupt_requested()) {
        rc = -ECANCELED;
        goto out;
    }
    if (code == CURLE_WRITE_ERROR && buffer.too_large) {
        wharfctl_error("%s %s returned more than %ld MiB; check that --url points at wharfd",
                       method, url, RESPONSE_MAX_BYTES / (1024 * 1024));
        rc = -EIO;
        goto out;
    }
    if (code != CURLE_OK) {
        print_transport_error(client, method, url, code, curl_error);
        rc = -EIO;
        goto out;
    }

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    response->text = buffer.data != NULL ? buffer.data : calloc(1, 1);
    response->length = buffer.length;
    buffer.data = NULL;
    if (response->text == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = parse_body(response);

out:
    if (rc != 0)
        api_response_cleanup(response);
    if (rc == -ENOMEM)
        wharfctl_error("%s %s%s: out of memory", method, client->base_url, path);
    /* The handle outlives this call (for keep-alive), so it must not keep
     * pointers to this stack frame or to the freed header list. */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    free(buffer.data);
    free(url);
    return rc;
}

void api_response_print_error(const api_response *response)
{
    json_object *message = NULL;
    size_t length = response->length;

    if (response->body != NULL &&
        json_object_object_get_ex(response->body, "error", &message) &&
        json_object_is_type(message, json_type_string)) {
        wharfctl_error("HTTP %ld: %s", response->status, json_object_get_string(message));
        return;
    }

    /* Not wharfd's JSON error: show the start of the body as it came, which
     * is usually a proxy's or another server's one-line reason. */
    while (length > 0 && (response->text[length - 1] == '\n' || response->text[length - 1] == '\r'))
        length--;
    if (length == 0) {
        wharfctl_error("HTTP %ld with an empty body", response->status);
        return;
    }
    if (length > 500)
        length = 500;
    wharfctl_error("HTTP %ld: %.*s", response->status, (int)length, response->text);
}

int api_client_token_valid(const char *token)
{
    if (token[0] == '\0')
        return 0;
    for (const unsigned char *c = (const unsigned char *)token; *c != '\0'; c++) {
        if (*c <= ' ' || *c >= 0x7F)
            return 0;
    }
    return 1;
}

void api_client_print_error(const api_client *client, const api_response *response)
{
    api_response_print_error(response);
    if (response->status != 401)
        return;
    if (client->token == NULL)
        wharfctl_error("this wharfd requires an admin token; set the WHARF_ADMIN_TOKEN "
                       "environment variable, or pass --token TOKEN");
    else
        wharfctl_error("wharfd rejected the admin token from %s; check it against "
                       "wharfd's admin_token_file",
                       client->token_source);
}

int api_client_call(api_client *client, const char *method, const char *path,
                    const json_object *body, api_response *response)
{
    int rc = api_client_request(client, method, path, body, response);

    if (rc != 0)
        return rc;
    if (response->status < 200 || response->status > 299) {
        api_client_print_error(client, response);
        api_response_cleanup(response);
        return -EPROTO;
    }
    return 0;
}

void api_response_cleanup(api_response *response)
{
    json_object_put(response->body);
    free(response->text);
    memset(response, 0, sizeof(*response));
}

char *api_client_escape(const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t length = strlen(text);
    char *escaped = malloc(length * 3 + 1);
    char *out = escaped;

    if (escaped == NULL)
        return NULL;

    /* RFC 3986 unreserved characters pass; every other byte is %XX. */
    for (const unsigned char *in = (const unsigned char *)text; *in != '\0'; in++) {
        if ((*in >= 'A' && *in <= 'Z') || (*in >= 'a' && *in <= 'z') ||
            (*in >= '0' && *in <= '9') || *in == '-' || *in == '.' || *in == '_' || *in == '~') {
            *out++ = (char)*in;
        } else {
            *out++ = '%';
            *out++ = hex[*in >> 4];
            *out++ = hex[*in & 0x0F];
        }
    }
    *out = '\0';
    return escaped;
}

int api_client_path(char *path, size_t size, const char *prefix, const char *id,
                    const char *suffix)
{
    char *escaped = api_client_escape(id);
    int length;

    if (escaped == NULL)
        return -ENOMEM;
    length = snprintf(path, size, "%s%s%s", prefix, escaped, suffix);
    free(escaped);
    if (length < 0 || (size_t)length >= size)
        return -ENAMETOOLONG;
    return 0;
}
