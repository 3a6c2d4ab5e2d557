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

typedef int (*store_entity_fn)(const store_entity_row *row, void *user_data);
typedef int (*store_event_fn)(const store_event_row *row, void *user_data);
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
    /* Every event in insertion order (to rebuild the in-memory index). */
    int (*events_each)(store *store, store_event_fn fn, void *user_data);

    int (*segment_save)(store *store, const char *id, const char *document);
    int (*segment_delete)(store *store, const char *id);
    int (*segment_each)(store *store, store_record_fn fn, void *user_data);

    int (*membership_set)(store *store, const char *segment_id, const char *entity_id,
                          int member);
    int (*membership_clear)(store *store, const char *segment_id);
    int (*membership_each)(store *store, store_membership_fn fn, void *user_data);

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
