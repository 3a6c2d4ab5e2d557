/*
 * The sync engine: decides, for every committed change and every connector,
 * whether a message goes out (the connector's whitelist) and delivers
 * messages through the connector's plugin, and runs manual batches ("Send
 * to"). Every decision leaves a per-connector log line.
 *
 * Each connector has its own queue. Messages go out in batches of up to the
 * plugin's max_batch_size, with at most max_connections batches in flight;
 * automatic messages go before the next chunk of a manual batch, so an
 * export never holds back live changes.
 */
#ifndef WHARF_CORE_SYNC_H
#define WHARF_CORE_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "entities.h"

struct json_object;
struct service;
struct segment;
struct connector;

typedef struct sync_engine sync_engine;

/* Open the sync store under the data directory. */
sync_engine *sync_engine_create(struct service *service, unsigned log_retention_days,
                                char *error, size_t error_size);

/* Start the handles that commit log lines and purge old ones. */
int sync_engine_start(sync_engine *engine);

/* Close the handles; batches still in flight complete while the loop runs
 * on (their connectors cancel requests when they stop), and their messages
 * stay queued for the next start unless they succeeded. */
void sync_engine_stop(sync_engine *engine);
void sync_engine_free(sync_engine *engine);

/* entities_update_fn for the prepare hook: decide, per connector, and
 * store each message in the transaction of the change. */
void sync_prepare_updates(void *engine, const entity_update *updates, size_t count);

/* entities_update_fn for the update hook: the transaction committed, so
 * its messages join their queues. */
void sync_on_updates(void *engine, const entity_update *updates, size_t count);

/* A connector's plugin instance started: send what waits for it. */
void sync_connector_started(sync_engine *engine, const char *connector_id);

/* Graceful stop: send nothing new and call done once every request in
 * flight has its results, or after timeout_ms. What is still queued stays
 * in the store for the next start. */
void sync_engine_drain(sync_engine *engine, uint64_t timeout_ms, void (*done)(void *),
                       void *data);

/* Commit what results that arrived after sync_engine_stop() changed; call
 * before closing the store. */
void sync_engine_flush(sync_engine *engine);

/* GET /api/v1/connectors/{id}/dead-letters: {"dead_letters": [...],
 * "next_after"}; after and limit page through them. NULL with error on a
 * store failure. */
struct json_object *sync_dead_letters_list(sync_engine *engine, const char *connector_id,
                                           int64_t after, unsigned limit, char *error,
                                           size_t error_size);

/* Re-queue dead letters of a connector: the ids given, or all when count
 * is 0. Returns the number re-queued, -2 with error when a given id is
 * not a dead letter of the connector (then none is re-queued), or -1 with
 * error when the store failed. */
int64_t sync_dead_letters_resend(sync_engine *engine, const char *connector_id,
                                 const int64_t *ids, size_t count, char *error,
                                 size_t error_size);

/* Prometheus text exposition of the delivery metrics; the caller frees
 * it. */
char *sync_metrics_text(sync_engine *engine);

/* segment_ready_fn: start manual batches waiting for this segment. */
void sync_on_segment_ready(void *engine, struct segment *segment);

/* POST /api/v1/connectors/{id}/batches. Returns the HTTP status (202, or
 * 400/404/409 with a message in error) and the batch view in *view. */
int sync_batch_create(sync_engine *engine, struct connector *connector,
                      struct json_object *body, struct json_object **view, char *error,
                      size_t error_size);

/* The batch view, or NULL when unknown. */
struct json_object *sync_batch_view(sync_engine *engine, const char *id);

/* The connector's batches, newest last. */
struct json_object *sync_batch_list(sync_engine *engine, const char *connector_id);

/* Write one log line for a connector (see docs/operator-guide.md). data
 * (may be NULL) is taken over. */
void sync_log(sync_engine *engine, const char *connector_id, const char *message,
              store_entity_kind kind, uint32_t index, const char *batch_id,
              struct json_object *data);

/* Return non-zero when name is a message that wharfd writes to connector
 * logs ("outgoing.user.start", ...). */
int sync_is_log_message(const char *name);

/* Write every log message name, comma-separated, into list. */
void sync_list_log_messages(char *list, size_t size);

/* Read log lines into a new {"lines": [...]} object, or NULL with error. */
struct json_object *sync_logs_read(sync_engine *engine, const char *connector_id,
                                   const char *message, const char *user_id,
                                   const char *account_id, const char *batch_id,
                                   int64_t since_ms, int64_t after_sequence, unsigned limit,
                                   char *error, size_t error_size);

/* Drop the queue of a deleted connector: queued messages are logged as
 * errors and its running manual batches fail. */
void sync_connector_removed(sync_engine *engine, const char *connector_id);

#endif
