/*
 * The SQLite store's delivery queue: messages waiting for a connector and
 * dead letters, in the deliveries table of wharf.db (schema version 4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_internal.h"

typedef enum delivery_statement {
    SQL_INSERT,
    SQL_UPDATE,
    SQL_UPDATE_KEEP_PAYLOAD,
    SQL_BURY,
    SQL_DELETE,
    SQL_STATEMENT_COUNT
} delivery_statement;

static const char *const statement_sql[SQL_STATEMENT_COUNT] = {
    [SQL_INSERT] = "INSERT INTO deliveries (connector_id, kind, entity_id, batch_id, payload, "
                   "created_ms, attempt, next_attempt_ms, dead, reason) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQL_UPDATE] = ("UPDATE deliveries SET attempt = ?2, next_attempt_ms = ?3, payload = ?4 "
                    "WHERE sequence = ?1"),
    [SQL_UPDATE_KEEP_PAYLOAD] =
        "UPDATE deliveries SET attempt = ?2, next_attempt_ms = ?3 WHERE sequence = ?1",
    [SQL_BURY] = "UPDATE deliveries SET dead = 1, attempt = ?2, reason = ?3 WHERE sequence = ?1",
    [SQL_DELETE] = "DELETE FROM deliveries WHERE sequence = ?1",
};

/* Prepared statements per connection; a process has one store, but tests
 * open several in turn. */
typedef struct statement_cache {
    sqlite3 *db;
    sqlite3_stmt *statements[SQL_STATEMENT_COUNT];
    struct statement_cache *next;
} statement_cache;

static statement_cache *caches;

static int fail(store *base, const char *what)
{
    snprintf(base->error, sizeof(base->error), "%s: %s", what,
             sqlite3_errmsg(store_sqlite_handle(base)));
    return -EIO;
}

static sqlite3_stmt *prepared(store *base, delivery_statement which)
{
    sqlite3 *db = store_sqlite_handle(base);
    statement_cache *cache;

    for (cache = caches; cache != NULL && cache->db != db; cache = cache->next)
        ;
    if (cache == NULL) {
        cache = calloc(1, sizeof(*cache));
        if (cache == NULL)
            return NULL;
        cache->db = db;
        cache->next = caches;
        caches = cache;
    }
    if (cache->statements[which] == NULL &&
        sqlite3_prepare_v3(db, statement_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                           &cache->statements[which], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(cache->statements[which]);
    sqlite3_clear_bindings(cache->statements[which]);
    return cache->statements[which];
}

void store_sqlite_delivery_close(store *base)
{
    sqlite3 *db = store_sqlite_handle(base);

    for (statement_cache **link = &caches; *link != NULL; link = &(*link)->next) {
        statement_cache *cache = *link;

        if (cache->db != db)
            continue;
        for (int i = 0; i < SQL_STATEMENT_COUNT; i++)
            sqlite3_finalize(cache->statements[i]);
        *link = cache->next;
        free(cache);
        return;
    }
}

static void bind_text_or_null(sqlite3_stmt *statement, int column, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(statement, column, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, column);
}

static int step_done(store *base, sqlite3_stmt *statement, const char *what)
{
    int rc = sqlite3_step(statement);

    sqlite3_reset(statement);
    return rc == SQLITE_DONE ? 0 : fail(base, what);
}

int store_sqlite_delivery_insert(store *base, store_delivery_row *row)
{
    sqlite3_stmt *statement = prepared(base, SQL_INSERT);
    int rc;

    if (statement == NULL)
        return fail(base, "cannot queue a message");
    sqlite3_bind_text(statement, 1, row->connector_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, (int)row->kind);
    sqlite3_bind_text(statement, 3, row->entity_id, -1, SQLITE_STATIC);
    bind_text_or_null(statement, 4, row->batch_id);
    sqlite3_bind_text(statement, 5, row->payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 6, row->created_ms);
    sqlite3_bind_int64(statement, 7, row->attempt);
    sqlite3_bind_int64(statement, 8, row->next_attempt_ms);
    sqlite3_bind_int(statement, 9, row->dead);
    bind_text_or_null(statement, 10, row->reason);
    rc = step_done(base, statement, "cannot queue a message");
    if (rc == 0)
        row->sequence = sqlite3_last_insert_rowid(store_sqlite_handle(base));
    return rc;
}

int store_sqlite_delivery_update(store *base, int64_t sequence, unsigned attempt,
                                 int64_t next_attempt_ms, const char *payload)
{
    sqlite3_stmt *statement =
        prepared(base, payload != NULL ? SQL_UPDATE : SQL_UPDATE_KEEP_PAYLOAD);

    if (statement == NULL)
        return fail(base, "cannot update a queued message");
    sqlite3_bind_int64(statement, 1, sequence);
    sqlite3_bind_int64(statement, 2, attempt);
    sqlite3_bind_int64(statement, 3, next_attempt_ms);
    if (payload != NULL)
        sqlite3_bind_text(statement, 4, payload, -1, SQLITE_STATIC);
    return step_done(base, statement, "cannot update a queued message");
}

int store_sqlite_delivery_bury(store *base, int64_t sequence, unsigned attempt, const char *reason)
{
    sqlite3_stmt *statement = prepared(base, SQL_BURY);

    if (statement == NULL)
        return fail(base, "cannot store a dead letter");
    sqlite3_bind_int64(statement, 1, sequence);
    sqlite3_bind_int64(statement, 2, attempt);
    bind_text_or_null(statement, 3, reason);
    return step_done(base, statement, "cannot store a dead letter");
}

int store_sqlite_delivery_delete(store *base, int64_t sequence)
{
    sqlite3_stmt *statement = prepared(base, SQL_DELETE);

    if (statement == NULL)
        return fail(base, "cannot delete a delivered message");
    sqlite3_bind_int64(statement, 1, sequence);
    return step_done(base, statement, "cannot delete a delivered message");
}

static int run_for_connector(store *base, const char *sql, const char *connector_id,
                             int64_t sequence, int64_t *changed, const char *what)
{
    sqlite3 *db = store_sqlite_handle(base);
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK)
        return fail(base, what);
    sqlite3_bind_text(statement, 1, connector_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, sequence);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE)
        return fail(base, what);
    if (changed != NULL)
        *changed += sqlite3_changes(db);
    return 0;
}

