/* The sync engine's records in SQLite: sync.db under the data directory. */
#include "sync_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sqlite_sync_store {
    sync_store base;
    sqlite3 *db;
    sqlite3_stmt *append;
    int in_transaction;
} sqlite_sync_store;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS log_lines ("
    "  sequence INTEGER PRIMARY KEY,"
    "  at_ms INTEGER NOT NULL,"
    "  connector_id TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  user_id TEXT,"
    "  account_id TEXT,"
    "  claims TEXT,"
    "  batch_id TEXT,"
    "  data TEXT"
    ");"
    "CREATE INDEX IF NOT EXISTS log_lines_connector ON log_lines (connector_id, sequence);"
    "CREATE INDEX IF NOT EXISTS log_lines_user ON log_lines (user_id);"
    "CREATE INDEX IF NOT EXISTS log_lines_batch ON log_lines (batch_id);"
    "CREATE INDEX IF NOT EXISTS log_lines_time ON log_lines (at_ms);"
    "CREATE TABLE IF NOT EXISTS batches ("
    "  id TEXT PRIMARY KEY,"
    "  connector_id TEXT NOT NULL,"
    "  document TEXT NOT NULL,"
    "  created_seq INTEGER NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS batches_connector ON batches (connector_id, created_seq);";

static int fail(sqlite_sync_store *s, const char *what)
{
    snprintf(s->base.error, sizeof(s->base.error), "%s: %s", what, sqlite3_errmsg(s->db));
    return -EIO;
}

static void bind_text(sqlite3_stmt *statement, int column, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(statement, column, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, column);
}

static int log_append(sync_store *base, const log_line *line)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    int rc;

    if (!s->in_transaction) {
        if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
            return fail(s, "cannot begin writing log lines");
        s->in_transaction = 1;
    }
    sqlite3_reset(s->append);
    sqlite3_bind_int64(s->append, 1, line->at_ms);
    bind_text(s->append, 2, line->connector_id);
    bind_text(s->append, 3, line->message);
    bind_text(s->append, 4, line->user_id);
    bind_text(s->append, 5, line->account_id);
    bind_text(s->append, 6, line->claims_json);
    bind_text(s->append, 7, line->batch_id);
    bind_text(s->append, 8, line->data_json);
    rc = sqlite3_step(s->append);
    sqlite3_reset(s->append);
    sqlite3_clear_bindings(s->append);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot write log line");
}

static int log_flush(sync_store *base)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;

    if (!s->in_transaction)
        return 0;
    s->in_transaction = 0;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = fail(s, "cannot commit log lines");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}

