/*
 * OAuth login and REST calls. The token endpoint is
 * {login_url}/services/oauth2/token; its response contains instance_url, the
 * base of every REST call. Salesforce sends no expires_in, so a token is
 * used until a call returns 401 INVALID_SESSION_ID; that call then goes out
 * once more with a new token.
 */
#include "salesforce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "wharf/sdk/settings.h"

static const char token_path[] = "/services/oauth2/token";

/* Copy a string setting into the form, or report it missing. */
static int append_setting(wharf_buffer *form, const struct json_object *settings,
                          const char *setting, const char *field, const char *flow,
                          char *error, size_t error_size)
{
    const char *value = NULL;
    int rc = wharf_settings_string(settings, setting, &value);

    if (rc == 0 && value[0] == '\0')
        rc = -ENOENT;
    if (rc == -ENOENT) {
        snprintf(error, error_size,
                 "setting \"%s\" is missing; the %s flow needs it, so set it in the "
                 "connector's settings",
                 setting, flow);
        return -EINVAL;
    }
    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, setting, rc,
                                    WHARF_SETTING_STRING);
        return rc;
    }
    return wharf_oauth_form_append(form, field, value);
}

/* The password grant takes the security token appended to the password. */
static int append_password(wharf_buffer *form, const struct json_object *settings,
                           char *error, size_t error_size)
{
    const char *password = NULL;
    const char *security_token = NULL;
    char *joined;
    int rc;

    rc = wharf_settings_string(settings, "password", &password);
    if (rc != 0 || password[0] == '\0') {
        snprintf(error, error_size,
                 "setting \"password\" is missing; the password flow needs it, so set it "
                 "in the connector's settings");
        return -EINVAL;
    }
    if (wharf_settings_string(settings, "security_token", &security_token) != 0)
        security_token = "";

    joined = malloc(strlen(password) + strlen(security_token) + 1);
    if (joined == NULL)
        return -ENOMEM;
    strcpy(joined, password);
    strcat(joined, security_token);
    rc = wharf_oauth_form_append(form, "password", joined);
    /* The joined string is a secret: clear it before freeing. */
    memset(joined, 0, strlen(joined));
    free(joined);
    return rc;
}

static int build_form(const salesforce *sf, const struct json_object *settings,
                      wharf_buffer *form, char *error, size_t error_size)
{
    int password_flow = sf->config.flow == SALESFORCE_FLOW_PASSWORD;
    const char *flow = password_flow ? "password" : "client_credentials";
    int rc;

    rc = wharf_oauth_form_append(form, "grant_type", flow);
    if (rc == 0)
        rc = append_setting(form, settings, "client_id", "client_id", flow, error,
                            error_size);
    if (rc == 0)
        rc = append_setting(form, settings, "client_secret", "client_secret", flow, error,
                            error_size);
    if (rc == 0 && password_flow)
        rc = append_setting(form, settings, "username", "username", flow, error,
                            error_size);
    if (rc == 0 && password_flow)
        rc = append_password(form, settings, error, error_size);

    if (rc == -ENOMEM)
        snprintf(error, error_size, "out of memory while building the login request");
    return rc;
}

int salesforce_login_create(salesforce *sf, const struct json_object *settings, char *error,
                            size_t error_size)
{
    wharf_buffer form = WHARF_BUFFER_INIT;
    wharf_oauth_config config;
    char *token_url;
    int rc;

    rc = build_form(sf, settings, &form, error, error_size);
    if (rc != 0)
        goto out;

    token_url = malloc(strlen(sf->config.login_url) + sizeof(token_path));
    if (token_url == NULL) {
        rc = -ENOMEM;
        snprintf(error, error_size, "out of memory while creating the Salesforce connector");
        goto out;
    }
    sprintf(token_url, "%s%s", sf->config.login_url, token_path);

    memset(&config, 0, sizeof(config));
    config.token_url = token_url;
    config.form_body = form.data;
    config.timeout_ms = sf->config.timeout_ms;
    rc = wharf_oauth_token_create(sf->host, sf->connector, &config, &sf->token);
    free(token_url);
    if (rc != 0)
        snprintf(error, error_size, "out of memory while creating the Salesforce connector");

out:
    if (form.data != NULL)
        memset(form.data, 0, form.length);
    wharf_buffer_free(&form);
    return rc;
}

