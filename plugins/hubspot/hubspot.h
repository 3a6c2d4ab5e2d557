/*
 * The HubSpot connector: upserts users as contacts (by email) and accounts
 * as companies (by domain) through HubSpot's CRM v3 batch upsert endpoints,
 * with a private app's access token.
 *
 * Mapped properties are checked against the portal's property definitions
 * (GET /crm/v3/properties/{object}), which the connector fetches on the
 * first send that needs them and keeps for HUBSPOT_CATALOG_TTL_MS, so a
 * value of the wrong type or a property that does not exist gives an error
 * on that one message instead of failing the whole request.
 *
 * Every callback runs on the event loop thread; the connector has no
 * encode(), so the instance needs no lock.
 */
#ifndef WHARF_HUBSPOT_H
#define WHARF_HUBSPOT_H

#include <stddef.h>
#include <stdint.h>

#include "wharf/plugin.h"
#include "wharf/sdk/field_mapping.h"

/* HubSpot's documented maximum of inputs per batch request. */
#define HUBSPOT_MAX_BATCH_INPUTS 100
#define HUBSPOT_MAX_TIMEOUT_MS 600000
/* How long fetched property definitions are trusted. */
#define HUBSPOT_CATALOG_TTL_MS (10 * 60 * 1000)

typedef enum hubspot_object {
    HUBSPOT_CONTACTS = 0,
    HUBSPOT_COMPANIES = 1,
    HUBSPOT_OBJECT_COUNT = 2
} hubspot_object;

/* Settings after validation. */
typedef struct hubspot_config {
    char *base_url; /* without a trailing slash */
    wharf_http_header *headers; /* Authorization, Content-Type, Accept */
    size_t header_count;
    size_t batch_size;
    uint32_t timeout_ms;
    wharf_field_mapping mappings[HUBSPOT_OBJECT_COUNT];
} hubspot_config;

/* Property definitions of one object type, as fetched from HubSpot. */
typedef struct hubspot_catalog {
    wharf_field *fields; /* names owned by the catalog */
    size_t count;
    int64_t fetched_at_ms; /* 0 when never fetched */
} hubspot_catalog;

typedef struct hubspot {
    const wharf_host *host;
    wharf_connector *connector;
    hubspot_config config;
    hubspot_catalog catalogs[HUBSPOT_OBJECT_COUNT];
} hubspot;

/* "contacts" or "companies", as in the API's paths. */
const char *hubspot_object_path(hubspot_object object);

/* Read and validate the settings. Returns 0, or -EINVAL / -ENOMEM with an
 * operator-facing message naming the setting in error. */
int hubspot_config_read(const struct json_object *settings, hubspot_config *config,
                        char *error, size_t error_size);
void hubspot_config_free(hubspot_config *config);

/* Parse a GET /crm/v3/properties/{object} body into catalog (replacing
 * what it held) and resolve the object's mapping against it. Returns 0, or
 * -EINVAL with a reason, or -ENOMEM. */
int hubspot_catalog_update(hubspot *plugin, hubspot_object object, const char *body,
                           size_t body_size, char *reason, size_t reason_size);
void hubspot_catalog_free(hubspot_catalog *catalog);

/* Non-zero when the object's mapping needs property definitions that are
 * missing or older than HUBSPOT_CATALOG_TTL_MS. */
int hubspot_catalog_needed(const hubspot *plugin, hubspot_object object, int64_t now_ms);

/* filter(): skip a user without an email and an account without a
 * domain, the keys HubSpot matches records by. */
int hubspot_filter(void *instance, const struct json_object *message, char *reason,
                   size_t reason_size);

/* Write one batch upsert input for message: {"idProperty": ..., "id": ...,
 * "objectWriteTraceId": "<index>", "properties": {...}}. A record writer
 * for wharf_record_requests_build(); context is the hubspot instance. */
int hubspot_write_contact(void *context, const struct json_object *message, size_t index,
                          wharf_buffer *out, char *reason, size_t reason_size);
int hubspot_write_company(void *context, const struct json_object *message, size_t index,
                          wharf_buffer *out, char *reason, size_t reason_size);

/* Result of a HubSpot response that applies to every record of the request
 * (authentication, rate limit, server error). */
typedef struct hubspot_outcome {
    wharf_result_kind kind;
    int status_code;
    int64_t retry_after_ms;
    char reason[512];
} hubspot_outcome;

/* Classify a response that is not a success: 401/403 name the token
 * setting, 429 takes its delay from Retry-After or HubSpot's policyName,
 * everything else follows wharf_http_result. */
void hubspot_classify_failure(const hubspot *plugin, const wharf_http_response *response,
                              hubspot_outcome *outcome);

void hubspot_send(void *instance, wharf_batch *batch);

#endif /* WHARF_HUBSPOT_H */
