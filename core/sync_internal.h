/* State shared by the sync engine's files (sync.c, manual_batch.c). */
#ifndef WHARF_CORE_SYNC_INTERNAL_H
#define WHARF_CORE_SYNC_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "entities.h"
#include "message.h"
#include "sync.h"
#include "sync_store.h"

struct json_object;
struct service;
typedef struct retry_timer retry_timer;

/* A manual batch ("Send to"). */
typedef struct manual_batch {
    char id[40];
    char connector_id[40];
    char target[16];    /* "segment", "user" or "account" */
    char target_id[40];
    const char *state;  /* "waiting_for_segment", "sending", "done", "failed", "rejected" */
    uint32_t total;
    uint32_t sent;
    uint32_t skipped;
    uint32_t failed;
    char *error;
    char created_at[32];
    char updated_at[32];
    /* While sending a segment: the members when sending started, and the
     * next index to send. */
    store_entity_kind kind;
    uint64_t *members;
    uint32_t words;
    uint32_t cursor;
    uint32_t outstanding; /* messages queued or in flight */
    int exhausted;        /* every message has been queued */
    struct manual_batch *next;
} manual_batch;

/* One message waiting for, or handed to, a connector. */
typedef struct outgoing {
    struct json_object *message;
    store_entity_kind kind;
    char user_id[40];
    char account_id[40];
    char *claims_text;
    manual_batch *batch; /* NULL for automatic sync */
    unsigned attempt;
    struct outgoing *next;
} outgoing;

typedef struct sync_queue {
    struct sync_engine *engine;
    char connector_id[40];
    outgoing *head;
    outgoing *tail;
    size_t length;
    unsigned in_flight;
    struct sync_queue *next;
} sync_queue;

struct sync_engine {
    struct service *service;
    sync_store *store;
    unsigned retention_days;
    sync_queue *queues;
    manual_batch *batches; /* creation order */
    retry_timer *retries;
    uv_check_t check;
    uv_timer_t purge_timer;
    int started;
    int stopping;
    int pumping; /* inside sync_pump(), which must not re-enter */
    int log_dirty;
    int log_error_reported;
    message_text data_text; /* scratch for the data of log lines */
};

/* What a log line records about a message. */
typedef enum sync_outcome {
    SYNC_START,
    SYNC_SUCCESS,
    SYNC_SKIP,
    SYNC_RETRY,
    SYNC_ERROR
} sync_outcome;

int64_t sync_now_ms(void);
/* "outgoing.user.skip", "outgoing.account.start", ... */
const char *sync_message_name(store_entity_kind kind, sync_outcome outcome);
/* Write a log line whose data is {"reason": reason}. */
void sync_log_reason(sync_engine *engine, const char *connector_id, sync_outcome outcome,
                     store_entity_kind kind, uint32_t index, const char *batch_id,
                     const char *reason);
int sync_whitelist_has_all(const struct json_object *whitelist);

sync_queue *sync_queue_of(sync_engine *engine, const char *connector_id);
outgoing *sync_outgoing_new(sync_engine *engine, store_entity_kind kind, uint32_t index,
                            struct json_object *message, manual_batch *batch);
void sync_queue_push(sync_queue *q, outgoing *item);
void sync_pump(sync_engine *engine, sync_queue *q);

/* manual_batch.c */
void manual_batch_restore(sync_engine *engine);
/* Queue up to count messages of the connector's oldest sending batch. */
void manual_batch_refill(sync_engine *engine, sync_queue *q, size_t count);
/* A message of the batch got its final outcome; finish the batch if done. */
void manual_batch_progress(sync_engine *engine, manual_batch *batch);
void manual_batch_fail_connector(sync_engine *engine, const char *connector_id,
                                 const char *reason);
void manual_batch_free_all(sync_engine *engine);

#endif
