/*
 * Results of HubSpot responses that apply to every record of a request:
 * authentication failures, rate limits and server errors.
 * Per-record outcomes are read in hubspot_send.c.
 */
#include "hubspot.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/http_result.h"

/* Delays for HubSpot's rate limit policies when a 429 carries no
 * Retry-After. SECONDLY and TEN_SECONDLY_ROLLING are the windows of the
 * burst limits. DAILY resets at midnight in the portal's time zone, which
 * the connector does not know, so it waits an hour and tries again. */
static int64_t policy_delay_ms(const char *policy)
{
    if (strcmp(policy, "SECONDLY") == 0)
        return 1000;
    if (strcmp(policy, "TEN_SECONDLY_ROLLING") == 0)
        return 10000;
    if (strcmp(policy, "DAILY") == 0)
        return 3600000;
    return -1;
}

/* The string member name of a JSON object body, copied into text. */
static void body_member(const wharf_http_response *response, const char *name, char *text,
                        size_t size)
{
    struct json_object *root = json_tokener_parse(response->body);
    struct json_object *value = NULL;
    size_t i;

    text[0] = '\0';
    if (root != NULL && json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, name, &value) &&
        json_object_is_type(value, json_type_string)) {
        const char *source = json_object_get_string(value);

        for (i = 0; i + 1 < size && source[i] != '\0'; i++)
            text[i] = (unsigned char)source[i] < 0x20 ? ' ' : source[i];
        text[i] = '\0';
    }
    json_object_put(root);
}

static void set_outcome(hubspot_outcome *outcome, wharf_result_kind kind, long status,
                        int64_t retry_after_ms)
{
    outcome->kind = kind;
    outcome->status_code = (int)status;
    outcome->retry_after_ms = retry_after_ms;
}

void hubspot_classify_failure(const hubspot *plugin, const wharf_http_response *response,
                              hubspot_outcome *outcome)
{
    wharf_http_result result;
    char message[200];
    char category[64];

    body_member(response, "message", message, sizeof(message));
    body_member(response, "category", category, sizeof(category));

    if (response->error == WHARF_HTTP_OK && response->status == 401) {
        set_outcome(outcome, WHARF_RESULT_ERROR, 401, -1);
        if (strcmp(category, "EXPIRED_AUTHENTICATION") == 0)
            snprintf(outcome->reason, sizeof(outcome->reason),
                     "HubSpot reports that the access token expired (HTTP 401: %s); create a "
                     "new token for the private app and set it in setting \"access_token\"",
                     message);
        else
            snprintf(outcome->reason, sizeof(outcome->reason),
                     "HubSpot rejected the access token (HTTP 401: %s); check setting "
                     "\"access_token\"",
                     message[0] != '\0' ? message : "no message");
        return;
    }
    if (response->error == WHARF_HTTP_OK && response->status == 403) {
        set_outcome(outcome, WHARF_RESULT_ERROR, 403, -1);
        snprintf(outcome->reason, sizeof(outcome->reason),
                 "HubSpot denied access (HTTP 403: %s); give the private app behind setting "
                 "\"access_token\" the scopes crm.objects.contacts.write, "
                 "crm.objects.companies.write and crm.schemas.contacts.read / "
                 "crm.schemas.companies.read",
                 message[0] != '\0' ? message : "no message");
        return;
    }
    if (response->error == WHARF_HTTP_OK && response->status == 404) {
        set_outcome(outcome, WHARF_RESULT_ERROR, 404, -1);
        snprintf(outcome->reason, sizeof(outcome->reason),
                 "HubSpot answered HTTP 404 (%s); check setting \"base_url\"",
                 message[0] != '\0' ? message : "no message");
        return;
    }

    wharf_http_result_from_response(plugin->host, response, &result);
    set_outcome(outcome, result.kind, result.status_code, result.retry_after_ms);
    snprintf(outcome->reason, sizeof(outcome->reason), "%s", result.reason);

    if (response->error == WHARF_HTTP_OK && response->status == 429) {
        char policy[64];

        body_member(response, "policyName", policy, sizeof(policy));
        if (outcome->retry_after_ms < 0 && policy[0] != '\0')
            outcome->retry_after_ms = policy_delay_ms(policy);
        snprintf(outcome->reason, sizeof(outcome->reason),
                 "HubSpot rate limit reached (HTTP 429, policy %s): %s",
                 policy[0] != '\0' ? policy : "not named",
                 message[0] != '\0' ? message : "no message");
    }
}
