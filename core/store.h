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

typedef struct store store;

typedef int (*store_record_fn)(const char *id, const char *document, void *user_data);

typedef struct store_ops {
    const char *backend; /* "sqlite" */
    int (*connector_save)(store *store, const char *id, const char *document);
    int (*connector_delete)(store *store, const char *id);
    /* Call fn for every connector in creation order; stops when fn returns
     * non-zero. */
    int (*connector_each)(store *store, store_record_fn fn, void *user_data);
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
