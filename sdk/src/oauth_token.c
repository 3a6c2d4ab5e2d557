#include "wharf/sdk/oauth_token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "wharf/sdk/http_result.h"

#define DEFAULT_TIMEOUT_MS 30000

/* Bytes of an OAuth error_description quoted in an error text. */
#define ERROR_DESCRIPTION_MAX 200

typedef struct oauth_waiter {
    wharf_oauth_token_fn done;
    void *user_data;
    struct oauth_waiter *next;
} oauth_waiter;

struct wharf_oauth_token {
    const wharf_host *host;
    wharf_connector *connector;
    char *token_url;
    char *form_body;
    uint32_t timeout_ms;
    int64_t default_lifetime_ms;
    int64_t refresh_margin_ms;
    wharf_oauth_clock_fn clock;
    void *clock_data;

    /* The cached token; NULL when there is none. */
    char *access_token;
    char *token_type;
    json_object *response;
    int64_t expires_at_ms; /* on the clock above; INT64_MAX for no expiry */

    /* Callers waiting for the running token request, oldest first. */
    int request_running;
    oauth_waiter *waiters;
    oauth_waiter **waiters_tail;
    uint64_t request_count;
    int notifying; /* depth of notify_waiters() calls on the stack */
    /* destroy() ran while a request was running or waiters were being
     * called; the last of those frees the cache. */
    int destroyed;
};