/* Revived rows are copied to new sequences (at the end of the queue, with
 * a new age) and the dead ones deleted, so the queue's read position,
 * which only moves forward, reaches them. */
int store_sqlite_delivery_revive(store *base, const char *connector_id, const int64_t *sequences,
                                 size_t count, int64_t *revived, int64_t *missing,
                                 size_t *missing_count)
{
    static const char copy_all_sql[] =
        "INSERT INTO deliveries (connector_id, kind, entity_id, batch_id, payload, created_ms) "
        "SELECT connector_id, kind, entity_id, NULL, payload, "
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM deliveries "
        "WHERE connector_id = ?1 AND dead = 1 AND ?2 = ?2 ORDER BY sequence";
    static const char delete_all_sql[] =
        "DELETE FROM deliveries WHERE connector_id = ?1 AND dead = 1 AND ?2 = ?2";
    static const char copy_one_sql[] =
        "INSERT INTO deliveries (connector_id, kind, entity_id, batch_id, payload, created_ms) "
        "SELECT connector_id, kind, entity_id, NULL, payload, "
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM deliveries "
        "WHERE connector_id = ?1 AND dead = 1 AND sequence = ?2";
    static const char delete_one_sql[] =
        "DELETE FROM deliveries WHERE connector_id = ?1 AND dead = 1 AND sequence = ?2";
    int64_t deleted = 0;
    int rc;

    *revived = 0;
    *missing_count = 0;
    if (count == 0) {
        rc = run_for_connector(base, copy_all_sql, connector_id, 0, revived,
                               "cannot re-queue dead letters");
        return rc != 0 ? rc
                       : run_for_connector(base, delete_all_sql, connector_id, 0, &deleted,
                                           "cannot re-queue dead letters");
    }
    for (size_t i = 0; i < count; i++) {
        int64_t before = *revived;

        rc = run_for_connector(base, copy_one_sql, connector_id, sequences[i], revived,
                               "cannot re-queue a dead letter");
        if (rc == 0 && *revived == before)
            missing[(*missing_count)++] = sequences[i];
        if (rc == 0)
            rc = run_for_connector(base, delete_one_sql, connector_id, sequences[i], &deleted,
                                   "cannot re-queue a dead letter");
        if (rc != 0)
            return rc;
    }
    return 0;
}

int store_sqlite_delivery_forget_connector(store *base, const char *connector_id)
{
    return run_for_connector(base, "DELETE FROM deliveries WHERE connector_id = ?1 AND ?2 = ?2",
                             connector_id, 0, NULL, "cannot delete a connector's queue");
}

