/*
 * The Salesforce connector: upserts users as Contacts or Leads and accounts
 * as Accounts through the REST API's sObject Collections upsert
 * (PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField},
 * at most 200 records a request, allOrNone false), after an OAuth 2.0 login.
 *
 * Everything except filter() runs in send() on the event loop thread: the
 * type checks need each sObject's field list (describe), which arrives over
 * HTTP, so records are built only once it is there.
 */
#ifndef WHARF_SALESFORCE_H
#define WHARF_SALESFORCE_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/plugin.h"
#include "wharf/sdk/buffer.h"
#include "wharf/sdk/oauth_token.h"

/* sObject Collections accept at most 200 records per request. */
#define SALESFORCE_RECORDS_PER_REQUEST 200
#define SALESFORCE_MAX_BATCH_SIZE 1000
#define SALESFORCE_MAX_TIMEOUT_MS 600000

typedef enum salesforce_object {
    SALESFORCE_CONTACT = 0,
    SALESFORCE_LEAD = 1,
    SALESFORCE_ACCOUNT = 2,
    SALESFORCE_OBJECT_COUNT = 3
} salesforce_object;

typedef enum salesforce_flow {
    SALESFORCE_FLOW_PASSWORD = 1,
    SALESFORCE_FLOW_CLIENT_CREDENTIALS = 2
} salesforce_flow;

/* One attribute-to-field mapping entry. */
typedef struct salesforce_mapping {
    char *attribute;  /* attribute name, without the "account." prefix */
    int from_account; /* read from the user's account instead of the user */
    char *field;      /* Salesforce field API name */
} salesforce_mapping;

/* Settings of one sObject type. */
typedef struct salesforce_object_config {
    const char *sobject;             /* "Contact", "Lead" or "Account" */
    const char *mapping_setting;     /* "contact_mapping", ... */
    const char *external_id_setting; /* "contact_external_id_field", ... */
    char *external_id_field;
    salesforce_mapping *mappings;
    size_t mapping_count;
} salesforce_object_config;

/* Settings after validation. */
typedef struct salesforce_config {
    char *login_url; /* without a trailing slash */
    salesforce_flow flow;
    char *api_version; /* "v60.0" */
    char **contact_segments;
    size_t contact_segment_count;
    char **lead_segments;
    size_t lead_segment_count;
    salesforce_object_config objects[SALESFORCE_OBJECT_COUNT];
    uint32_t timeout_ms;
} salesforce_config;

/* A describe older than this is fetched again before the next upsert, so
 * that fields added in Salesforce show up without a change to the
 * connector. */
#define SALESFORCE_DESCRIBE_MAX_AGE_MS (10 * 60 * 1000)

/* Field list of one sObject (the "fields" array of its describe). */
typedef struct salesforce_describe {
    struct json_object *fields_by_name; /* lowercase name -> field object */
    int64_t fetched_at_ms;              /* CLOCK_MONOTONIC */
} salesforce_describe;

/* One instance per connector. */
typedef struct salesforce {
    const wharf_host *host;
    wharf_connector *connector;
    salesforce_config config;
    wharf_oauth_token *token;
    /* Describe results, each kept for SALESFORCE_DESCRIBE_MAX_AGE_MS. */
    salesforce_describe describes[SALESFORCE_OBJECT_COUNT];
} salesforce;

/* Read and validate the settings. Returns 0, or -EINVAL / -ENOMEM with an
 * operator-facing message naming the setting in error. */
int salesforce_config_read(const struct json_object *settings, salesforce_config *config,
                           char *error, size_t error_size);
void salesforce_config_free(salesforce_config *config);

/* Build the token request body from the settings (secrets included) and
 * create the token cache. */
int salesforce_login_create(salesforce *sf, const struct json_object *settings,
                            char *error, size_t error_size);

/* Decide which sObject a message becomes. Returns 0 and sets *object, or
 * non-zero with a skip reason for the operator. */
int salesforce_classify(const salesforce_config *config, const struct json_object *message,
                        salesforce_object *object, char *reason, size_t reason_size);

/* --- REST calls with the session token, renewed once on a 401 --- */

typedef struct salesforce_api_response {
    /* The final response, or NULL when no request went out because the
     * login failed. */
    const wharf_http_response *http;
    const wharf_oauth_result *login; /* set when http is NULL */
} salesforce_api_response;

typedef void (*salesforce_api_done_fn)(void *user_data,
                                       const salesforce_api_response *response);

/* Send method path (under the instance URL) with an optional JSON body,
 * which the caller keeps alive until done runs. A 401 response makes the
 * token stale and sends the request once more with a new one. Returns 0
 * and calls done exactly once later, or a negative errno-style code. */
int salesforce_api_request(salesforce *sf, const char *method, const char *path,
                           const char *body, size_t body_size,
                           salesforce_api_done_fn done, void *user_data);

/* Reason and result kind for a failed login, naming the settings to fix. */
wharf_result_kind salesforce_login_failure(const salesforce *sf,
                                           const wharf_oauth_result *login, char *reason,
                                           size_t reason_size);

/* Describe the errors of a Salesforce error body ([{"errorCode",
 * "message"}]) as "CODE: message", or quote the body. */
void salesforce_describe_error_body(const wharf_http_response *response, char *text,
                                    size_t text_size);

/* --- describe --- */

/* Store a describe body for object. Returns 0, -EINVAL when it has no
 * fields array, or -ENOMEM. */
int salesforce_describe_store(salesforce *sf, salesforce_object object, const char *body);
void salesforce_describe_free(salesforce_describe *describe);

/* Non-zero when object's describe is stored and younger than
 * SALESFORCE_DESCRIBE_MAX_AGE_MS. */
int salesforce_describe_is_fresh(const salesforce *sf, salesforce_object object);

/* The field object of name in object's describe, or NULL. */
const struct json_object *salesforce_describe_field(const salesforce *sf,
                                                    salesforce_object object,
                                                    const char *name);

/* --- records --- */

/* Check the external-id setting of object against its describe. Returns 0
 * or non-zero with the reason for every message of that object. */
int salesforce_check_external_id(const salesforce *sf, salesforce_object object,
                                 char *reason, size_t reason_size);

/* Append the sObject record for message to out (one JSON object). Returns
 * 0; WHARF_RESULT_ERROR or WHARF_RESULT_SKIP with a reason when the message
 * cannot become a record (out keeps its old length); or -ENOMEM. */
int salesforce_record_append(const salesforce *sf, salesforce_object object,
                             const struct json_object *message, wharf_buffer *out,
                             char *reason, size_t reason_size);

void salesforce_send(void *instance, wharf_batch *batch);

#endif /* WHARF_SALESFORCE_H */