/* Settings an operator checks when the token endpoint rejects the login,
 * by the OAuth error code Salesforce returns. */
static const char *settings_to_check(const salesforce *sf, const wharf_oauth_result *login)
{
    const char *error = login->error != NULL ? login->error : "";

    if (login->status == WHARF_OAUTH_INVALID_RESPONSE || login->status_code == 404)
        return "\"login_url\"";
    if (strstr(error, "invalid_client") != NULL)
        return "\"client_id\" and \"client_secret\"";
    if (sf->config.flow == SALESFORCE_FLOW_PASSWORD)
        return "\"username\", \"password\" and \"security_token\"";
    return "\"client_id\", \"client_secret\" and \"login_url\" (client_credentials needs "
           "your My Domain URL and a Run As user on the connected app)";
}

wharf_result_kind salesforce_login_failure(const salesforce *sf,
                                           const wharf_oauth_result *login, char *reason,
                                           size_t reason_size)
{
    if (login->status == WHARF_OAUTH_UNAVAILABLE) {
        snprintf(reason, reason_size, "Salesforce login failed for now: %s", login->error);
        return WHARF_RESULT_RETRY;
    }
    snprintf(reason, reason_size, "Salesforce login failed: %s; check the settings %s",
             login->error, settings_to_check(sf, login));
    return WHARF_RESULT_ERROR;
}

void salesforce_describe_error_body(const wharf_http_response *response, char *text,
                                    size_t text_size)
{
    json_object *parsed = json_tokener_parse(response->body);
    json_object *first = NULL;
    json_object *code = NULL;
    json_object *message = NULL;

    if (parsed != NULL && json_object_is_type(parsed, json_type_array) &&
        json_object_array_length(parsed) > 0)
        first = json_object_array_get_idx(parsed, 0);
    else if (parsed != NULL && json_object_is_type(parsed, json_type_object))
        first = parsed;

    if (first != NULL && json_object_is_type(first, json_type_object) &&
        json_object_object_get_ex(first, "errorCode", &code) &&
        json_object_is_type(code, json_type_string)) {
        json_object_object_get_ex(first, "message", &message);
        snprintf(text, text_size, "HTTP %ld: %.64s: %.200s", response->status,
                 json_object_get_string(code),
                 message != NULL ? json_object_get_string(message) : "(no message)");
    } else {
        snprintf(text, text_size, "HTTP %ld: %.200s", response->status,
                 response->body_size > 0 ? response->body : "(empty body)");
    }
    if (parsed != NULL)
        json_object_put(parsed);
}

typedef struct api_call {
    salesforce *sf;
    char *method;
    char *path;
    const char *body;
    size_t body_size;
    int attempt;        /* 1, or 2 after a 401 */
    char *access_token; /* the token this attempt used */
    salesforce_api_done_fn done;
    void *user_data;
} api_call;

static void api_call_free(api_call *call)
{
    free(call->method);
    free(call->path);
    free(call->access_token);
    free(call);
}

static void finish_with_login_failure(api_call *call, const wharf_oauth_result *login)
{
    salesforce_api_response response = {NULL, login};

    call->done(call->user_data, &response);
    api_call_free(call);
}

static void api_response(void *user_data, const wharf_http_response *http);
static void token_ready(void *user_data, const wharf_oauth_result *result);

static int start_attempt(api_call *call)
{
    return wharf_oauth_token_get(call->sf->token, token_ready, call);
}

static void api_response(void *user_data, const wharf_http_response *http)
{
    api_call *call = user_data;
    salesforce_api_response response = {http, NULL};

    /* 401 means the session expired or was revoked (INVALID_SESSION_ID). */
    if (http->error == WHARF_HTTP_OK && http->status == 401 && call->attempt == 1) {
        call->sf->host->log(call->sf->connector, WHARF_LOG_INFO,
                            "session rejected by Salesforce on %s %s; logging in again",
                            call->method, call->path);
        wharf_oauth_token_invalidate(call->sf->token, call->access_token);
        call->attempt = 2;
        if (start_attempt(call) == 0)
            return;
    }

    call->done(call->user_data, &response);
    api_call_free(call);
}

