/*
 * OAuth 2.0 access token for a connector: one token request at a time,
 * the token cached until it expires or the destination rejects it.
 *
 * The helper POSTs a form body (RFC 6749, section 4: client credentials,
 * password, refresh token or any other grant the caller encodes) to a token
 * endpoint through host->http_request() and parses the JSON response
 * (section 5.1 for success, 5.2 for errors). Callers ask for a token with
 * wharf_oauth_token_get(). While a token request is running, further calls
 * wait for the same request instead of starting their own.
 *
 * Refresh on 401: when the destination rejects a token, call
 * wharf_oauth_token_invalidate() with that token, then ask again. Several
 * requests that failed with the same token cause only one new token
 * request, because invalidating a token that has already been replaced
 * does nothing.
 *
 * Every function runs on the event loop thread (not in encode()). Secrets
 * in the form body are never written to a log or an error text.
 */
#ifndef WHARF_SDK_OAUTH_TOKEN_H
#define WHARF_SDK_OAUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/host.h"
#include "wharf/sdk/buffer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wharf_oauth_token wharf_oauth_token;

/* Outcome of a token request. */
typedef enum wharf_oauth_status {
    WHARF_OAUTH_OK = 0,
    /* The token endpoint rejected the request: HTTP 400 or 401 with an
     * OAuth error, any other 4xx but 408 and 429, or a 3xx. Sending again
     * will not help: the operator must fix the settings. */
    WHARF_OAUTH_REJECTED = 1,
    /* No usable response for now (transport error, 408, 429, 5xx). Retry. */
    WHARF_OAUTH_UNAVAILABLE = 2,
    /* A 2xx response without an access_token, or not JSON. */
    WHARF_OAUTH_INVALID_RESPONSE = 3
} wharf_oauth_status;

typedef struct wharf_oauth_result {
    wharf_oauth_status status;
    /* WHARF_OAUTH_OK only: the token and its type ("Bearer" when the
     * endpoint named none). */
    const char *access_token;
    const char *token_type;
    /* WHARF_OAUTH_OK only: the whole parsed response, for fields beyond
     * RFC 6749 such as Salesforce's instance_url. */
    const struct json_object *response;
    int status_code;        /* HTTP status of the token endpoint, 0 when none */
    int64_t retry_after_ms; /* WHARF_OAUTH_UNAVAILABLE: Retry-After, or -1 */
    /* Not OK: what failed, such as "token endpoint returned HTTP 400:
     * invalid_grant: authentication failure". Never contains a secret. */
    const char *error;
} wharf_oauth_result;

/* Called once per wharf_oauth_token_get(), on the loop thread. result and
 * its strings are valid only during the call. */
typedef void (*wharf_oauth_token_fn)(void *user_data, const wharf_oauth_result *result);

/* Monotonic clock in milliseconds; tests pass their own. */
typedef int64_t (*wharf_oauth_clock_fn)(void *clock_data);

typedef struct wharf_oauth_config {
    const char *token_url;   /* full http:// or https:// URL; copied */
    const char *form_body;   /* application/x-www-form-urlencoded; copied */
    uint32_t timeout_ms;     /* token request time limit; 0 means 30000 */
    /* Lifetime assumed when the response has no expires_in. 0 means the token
     * stays valid until the destination rejects it, which is how providers
     * without expires_in (Salesforce) behave. */
    int64_t default_lifetime_ms;
    /* A token is renewed this long before expires_in runs out, so a request
     * does not leave with a token that expires on the way. */
    int64_t refresh_margin_ms;
    wharf_oauth_clock_fn clock; /* NULL means CLOCK_MONOTONIC */
    void *clock_data;
} wharf_oauth_config;

/* Create a token cache for connector. Returns 0, -EINVAL (token_url or
 * form_body missing) or -ENOMEM. Nothing is requested until the first
 * wharf_oauth_token_get(). */
int wharf_oauth_token_create(const wharf_host *host, wharf_connector *connector,
                             const wharf_oauth_config *config, wharf_oauth_token **token);

/* Free the cache. If a token request is still running, the cache is freed
 * when it finishes, and its waiters are called with WHARF_OAUTH_UNAVAILABLE
 * and the error "connector was destroyed". */
void wharf_oauth_token_destroy(wharf_oauth_token *token);

/* Call done with a valid token: at once (from within this call) when one is
 * cached, else after a token request. Returns 0, or -ENOMEM, or the
 * negative code of host->http_request() when the token request could not
 * start; done is not called when this returns an error. */
int wharf_oauth_token_get(wharf_oauth_token *token, wharf_oauth_token_fn done,
                          void *user_data);

/* Forget access_token because the destination rejected it (HTTP 401). Does
 * nothing when the cache contains another token by now, so that concurrent
 * failures with one old token trigger one refresh. NULL forgets any token. */
void wharf_oauth_token_invalidate(wharf_oauth_token *token, const char *access_token);

/* Number of token requests started so far, for logs and tests. */
uint64_t wharf_oauth_token_request_count(const wharf_oauth_token *token);

/* Append name=value to a form body, both percent-encoded as
 * application/x-www-form-urlencoded, with "&" before it unless the buffer is
 * empty. Returns 0 or -ENOMEM; on failure the buffer keeps its old length. */
int wharf_oauth_form_append(wharf_buffer *form, const char *name, const char *value);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_SDK_OAUTH_TOKEN_H */
