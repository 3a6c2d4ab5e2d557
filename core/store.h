/*
 * The storage interface of wharfd. Every persistent record goes through
 * these operations, so that a networked backend (PostgreSQL, for several
 * wharfd instances) can implement the same table of functions as the
 * embedded SQLite one.
 *
 * Records are JSON documents keyed by id. Functions return 0 or a negative
 * errno-style code; on failure store_error() describes the cause.
 */
#ifndef WHARF_CORE_STORE_H
#define WHARF_CORE_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef int (*store_record_fn)(const char *id, const char *document, void *user_data);

/* A user or an account as stored. For a user, key_claim is the email and
 * account_id the linked account; for an account, key_claim is the domain
 * and account_id is NULL. JSON columns are text. */
typedef struct store_entity_row {
    const char *id;
    const char *external_id;
    const char *key_claim;
    const char *account_id;
    const char *anonymous_ids_json; /* JSON array of strings */
    const char *attributes_json;    /* JSON object */
    const char *created_at;
    const char *updated_at;
} store_entity_row;

typedef struct store_event_row {
    int64_t sequence;
    const char *user_id;
    const char *event;
    const char *properties_json;
    int64_t timestamp_ms;
    const char *message_id;
} store_event_row;

typedef enum store_entity_kind {
    STORE_USERS = 0,
    STORE_ACCOUNTS = 1
} store_entity_kind;

/* A message waiting for delivery to one connector (the durable queue), or
 * given up on (a dead letter, dead non-zero). payload is the message as
 * JSON text. */
typedef struct store_delivery_row {
    int64_t sequence; /* assigned by delivery_insert */
    const char *connector_id;
    store_entity_kind kind;
    const char *entity_id;
    const char *batch_id; /* NULL for automatic sync */
    const char *payload;
    int64_t created_ms;
    unsigned attempt;        /* sends so far */
    int64_t next_attempt_ms; /* not before this time */
    int dead;
    const char *reason; /* why it is a dead letter */
} store_delivery_row;

typedef int (*store_entity_fn)(const store_entity_row *row, void *user_data);
typedef int (*store_delivery_fn)(const store_delivery_row *row, void *user_data);
typedef int (*store_event_fn)(const store_event_row *row, void *user_data);
typedef int (*store_event_mark_fn)(const char *connector_id, const char *user_id,
                                   int64_t first_sequence, void *user_data);
typedef int (*store_membership_fn)(const char *segment_id, const char *entity_id,
                                   void *user_data);