static int64_t monotonic_ms(void *clock_data)
{
    struct timespec now;

    (void)clock_data;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static char *copy_string(const char *text)
{
    size_t size = strlen(text) + 1;
    char *copy = malloc(size);

    if (copy != NULL)
        memcpy(copy, text, size);
    return copy;
}

int wharf_oauth_token_create(const wharf_host *host, wharf_connector *connector,
                             const wharf_oauth_config *config, wharf_oauth_token **token)
{
    wharf_oauth_token *created;

    if (host == NULL || config == NULL || config->token_url == NULL ||
        config->form_body == NULL || token == NULL)
        return -EINVAL;

    created = calloc(1, sizeof(*created));
    if (created == NULL)
        return -ENOMEM;
    created->token_url = copy_string(config->token_url);
    created->form_body = copy_string(config->form_body);
    if (created->token_url == NULL || created->form_body == NULL) {
        free(created->token_url);
        free(created->form_body);
        free(created);
        return -ENOMEM;
    }

    created->host = host;
    created->connector = connector;
    created->timeout_ms = config->timeout_ms != 0 ? config->timeout_ms : DEFAULT_TIMEOUT_MS;
    created->default_lifetime_ms = config->default_lifetime_ms;
    created->refresh_margin_ms = config->refresh_margin_ms;
    created->clock = config->clock != NULL ? config->clock : monotonic_ms;
    created->clock_data = config->clock_data;
    created->waiters_tail = &created->waiters;
    *token = created;
    return 0;
}

static void forget_token(wharf_oauth_token *token)
{
    free(token->access_token);
    free(token->token_type);
    if (token->response != NULL)
        json_object_put(token->response);
    token->access_token = NULL;
    token->token_type = NULL;
    token->response = NULL;
}

static void free_token(wharf_oauth_token *token)
{
    forget_token(token);
    free(token->token_url);
    /* The form body carries the credentials. */
    memset(token->form_body, 0, strlen(token->form_body));
    free(token->form_body);
    free(token);
}

/* Detach the waiter list and call each waiter with result. A waiter may
 * call wharf_oauth_token_get(), wharf_oauth_token_invalidate() or
 * wharf_oauth_token_destroy(), so every waiter gets its own copy of the
 * token strings, and a destroy waits until the last waiter has returned. */
static void notify_waiters(wharf_oauth_token *token, const wharf_oauth_result *result)
{
    oauth_waiter *waiter = token->waiters;
    wharf_oauth_result copy = *result;
    char *access_token = NULL;
    char *token_type = NULL;
    json_object *response = NULL;

    token->waiters = NULL;
    token->waiters_tail = &token->waiters;
    if (result->status == WHARF_OAUTH_OK) {
        access_token = copy_string(result->access_token);
        token_type = copy_string(result->token_type);
        response = json_object_get((json_object *)result->response);
        if (access_token == NULL || token_type == NULL) {
            copy.status = WHARF_OAUTH_UNAVAILABLE;
            copy.access_token = NULL;
            copy.token_type = NULL;
            copy.response = NULL;
            copy.error = "out of memory while handing out the access token";
        } else {
            copy.access_token = access_token;
            copy.token_type = token_type;
            copy.response = response;
        }
    }

    token->notifying++;
    while (waiter != NULL) {
        oauth_waiter *next = waiter->next;

        waiter->done(waiter->user_data, &copy);
        free(waiter);
        waiter = next;
    }
    token->notifying--;

    free(access_token);
    free(token_type);
    if (response != NULL)
        json_object_put(response);
    if (token->destroyed && token->notifying == 0 && !token->request_running)
        free_token(token);
}

void wharf_oauth_token_destroy(wharf_oauth_token *token)
{
    if (token == NULL)
        return;
    if (token->request_running || token->notifying > 0) {
        token->destroyed = 1;
        return;
    }
    free_token(token);
}

static int token_is_fresh(const wharf_oauth_token *token)
{
    int64_t now;

    if (token->access_token == NULL)
        return 0;
    if (token->expires_at_ms == INT64_MAX)
        return 1;
    now = token->clock(token->clock_data);
    return now < token->expires_at_ms - token->refresh_margin_ms;
}

static void fill_ok_result(const wharf_oauth_token *token, wharf_oauth_result *result)
{
    memset(result, 0, sizeof(*result));
    result->status = WHARF_OAUTH_OK;
    result->access_token = token->access_token;
    result->token_type = token->token_type;
    result->response = token->response;
    result->status_code = 200;
    result->retry_after_ms = -1;
    result->error = "";
}

/* Read a string member of an object, or NULL when absent or not a string. */
static const char *string_member(json_object *object, const char *name)
{
    json_object *value;

    if (!json_object_object_get_ex(object, name, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

/* Store a successful response. Returns 0, -EINVAL with error filled when
 * the response is not usable, or -ENOMEM. */
static int store_token(wharf_oauth_token *token, const wharf_http_response *response,
                       char *error, size_t error_size)
{
    json_object *parsed = json_tokener_parse(response->body);
    json_object *expires_in;
    const char *access_token;
    const char *token_type;
    int64_t lifetime_ms = token->default_lifetime_ms;

    if (parsed == NULL || !json_object_is_type(parsed, json_type_object)) {
        snprintf(error, error_size,
                 "token endpoint returned HTTP %ld with a body that is not a JSON object",
                 response->status);
        if (parsed != NULL)
            json_object_put(parsed);
        return -EINVAL;
    }
    access_token = string_member(parsed, "access_token");
    if (access_token == NULL || access_token[0] == '\0') {
        snprintf(error, error_size,
                 "token endpoint returned HTTP %ld without an access_token", response->status);
        json_object_put(parsed);
        return -EINVAL;
    }
    token_type = string_member(parsed, "token_type");

    /* expires_in is a number of seconds (RFC 6749, section 5.1); some
     * providers send it as a string. */
    if (json_object_object_get_ex(parsed, "expires_in", &expires_in) &&
        (json_object_is_type(expires_in, json_type_int) ||
         json_object_is_type(expires_in, json_type_string))) {
        int64_t seconds = json_object_get_int64(expires_in);

        if (seconds > 0 && seconds < INT64_MAX / 1000)
            lifetime_ms = seconds * 1000;
    }

    forget_token(token);
    token->access_token = copy_string(access_token);
    token->token_type = copy_string(token_type != NULL ? token_type : "Bearer");
    token->response = parsed;
    if (token->access_token == NULL || token->token_type == NULL) {
        forget_token(token);
        return -ENOMEM;
    }
    if (lifetime_ms > 0)
        token->expires_at_ms = token->clock(token->clock_data) + lifetime_ms;
    else
        token->expires_at_ms = INT64_MAX;
    return 0;
}

/* Describe an error response of the token endpoint: the OAuth error code and
 * description (RFC 6749, section 5.2) when the body has them. */
static void describe_failure(const wharf_http_response *response,
                             const wharf_http_result *classified, char *error,
                             size_t error_size)
{
    json_object *parsed;
    const char *code;
    const char *description;

    if (response->error != WHARF_HTTP_OK) {
        snprintf(error, error_size, "token request failed: %s", classified->reason);
        return;
    }

    parsed = json_tokener_parse(response->body);
    code = parsed != NULL && json_object_is_type(parsed, json_type_object)
               ? string_member(parsed, "error")
               : NULL;
    if (code == NULL) {
        snprintf(error, error_size, "token endpoint returned %s", classified->reason);
    } else {
        description = string_member(parsed, "error_description");
        snprintf(error, error_size, "token endpoint returned HTTP %ld: %.100s%s%.*s",
                 response->status, code, description != NULL ? ": " : "",
                 ERROR_DESCRIPTION_MAX, description != NULL ? description : "");
    }
    if (parsed != NULL)
        json_object_put(parsed);
}

static void token_request_done(void *user_data, const wharf_http_response *response)
{
    wharf_oauth_token *token = user_data;
    wharf_oauth_result result;
    wharf_http_result classified;
    char error[512] = "";

    token->request_running = 0;
    if (token->destroyed) {
        memset(&result, 0, sizeof(result));
        result.status = WHARF_OAUTH_UNAVAILABLE;
        result.retry_after_ms = -1;
        result.error = "connector was destroyed";
        notify_waiters(token, &result); /* frees the cache */
        return;
    }

    wharf_http_result_from_response(token->host, response, &classified);
    memset(&result, 0, sizeof(result));
    result.status_code = (int)response->status;
    result.retry_after_ms = -1;
    result.error = error;

    if (classified.kind == WHARF_RESULT_SUCCESS) {
        int rc = store_token(token, response, error, sizeof(error));

        if (rc == 0) {
            fill_ok_result(token, &result);
            result.status_code = (int)response->status;
        } else if (rc == -ENOMEM) {
            result.status = WHARF_OAUTH_UNAVAILABLE;
            snprintf(error, sizeof(error), "out of memory while storing the access token");
        } else {
            result.status = WHARF_OAUTH_INVALID_RESPONSE;
        }
    } else {
        describe_failure(response, &classified, error, sizeof(error));
        if (classified.kind == WHARF_RESULT_RETRY) {
            result.status = WHARF_OAUTH_UNAVAILABLE;
            result.retry_after_ms = classified.retry_after_ms;
        } else {
            result.status = WHARF_OAUTH_REJECTED;
        }
    }

    if (result.status != WHARF_OAUTH_OK)
        token->host->log(token->connector, WHARF_LOG_WARN, "%s", error);
    notify_waiters(token, &result);
}

static int start_token_request(wharf_oauth_token *token)
{
    static const wharf_http_header headers[] = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
    };
    wharf_http_request request;
    int rc;

    memset(&request, 0, sizeof(request));
    request.struct_size = sizeof(request);
    request.method = "POST";
    request.url = token->token_url;
    request.headers = headers;
    request.header_count = sizeof(headers) / sizeof(headers[0]);
    request.body = token->form_body;
    request.body_size = strlen(token->form_body);
    request.timeout_ms = token->timeout_ms;

    /* Set before the call: a host may call done before http_request()
     * returns, and done clears it. */
    token->request_running = 1;
    token->request_count++;
    rc = token->host->http_request(token->connector, &request, token_request_done, token);
    if (rc != 0) {
        token->request_running = 0;
        token->request_count--;
    }
    return rc;
}

int wharf_oauth_token_get(wharf_oauth_token *token, wharf_oauth_token_fn done,
                          void *user_data)
{
    oauth_waiter *waiter;
    int rc;

    if (token == NULL || done == NULL)
        return -EINVAL;

    if (!token->request_running && token_is_fresh(token)) {
        wharf_oauth_result result;

        fill_ok_result(token, &result);
        done(user_data, &result);
        return 0;
    }

    waiter = calloc(1, sizeof(*waiter));
    if (waiter == NULL)
        return -ENOMEM;
    waiter->done = done;
    waiter->user_data = user_data;
    *token->waiters_tail = waiter;
    token->waiters_tail = &waiter->next;
    if (token->request_running)
        return 0;

    /* No request was running, so this waiter is the only one. */
    forget_token(token);
    rc = start_token_request(token);
    if (rc != 0) {
        token->waiters = NULL;
        token->waiters_tail = &token->waiters;
        free(waiter);
        return rc;
    }
    return 0;
}

void wharf_oauth_token_invalidate(wharf_oauth_token *token, const char *access_token)
{
    if (token == NULL || token->access_token == NULL)
        return;
    if (access_token != NULL && strcmp(access_token, token->access_token) != 0)
        return;
    forget_token(token);
}

uint64_t wharf_oauth_token_request_count(const wharf_oauth_token *token)
{
    return token != NULL ? token->request_count : 0;
}

/* Unreserved characters (RFC 3986, section 2.3) stay as they are; a space
 * becomes "+" and every other byte %XX, as HTML form encoding does. */
static int append_form_encoded(wharf_buffer *form, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *at;
    int rc = 0;

    for (at = (const unsigned char *)text; *at != '\0' && rc == 0; at++) {
        unsigned char c = *at;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = wharf_buffer_append_char(form, (char)c);
        } else if (c == ' ') {
            rc = wharf_buffer_append_char(form, '+');
        } else {
            char escaped[3] = {'%', hex[c >> 4], hex[c & 0x0F]};

            rc = wharf_buffer_append(form, escaped, sizeof(escaped));
        }
    }
    return rc;
}

int wharf_oauth_form_append(wharf_buffer *form, const char *name, const char *value)
{
    size_t old_length = form->length;
    int rc = 0;

    if (form->length > 0)
        rc = wharf_buffer_append_char(form, '&');
    if (rc == 0)
        rc = append_form_encoded(form, name);
    if (rc == 0)
        rc = wharf_buffer_append_char(form, '=');
    if (rc == 0)
        rc = append_form_encoded(form, value != NULL ? value : "");

    if (rc != 0) {
        form->length = old_length;
        if (form->data != NULL)
            form->data[old_length] = '\0';
    }
    return rc;
}
