/*
 * The HTTP API: routing of /healthz and /api/v1/ requests to handlers.
 */
#ifndef WHARF_CORE_API_H
#define WHARF_CORE_API_H

#include "http_server.h"
#include "store.h"

struct connector;
struct json_object;
struct service;

/* http_handler_fn for the server; user_data is the service. */
void api_handle(http_request *request, void *service);

/* The connector with this id, or NULL after answering 404 naming the id. */
struct connector *api_find_connector(struct service *service, http_request *request,
                                     const char *id);

/* Write into hint the next step for a user or account id that names no
 * entity: the ids of the entities that have value as a claim (external_id,
 * email or domain, anonymous_id), or the look-up that finds one. field
 * names what took the id, such as "user_id". */
void api_describe_entity_claims(struct service *service, store_entity_kind kind,
                                const char *field, const char *value, char *hint,
                                size_t hint_size);

/* Read query parameter name into buffer. Returns 1 when given, 0 when
 * absent, or -1 after responding with 400 when the value does not fit:
 * such a value is never valid, and ignoring it would drop a filter. */
int api_query_value(http_request *request, const char *name, char *buffer, size_t size);

/* Parse the request body as JSON. Returns the object, or NULL after
 * responding with 400 with the parser's position and message. */
struct json_object *api_read_json_body(http_request *request);

/* Route handlers. param is the {id} segment of the path, or NULL. */
typedef void (*api_handler_fn)(struct service *service, http_request *request,
                               const char *param);

void api_plugins_list(struct service *service, http_request *request, const char *param);
void api_connectors_list(struct service *service, http_request *request, const char *param);
void api_connectors_create(struct service *service, http_request *request, const char *param);
void api_connectors_get(struct service *service, http_request *request, const char *param);
void api_connectors_update(struct service *service, http_request *request, const char *param);
void api_connectors_delete(struct service *service, http_request *request, const char *param);
void api_connectors_test(struct service *service, http_request *request, const char *param);
void api_users_lookup(struct service *service, http_request *request, const char *param);
void api_users_get(struct service *service, http_request *request, const char *param);
void api_users_events(struct service *service, http_request *request, const char *param);
void api_users_create(struct service *service, http_request *request, const char *param);
void api_accounts_lookup(struct service *service, http_request *request, const char *param);
void api_accounts_get(struct service *service, http_request *request, const char *param);
void api_accounts_users(struct service *service, http_request *request, const char *param);
void api_accounts_create(struct service *service, http_request *request, const char *param);
void api_segments_list(struct service *service, http_request *request, const char *param);
void api_segments_create(struct service *service, http_request *request, const char *param);
void api_segments_get(struct service *service, http_request *request, const char *param);
void api_segments_update(struct service *service, http_request *request, const char *param);
void api_segments_delete(struct service *service, http_request *request, const char *param);
void api_ingest_identify(struct service *service, http_request *request, const char *param);
void api_ingest_group(struct service *service, http_request *request, const char *param);
void api_ingest_track(struct service *service, http_request *request, const char *param);
void api_ingest_batch(struct service *service, http_request *request, const char *param);
/* Close the ingest API's timer at shutdown. */
void api_ingest_close(void);
void api_batches_create(struct service *service, http_request *request, const char *param);
void api_batches_list(struct service *service, http_request *request, const char *param);
void api_batches_get(struct service *service, http_request *request, const char *param);
void api_logs_read(struct service *service, http_request *request, const char *param);
void api_dead_letters_list(struct service *service, http_request *request, const char *param);
void api_dead_letters_resend(struct service *service, http_request *request, const char *param);
void api_metrics(struct service *service, http_request *request, const char *param);

#endif