typedef struct store_ops {
    const char *backend; /* "sqlite" */
    int (*connector_save)(store *store, const char *id, const char *document);
    int (*connector_delete)(store *store, const char *id);
    /* Call fn for every connector in creation order; stops when fn returns
     * non-zero. */
    int (*connector_each)(store *store, store_record_fn fn, void *user_data);

    /* Group writes into one durable transaction. */
    int (*begin)(store *store);
    int (*commit)(store *store);
    void (*rollback)(store *store);

    int (*entity_save)(store *store, store_entity_kind kind, const store_entity_row *row);
    int (*entity_delete)(store *store, store_entity_kind kind, const char *id);
    /* Call fn for every stored user or account; stops when fn returns non-zero. */
    int (*entity_each)(store *store, store_entity_kind kind, store_entity_fn fn,
                       void *user_data);
    int (*merge_record)(store *store, store_entity_kind kind, const char *from_id,
                        const char *into_id, const char *at);

    int (*event_insert)(store *store, const store_event_row *row);
    /* Give every event of from_user to into_user (identity merge). */
    int (*events_move)(store *store, const char *from_user, const char *into_user);
    /* Events of one user, latest event time first, at most limit. */
    int (*events_of_user)(store *store, const char *user_id, unsigned limit,
                          store_event_fn fn, void *user_data);
    /* Events of one user in arrival order (sequence > after), at most
     * limit; newest_first reverses the order, so the limit keeps the
     * newest. */
    int (*events_of_user_after)(store *store, const char *user_id, int64_t after,
                                unsigned limit, int newest_first, store_event_fn fn,
                                void *user_data);
    /* Every event in insertion order (to rebuild the in-memory index). */
    int (*events_each)(store *store, store_event_fn fn, void *user_data);

    int (*segment_save)(store *store, const char *id, const char *document);
    int (*segment_delete)(store *store, const char *id);
    int (*segment_each)(store *store, store_record_fn fn, void *user_data);

    int (*membership_set)(store *store, const char *segment_id, const char *entity_id,
                          int member);
    int (*membership_clear)(store *store, const char *segment_id);
    int (*membership_each)(store *store, store_membership_fn fn, void *user_data);

    /* The delivery queue and dead letters. Writes join the transaction in
     * progress (an ingest's, so its messages are stored with it), or else
     * the deferred one. */
    int (*delivery_insert)(store *store, store_delivery_row *row);
    /* A new attempt count, not-before time and payload (NULL keeps it). */
    int (*delivery_update)(store *store, int64_t sequence, unsigned attempt,
                           int64_t next_attempt_ms, const char *payload);
    /* Make it a dead letter with reason. */
    int (*delivery_bury)(store *store, int64_t sequence, unsigned attempt, const char *reason);
    int (*delivery_delete)(store *store, int64_t sequence);
    /* Dead letters of a connector back to the queue (attempt 0, due now):
     * the given sequences, or all when count is 0. *revived gets the count;
     * missing (room for count) gets the given sequences that are not dead
     * letters of the connector, and *missing_count their number. */
    int (*delivery_revive)(store *store, const char *connector_id, const int64_t *sequences,
                           size_t count, int64_t *revived, int64_t *missing,
                           size_t *missing_count);
    /* Delete every queued message and dead letter of a connector. */
    int (*delivery_forget_connector)(store *store, const char *connector_id);
    /* Rows of one connector (every connector when NULL) with the given dead
     * flag and sequence > after, in sequence order, at most limit (0: no
     * limit). */
    int (*delivery_each)(store *store, const char *connector_id, int dead, int64_t after,
                         unsigned limit, store_delivery_fn fn, void *user_data);
    int (*delivery_count)(store *store, const char *connector_id, int dead, int64_t *count);

    /* The member list of a manual batch, kept until the batch finishes so
     * that a restart resumes it: an opaque blob. load calls fn once, or
     * returns -ENOENT. */
    int (*batch_members_save)(store *store, const char *batch_id, const void *blob,
                              size_t size);
    int (*batch_members_load)(store *store, const char *batch_id,
                              void (*fn)(const void *blob, size_t size, void *user_data),
                              void *user_data);
    int (*batch_members_delete)(store *store, const char *batch_id);

    /* Event marks: for a connector and a user, the sequence of the first
     * event that no message to the connector has carried. set keeps an
     * existing mark; delete with a NULL user_id deletes the connector's
     * marks. Writes join the transaction in progress, like the queue's. */
    int (*event_mark_set)(store *store, const char *connector_id, const char *user_id,
                          int64_t first_sequence);
    int (*event_mark_delete)(store *store, const char *connector_id, const char *user_id);
    int (*event_marks_each)(store *store, store_event_mark_fn fn, void *user_data);

    /* Small writes outside an ingest (a delivered message deleted, a retry
     * recorded) are grouped: defer_begin() opens a transaction unless one is
     * open, and defer_commit() commits it. begin() commits an open deferred
     * transaction first, so an ingest's commit never waits on them. */
    int (*defer_begin)(store *store);
    int (*defer_commit)(store *store);

    void (*close)(store *store);
} store_ops;

struct store {
    const store_ops *ops;
    char error[512];
};

/* Open (creating if needed) the SQLite store in data_dir/wharf.db. The
 * directory is created with mode 0700 and the database files get 0600,
 * because they hold destination credentials. */
int store_open_sqlite(const char *data_dir, store **store, char *error,
                      size_t error_size);

static inline const char *store_error(const store *store)
{
    return store->error;
}

static inline int store_connector_save(store *store, const char *id, const char *document)
{
    return store->ops->connector_save(store, id, document);
}

static inline int store_connector_delete(store *store, const char *id)
{
    return store->ops->connector_delete(store, id);
}

static inline int store_connector_each(store *store, store_record_fn fn, void *user_data)
{
    return store->ops->connector_each(store, fn, user_data);
}

static inline void store_close(store *store)
{
    if (store != NULL)
        store->ops->close(store);
}

#endif
