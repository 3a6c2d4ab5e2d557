/*
 * Storage of the sync engine's records: per-connector log lines and manual
 * batches. They live apart from customer data (in SQLite, sync.db under the
 * data directory) because log lines are written at the rate messages are
 * delivered and expire after a retention period; a networked backend can
 * implement the same table of functions.
 */
#ifndef WHARF_CORE_SYNC_STORE_H
#define WHARF_CORE_SYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sync_store sync_store;

/* One per-connector log line. Text fields may be NULL; claims and data are
 * JSON text. */
typedef struct log_line {
    int64_t sequence; /* assigned by the store */
    int64_t at_ms;    /* Unix epoch milliseconds */
    const char *connector_id;
    const char *message; /* "outgoing.user.success", ... */
    const char *user_id;
    const char *account_id;
    const char *claims_json;
    const char *batch_id;
    const char *data_json;
} log_line;

/* Filters for reading log lines of one connector; NULL or 0 means any. */
typedef struct log_query {
    const char *connector_id;
    const char *message;
    const char *user_id;
    const char *account_id;
    const char *batch_id;
    int64_t since_ms;       /* at_ms >= since_ms */
    int64_t after_sequence; /* >= 0: sequence > after_sequence, oldest first (for following); -1: newest first */
    unsigned limit;
} log_query;

typedef int (*log_line_fn)(const log_line *line, void *user_data);

typedef struct sync_store_ops {
    /* Appends are grouped: the first one opens a transaction that
     * log_flush() commits. */
    int (*log_append)(sync_store *store, const log_line *line);
    int (*log_flush)(sync_store *store);
    /* Newest first, unless after_sequence >= 0 (then oldest first). */
    int (*log_read)(sync_store *store, const log_query *query, log_line_fn fn, void *user_data);
    /* Delete lines older than before_ms; returns the count in *deleted. */
    int (*log_purge)(sync_store *store, int64_t before_ms, int64_t *deleted);

    int (*batch_save)(sync_store *store, const char *id, const char *connector_id,
                      const char *document);
    int (*batch_each)(sync_store *store, const char *connector_id,
                      int (*fn)(const char *id, const char *document, void *user_data),
                      void *user_data);
    void (*close)(sync_store *store);
} sync_store_ops;

struct sync_store {
    const sync_store_ops *ops;
    char error[512];
};

/* Open (creating if needed) data_dir/sync.db with mode 0600. */
int sync_store_open_sqlite(const char *data_dir, sync_store **store, char *error,
                           size_t error_size);

#endif
