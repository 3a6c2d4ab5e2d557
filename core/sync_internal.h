/* State shared by the sync engine's files (sync.c, manual_batch.c). */
#ifndef WHARF_CORE_SYNC_INTERNAL_H
#define WHARF_CORE_SYNC_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "entities.h"
#include "index_map.h"
#include "message.h"
#include "sync.h"
#include "sync_store.h"

struct json_object;
struct service;

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
    /* While sending a segment: the members when sending started, in the
     * order they are sent, and the next position to send. */
    store_entity_kind kind;
    uint32_t *members; /* entity indexes; ATTR_NO_ENTITY for one gone since */
    uint32_t member_count;
    uint32_t next;
    /* Outcome of each position from handed_through on, until every
     * position before it has one. A restart resumes from handed_through
     * and restores the durable counts below. */
    uint8_t *outcomes;
    uint32_t outcomes_capacity;
    uint32_t handed_through;
    uint32_t durable_sent; /* counts a restart restores (see save()) */
    uint32_t durable_skipped;
    uint32_t durable_failed;
    int needs_resume;     /* restored while running; resumes once connectors run */
    uint32_t outstanding; /* messages queued, in flight or in the durable queue */
    int exhausted;        /* every message has been queued */
    int64_t saved_ms;     /* when progress was last stored */
    struct manual_batch *next_batch;
} manual_batch;

/* Outcome of a batch position (manual_batch.outcomes). */
enum {
    POSITION_PENDING = 0,
    POSITION_SENT,
    POSITION_SKIPPED,
    POSITION_FAILED,
    POSITION_QUEUED /* handed to the durable queue (a retry); counted there */
};

/* One message waiting for, or handed to, a connector. */
typedef struct outgoing {
    char *payload;               /* JSON text; NULL until needed */
    size_t payload_length;
    size_t payload_capacity;     /* bytes allocated at payload */
    struct json_object *message; /* parsed; NULL until needed */
    store_entity_kind kind;
    uint32_t index; /* entity index, ATTR_NO_ENTITY when unknown */
    char user_id[40];
    char account_id[40];
    char *claims_text;
    size_t claims_capacity; /* bytes allocated at claims_text */
    manual_batch *batch;  /* NULL for automatic sync */
    uint32_t position;    /* in the batch's member list */
    int from_members;     /* built from batch->members, not stored */
    int64_t sequence;     /* row in the store's delivery queue; 0 when none */
    int64_t created_ms;
    int64_t not_before_ms;
    unsigned attempt;
    struct outgoing *prev;
    struct outgoing *next;
} outgoing;

/* Request latency histogram bounds, in seconds. */
#define SYNC_LATENCY_BUCKETS 12

typedef struct sync_counters {
    uint64_t sent;
    uint64_t skipped;
    uint64_t failed;
    uint64_t retries;
    uint64_t dead_letters; /* made since start */
    uint64_t requests;
    uint64_t latency_buckets[SYNC_LATENCY_BUCKETS];
    double latency_sum_seconds;
} sync_counters;

typedef struct sync_queue {
    struct sync_engine *engine;
    char connector_id[40];
    /* The window: messages in memory waiting for a send, in order. At most
     * SYNC_WINDOW_MAX; the rest of the connector's queue stays in the
     * store until the window has room. */
    outgoing *head;
    outgoing *tail;
    size_t length;
    int64_t loaded_through; /* highest store sequence read into memory */
    int spilled;            /* the store may hold queued rows not in memory */
    /* The connector's rows in the store: queued (in flight included) and
     * dead letters. Counted once when the queue is made and kept in step
     * with every write, so that /metrics need not count rows. */
    int64_t stored_queued;
    int64_t stored_dead;
    unsigned in_flight;     /* requests (plugin batches) */
    size_t in_flight_messages;
    index_map busy; /* entity key -> messages in flight */
    index_map event_marks; /* user index -> first event sequence not yet sent */
    uv_timer_t wake; /* next retry time or rate-limit token */
    int wake_started;
    int64_t wake_at_ms;
    double tokens; /* rate limit bucket */
    int64_t tokens_at_ms;
    /* State of pausing a failing destination (delivery.pause_after_failures).
     * failed_requests counts requests (plugin batches) in a row in which
     * every message asked for a retry, and pauses the pauses in a row, each
     * twice as long. probing is set while the one request that ends a
     * pause is out. */
    unsigned failed_requests;
    unsigned pauses;
    int64_t paused_until_ms;
    int probing;
    sync_counters counters;
    struct sync_queue *next;
} sync_queue;

/* Messages made during an ingest transaction, stored with it and queued
 * once it commits. */
typedef struct staged_message {
    char connector_id[40];
    outgoing *item;
} staged_message;

struct sync_engine {
    struct service *service;
    sync_store *store;
    unsigned retention_days;
    sync_queue *queues;
    manual_batch *batches; /* creation order */
    staged_message *staged;
    size_t staged_count;
    size_t staged_capacity;
    uv_check_t check;
    uv_timer_t purge_timer;
    int started;
    int stopping; /* no new sends; results leave the queue as it is */
    int resume_pending; /* queues to reload from the store */
    int pumping; /* inside sync_pump(), which must not re-enter */
    int log_dirty;
    int log_error_reported;
    int queue_error_reported;
    int64_t progress_saved_ms; /* last scan of running batches' progress */
    void (*drained)(void *);
    void *drained_data;
    uv_timer_t drain_timer;
    int drain_timer_started;
    message_text data_text; /* scratch for the data of log lines */
    /* Freed messages kept for reuse with their buffers, at most
     * SYNC_SPARE_MAX (sync_queue.c). */
    outgoing *spare;
    size_t spare_count;
};