/* A token response without a usable instance_url, reported like a login
 * failure because no REST call can go out without it. */
static const wharf_oauth_result no_instance_url = {
    WHARF_OAUTH_INVALID_RESPONSE, NULL, NULL, NULL, 200, -1,
    "token endpoint returned no valid instance_url"};

static void token_ready(void *user_data, const wharf_oauth_result *result)
{
    api_call *call = user_data;
    salesforce *sf = call->sf;
    json_object *instance = NULL;
    const char *instance_url;
    wharf_http_header headers[3];
    wharf_http_request request;
    wharf_buffer url = WHARF_BUFFER_INIT;
    wharf_buffer authorization = WHARF_BUFFER_INIT;
    wharf_oauth_result failed;
    int rc;

    if (result->status != WHARF_OAUTH_OK) {
        finish_with_login_failure(call, result);
        return;
    }

    json_object_object_get_ex((json_object *)result->response, "instance_url", &instance);
    instance_url = json_object_is_type(instance, json_type_string)
                       ? json_object_get_string(instance)
                       : NULL;
    if (instance_url == NULL || (strncasecmp(instance_url, "https://", 8) != 0 &&
                                 strncasecmp(instance_url, "http://", 7) != 0)) {
        finish_with_login_failure(call, &no_instance_url);
        return;
    }

    free(call->access_token);
    call->access_token = strdup(result->access_token);
    rc = call->access_token == NULL ? -ENOMEM : 0;
    if (rc == 0)
        rc = wharf_buffer_append_format(&url, "%s%s", instance_url, call->path);
    if (rc == 0)
        rc = wharf_buffer_append_format(&authorization, "Bearer %s", result->access_token);
    if (rc == 0) {
        /* The instance URL may end in a slash; the path starts with one. */
        size_t base = strlen(instance_url);

        if (base > 0 && instance_url[base - 1] == '/') {
            memmove(url.data + base - 1, url.data + base, url.length - base + 1);
            url.length--;
        }

        memset(&request, 0, sizeof(request));
        request.struct_size = sizeof(request);
        request.method = call->method;
        request.url = url.data;
        headers[0].name = "Authorization";
        headers[0].value = authorization.data;
        headers[1].name = "Accept";
        headers[1].value = "application/json";
        headers[2].name = "Content-Type";
        headers[2].value = "application/json";
        request.headers = headers;
        request.header_count = call->body != NULL ? 3 : 2;
        request.body = call->body;
        request.body_size = call->body_size;
        request.timeout_ms = sf->config.timeout_ms;
        /* Describe results of custom orgs reach a few MB. */
        request.max_response_size = 16 * 1024 * 1024;
        rc = sf->host->http_request(sf->connector, &request, api_response, call);
    }
    wharf_buffer_free(&url);
    if (authorization.data != NULL)
        memset(authorization.data, 0, authorization.length);
    wharf_buffer_free(&authorization);
    if (rc == 0)
        return;

    memset(&failed, 0, sizeof(failed));
    failed.status = WHARF_OAUTH_UNAVAILABLE;
    failed.retry_after_ms = -1;
    failed.error = rc == -ENOMEM ? "out of memory while starting a request"
                                 : "wharfd could not start the request";
    finish_with_login_failure(call, &failed);
}

int salesforce_api_request(salesforce *sf, const char *method, const char *path,
                           const char *body, size_t body_size,
                           salesforce_api_done_fn done, void *user_data)
{
    api_call *call = calloc(1, sizeof(*call));
    int rc;

    if (call == NULL)
        return -ENOMEM;
    call->sf = sf;
    call->method = strdup(method);
    call->path = strdup(path);
    call->body = body;
    call->body_size = body_size;
    call->attempt = 1;
    call->done = done;
    call->user_data = user_data;
    if (call->method == NULL || call->path == NULL) {
        api_call_free(call);
        return -ENOMEM;
    }

    rc = start_attempt(call);
    if (rc != 0)
        api_call_free(call);
    return rc;
}