int store_sqlite_delivery_each(store *base, const char *connector_id, int dead, int64_t after,
                               unsigned limit, store_delivery_fn fn, void *user_data)
{
    sqlite3 *db = store_sqlite_handle(base);
    sqlite3_stmt *statement = NULL;
    int rc;

    rc = sqlite3_prepare_v2(
        db,
        "SELECT sequence, connector_id, kind, entity_id, batch_id, payload, created_ms, "
        "attempt, next_attempt_ms, dead, reason FROM deliveries "
        "WHERE (?1 IS NULL OR connector_id = ?1) AND dead = ?2 AND sequence > ?3 "
        "ORDER BY sequence LIMIT ?4",
        -1, &statement, NULL);
    if (rc != SQLITE_OK)
        return fail(base, "cannot read the delivery queue");
    bind_text_or_null(statement, 1, connector_id);
    sqlite3_bind_int(statement, 2, dead ? 1 : 0);
    sqlite3_bind_int64(statement, 3, after);
    sqlite3_bind_int64(statement, 4, limit > 0 ? (int64_t)limit : -1);
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        store_delivery_row row = {
            .sequence = sqlite3_column_int64(statement, 0),
            .connector_id = (const char *)sqlite3_column_text(statement, 1),
            .kind = sqlite3_column_int(statement, 2) == 1 ? STORE_ACCOUNTS : STORE_USERS,
            .entity_id = (const char *)sqlite3_column_text(statement, 3),
            .batch_id = (const char *)sqlite3_column_text(statement, 4),
            .payload = (const char *)sqlite3_column_text(statement, 5),
            .created_ms = sqlite3_column_int64(statement, 6),
            .attempt = (unsigned)sqlite3_column_int64(statement, 7),
            .next_attempt_ms = sqlite3_column_int64(statement, 8),
            .dead = sqlite3_column_int(statement, 9),
            .reason = (const char *)sqlite3_column_text(statement, 10),
        };
        if (fn(&row, user_data) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE)
        return fail(base, "cannot read the delivery queue");
    return 0;
}

int store_sqlite_delivery_count(store *base, const char *connector_id, int dead, int64_t *count)
{
    sqlite3 *db = store_sqlite_handle(base);
    sqlite3_stmt *statement = NULL;
    int rc;

    *count = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT COUNT(*) FROM deliveries WHERE connector_id = ?1 AND dead = ?2",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(base, "cannot count the delivery queue");
    sqlite3_bind_text(statement, 1, connector_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(statement, 2, dead ? 1 : 0);
    rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return rc == SQLITE_ROW ? 0 : fail(base, "cannot count the delivery queue");
}

int store_sqlite_batch_members_save(store *base, const char *batch_id, const void *blob,
                                   size_t size)
{
    sqlite3 *db = store_sqlite_handle(base);
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO batch_members (batch_id, members) VALUES (?1, ?2)",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(base, "cannot store a batch's members");
    sqlite3_bind_text(statement, 1, batch_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(statement, 2, blob, size, SQLITE_STATIC);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    return rc == SQLITE_DONE ? 0 : fail(base, "cannot store a batch's members");
}

int store_sqlite_batch_members_load(store *base, const char *batch_id,
                                   void (*fn)(const void *blob, size_t size, void *user_data),
                                   void *user_data)
{
    sqlite3 *db = store_sqlite_handle(base);
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT members FROM batch_members WHERE batch_id = ?1", -1,
                           &statement, NULL) != SQLITE_OK)
        return fail(base, "cannot read a batch's members");
    sqlite3_bind_text(statement, 1, batch_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW)
        fn(sqlite3_column_blob(statement, 0), (size_t)sqlite3_column_bytes(statement, 0),
           user_data);
    sqlite3_finalize(statement);
    if (rc == SQLITE_DONE) {
        snprintf(base->error, sizeof(base->error), "no member list stored for batch %s",
                 batch_id);
        return -ENOENT;
    }
    return rc == SQLITE_ROW ? 0 : fail(base, "cannot read a batch's members");
}

int store_sqlite_batch_members_delete(store *base, const char *batch_id)
{
    return run_for_connector(base, "DELETE FROM batch_members WHERE batch_id = ?1 AND ?2 = ?2",
                             batch_id, 0, NULL, "cannot delete a batch's members");
}

int store_sqlite_defer_begin(store *base)
{
    sqlite3 *db = store_sqlite_handle(base);

    if (!sqlite3_get_autocommit(db))
        return 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(base, "cannot begin a transaction");
    return 0;
}

int store_sqlite_defer_commit(store *base)
{
    sqlite3 *db = store_sqlite_handle(base);

    if (sqlite3_get_autocommit(db))
        return 0;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = fail(base, "cannot commit");
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}