/* What a log line records about a message. */
typedef enum sync_outcome {
    SYNC_START,
    SYNC_SUCCESS,
    SYNC_SKIP,
    SYNC_RETRY,
    SYNC_ERROR
} sync_outcome;

/* Messages held in memory per connector (see sync_queue). */
#define SYNC_WINDOW_MAX 2000

int64_t sync_now_ms(void);
/* "outgoing.user.skip", "outgoing.account.start", ... */
const char *sync_message_name(store_entity_kind kind, sync_outcome outcome);
/* Write a log line whose data is {"reason": reason}. */
void sync_log_reason(sync_engine *engine, const char *connector_id, sync_outcome outcome,
                     store_entity_kind kind, uint32_t index, const char *batch_id,
                     const char *reason);

/* The data of a log line about a message; fields that are 0, NULL or
 * negative are left out. */
typedef struct line_data {
    unsigned attempt;
    int status_code;
    const char *reason;
    int64_t retry_in_ms;
} line_data;
void sync_log_item(sync_engine *engine, const char *connector_id, const outgoing *item,
                   sync_outcome outcome, const line_data *data);
int sync_whitelist_has_all(const struct json_object *whitelist);

/* sync_queue.c */
sync_queue *sync_queue_of(sync_engine *engine, const char *connector_id);
/* A new message about the entity at index; message (taken over) or
 * payload (taken over) gives its content. */
outgoing *sync_outgoing_new(sync_engine *engine, store_entity_kind kind, uint32_t index,
                            struct json_object *message, manual_batch *batch);
/* The same for an export of the entity (a manual batch's message), written
 * as JSON text. NULL when out of memory. */
outgoing *sync_outgoing_new_export(sync_engine *engine, store_entity_kind kind, uint32_t index,
                                   manual_batch *batch);
/* Free item, or keep it with its buffers for the next new message. */
void sync_outgoing_free(sync_engine *engine, outgoing *item);
/* Free the messages kept for reuse. */
void sync_outgoing_free_spares(sync_engine *engine);
/* The JSON text of the message (made from message on first use), or NULL
 * when out of memory. */
const char *sync_outgoing_payload(outgoing *item);
/* Append to the window, or leave it in the store when the window is full
 * (then item is freed). */
void sync_queue_push(sync_queue *q, outgoing *item);
void sync_pump(sync_engine *engine, sync_queue *q);
/* Log and count every queued message as failed (connector gone). */
void sync_queue_drain(sync_engine *engine, sync_queue *q, const char *reason);
void sync_queue_free(sync_queue *q);
size_t sync_in_flight_total(const sync_engine *engine);
/* A queued message older than item for the same entity, still waiting. */
outgoing *sync_queue_find_waiting(sync_queue *q, store_entity_kind kind, uint32_t index);
void sync_queue_remove(sync_queue *q, outgoing *item);
/* Upper bounds of the request latency histogram, in seconds. */
const double *sync_latency_bounds(void);
/* Report a store write failure once. */
void sync_queue_store_failed(sync_engine *engine, const char *what);

/* manual_batch.c */
void manual_batch_restore(sync_engine *engine);
/* Resume sending batches that were running when wharfd stopped. */
void manual_batch_resume(sync_engine *engine);
/* Queue up to count messages of the connector's oldest sending batch. */
void manual_batch_refill(sync_engine *engine, sync_queue *q, size_t count);
/* A message of the batch got its outcome (a POSITION_* value). */
void manual_batch_settle(sync_engine *engine, outgoing *item, int outcome);
/* A message of the batch that was in the durable queue got its final
 * outcome (after a restart, item->batch may be NULL: batch_id names it). */
void manual_batch_count_queued(sync_engine *engine, const char *batch_id, int outcome);
void manual_batch_fail_connector(sync_engine *engine, const char *connector_id,
                                 const char *reason);
/* Store the progress of running batches: each about once a second, or
 * all now when force is set. */
void manual_batch_save_progress(sync_engine *engine, int force);
manual_batch *manual_batch_find(sync_engine *engine, const char *id);
void manual_batch_free_all(sync_engine *engine);
/* Batches waiting for their segment or sending. */
size_t manual_batch_count_unfinished(const sync_engine *engine);

/* sync_event_marks.c: the events since the last message to a connector.
 * At most this many of the newest go into one message. */
#define SYNC_PENDING_EVENTS_MAX 100
/* A change with events was skipped for the connector. */
void sync_events_note_skip(sync_engine *engine, const char *connector_id,
                           const entity_update *update);
/* The events the connector's message for this update carries, oldest
 * first, when some were skipped before; NULL when the update's own are
 * all (the common case). */
struct json_object *sync_events_pending(sync_engine *engine, const char *connector_id,
                                        const entity_update *update);
void sync_events_forget(sync_queue *q);
/* Read the marks of unsent events back from the store (at start). */
void sync_events_restore(sync_engine *engine);

/* message_coalesce.c: fold an older queued message into a newer one for
 * the same entity: attribute changes keep the older old value, segment
 * changes and events accumulate. */
void message_coalesce(struct json_object *older, struct json_object *newer);

#endif