static int log_read(sync_store *base, const log_query *query, log_line_fn fn, void *user_data)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    sqlite3_stmt *statement = NULL;
    char sql[1024];
    int rc;

    /* Every filter is bound; a NULL parameter disables its condition. */
    snprintf(sql, sizeof(sql),
             "SELECT sequence, at_ms, connector_id, message, user_id, account_id, claims, "
             "batch_id, data FROM log_lines WHERE connector_id = ?1 "
             "AND (?2 IS NULL OR message = ?2) AND (?3 IS NULL OR user_id = ?3) "
             "AND (?4 IS NULL OR account_id = ?4) AND (?5 IS NULL OR batch_id = ?5) "
             "AND at_ms >= ?6 AND sequence > ?7 ORDER BY sequence %s LIMIT ?8",
             query->after_sequence >= 0 ? "ASC" : "DESC");
    if (sqlite3_prepare_v2(s->db, sql, -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot read log lines");
    bind_text(statement, 1, query->connector_id);
    bind_text(statement, 2, query->message);
    bind_text(statement, 3, query->user_id);
    bind_text(statement, 4, query->account_id);
    bind_text(statement, 5, query->batch_id);
    sqlite3_bind_int64(statement, 6, query->since_ms);
    sqlite3_bind_int64(statement, 7, query->after_sequence >= 0 ? query->after_sequence : -1);
    sqlite3_bind_int64(statement, 8, query->limit);

    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        log_line line = {
            .sequence = sqlite3_column_int64(statement, 0),
            .at_ms = sqlite3_column_int64(statement, 1),
            .connector_id = (const char *)sqlite3_column_text(statement, 2),
            .message = (const char *)sqlite3_column_text(statement, 3),
            .user_id = (const char *)sqlite3_column_text(statement, 4),
            .account_id = (const char *)sqlite3_column_text(statement, 5),
            .claims_json = (const char *)sqlite3_column_text(statement, 6),
            .batch_id = (const char *)sqlite3_column_text(statement, 7),
            .data_json = (const char *)sqlite3_column_text(statement, 8),
        };
        if (fn(&line, user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "cannot read log lines");
}

static int log_purge(sync_store *base, int64_t before_ms, int64_t *deleted)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    *deleted = 0;
    log_flush(base);
    if (sqlite3_prepare_v2(s->db, "DELETE FROM log_lines WHERE at_ms < ?1", -1, &statement,
                           NULL) != SQLITE_OK)
        return fail(s, "cannot purge log lines");
    sqlite3_bind_int64(statement, 1, before_ms);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot purge log lines");
    *deleted = sqlite3_changes(s->db);
    return 0;
}

static int batch_save(sync_store *base, const char *id, const char *connector_id,
                      const char *document)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO batches (id, connector_id, document, created_seq) "
                           "VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM batches)) "
                           "ON CONFLICT(id) DO UPDATE SET document = excluded.document",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot save batch");
    bind_text(statement, 1, id);
    bind_text(statement, 2, connector_id);
    bind_text(statement, 3, document);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot save batch");
}

static int batch_each(sync_store *base, const char *connector_id,
                      int (*fn)(const char *id, const char *document, void *user_data),
                      void *user_data)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, document FROM batches WHERE (?1 IS NULL OR connector_id = ?1) "
                           "ORDER BY created_seq",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot list batches");
    bind_text(statement, 1, connector_id);
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(statement, 0),
               (const char *)sqlite3_column_text(statement, 1), user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, "cannot list batches");
}

static void sqlite_close(sync_store *base)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;

    log_flush(base);
    sqlite3_finalize(s->append);
    sqlite3_close(s->db);
    free(s);
}

static const sync_store_ops sqlite_ops = {
    .log_append = log_append,
    .log_flush = log_flush,
    .log_read = log_read,
    .log_purge = log_purge,
    .batch_save = batch_save,
    .batch_each = batch_each,
    .close = sqlite_close,
};

int sync_store_open_sqlite(const char *data_dir, sync_store **out, char *error, size_t error_size)
{
    sqlite_sync_store *s = calloc(1, sizeof(*s));
    char path[4096];
    char *message = NULL;
    mode_t old_mask;
    int rc;

    *out = NULL;
    if (s == NULL) {
        snprintf(error, error_size, "out of memory");
        return -ENOMEM;
    }
    s->base.ops = &sqlite_ops;
    snprintf(path, sizeof(path), "%s/sync.db", data_dir);

    /* Log lines name users and their claims, so they get 0600 like the store. */
    old_mask = umask(077);
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db,
                          "PRAGMA journal_mode = WAL;"
                          "PRAGMA synchronous = NORMAL;",
                          NULL, NULL, &message);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, schema, NULL, NULL, &message);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->db,
                                "INSERT INTO log_lines (at_ms, connector_id, message, user_id, "
                                "account_id, claims, batch_id, data) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                -1, SQLITE_PREPARE_PERSISTENT, &s->append, NULL);
    umask(old_mask);
    if (rc != SQLITE_OK) {
        snprintf(error, error_size, "cannot open %s: %s", path,
                 message != NULL ? message : (s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory"));
        sqlite3_free(message);
        sqlite3_finalize(s->append);
        sqlite3_close(s->db);
        free(s);
        return -EIO;
    }
    chmod(path, 0600);
    sqlite3_busy_timeout(s->db, 5000);
    *out = &s->base;
    return 0;
}
