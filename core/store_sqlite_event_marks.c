/*
 * The SQLite store's event marks (table event_marks of wharf.db, schema
 * version 5): for a connector and a user, the sequence of the first event
 * that no message to that connector has carried yet. They are written in
 * the transaction of the change that skipped the events, so a restart
 * keeps them with the events.
 */
#include <errno.h>
#include <stdio.h>

#include "store_sqlite_internal.h"

static int fail(store *base, const char *failure)
{
    snprintf(base->error, sizeof(base->error), "%s: %s", failure,
             sqlite3_errmsg(store_sqlite_handle(base)));
    return -EIO;
}

/* Run sql with the connector id, user id (may be NULL) and a number bound
 * to ?1, ?2 and ?3. */
static int run(store *base, const char *sql, const char *connector_id, const char *user_id,
               int64_t number, const char *failure)
{
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(store_sqlite_handle(base), sql, -1, &statement, NULL) != SQLITE_OK)
        return fail(base, failure);
    sqlite3_bind_text(statement, 1, connector_id, -1, SQLITE_STATIC);
    if (user_id != NULL)
        sqlite3_bind_text(statement, 2, user_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, 2);
    sqlite3_bind_int64(statement, 3, number);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    return rc == SQLITE_DONE ? 0 : fail(base, failure);
}

int store_sqlite_event_mark_set(store *base, const char *connector_id, const char *user_id,
                                int64_t first_sequence)
{
    /* An older mark stays: the events from it on are still unsent. */
    return run(base,
               "INSERT OR IGNORE INTO event_marks (connector_id, user_id, first_sequence) "
               "VALUES (?1, ?2, ?3)",
               connector_id, user_id, first_sequence, "cannot remember unsent events");
}

int store_sqlite_event_mark_delete(store *base, const char *connector_id, const char *user_id)
{
    return run(base,
               "DELETE FROM event_marks WHERE connector_id = ?1 AND "
               "(?2 IS NULL OR user_id = ?2) AND ?3 = ?3",
               connector_id, user_id, 0, "cannot forget unsent events");
}

int store_sqlite_event_marks_each(store *base, store_event_mark_fn fn, void *user_data)
{
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(store_sqlite_handle(base),
                           "SELECT connector_id, user_id, first_sequence FROM event_marks", -1,
                           &statement, NULL) != SQLITE_OK)
        return fail(base, "cannot read unsent events");
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(statement, 0),
               (const char *)sqlite3_column_text(statement, 1), sqlite3_column_int64(statement, 2),
               user_data) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(statement);
    return rc == SQLITE_DONE ? 0 : fail(base, "cannot read unsent events");
}
