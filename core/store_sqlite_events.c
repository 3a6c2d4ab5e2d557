/* The SQLite store's reads of a user's events by arrival order, for the
 * events an automatic message carries. */
#include <errno.h>
#include <stdio.h>

#include "store_sqlite_internal.h"

int store_sqlite_events_of_user_after(store *base, const char *user_id, int64_t after,
                                      unsigned limit, int newest_first, store_event_fn fn,
                                      void *user_data)
{
    sqlite3 *db = store_sqlite_handle(base);
    sqlite3_stmt *statement = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db,
                            newest_first
                                ? "SELECT sequence, user_id, event, properties, timestamp_ms, "
                                  "message_id FROM events WHERE user_id = ?1 AND sequence > ?2 "
                                  "ORDER BY sequence DESC LIMIT ?3"
                                : "SELECT sequence, user_id, event, properties, timestamp_ms, "
                                  "message_id FROM events WHERE user_id = ?1 AND sequence > ?2 "
                                  "ORDER BY sequence LIMIT ?3",
                            -1, &statement, NULL);
    if (rc != SQLITE_OK) {
        snprintf(base->error, sizeof(base->error), "cannot read events: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    sqlite3_bind_text(statement, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, after);
    sqlite3_bind_int64(statement, 3, limit);
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        store_event_row row = {
            .sequence = sqlite3_column_int64(statement, 0),
            .user_id = (const char *)sqlite3_column_text(statement, 1),
            .event = (const char *)sqlite3_column_text(statement, 2),
            .properties_json = (const char *)sqlite3_column_text(statement, 3),
            .timestamp_ms = sqlite3_column_int64(statement, 4),
            .message_id = (const char *)sqlite3_column_text(statement, 5),
        };
        if (fn(&row, user_data) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) {
        snprintf(base->error, sizeof(base->error), "cannot read events: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    return 0;
}
