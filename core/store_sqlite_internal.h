/* Parts of the SQLite store implemented outside store_sqlite.c. */
#ifndef WHARF_CORE_STORE_SQLITE_INTERNAL_H
#define WHARF_CORE_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The store's connection (loop thread only). */
sqlite3 *store_sqlite_handle(store *base);

/* store_sqlite_delivery.c: the delivery queue (see store_ops). */
int store_sqlite_delivery_insert(store *base, store_delivery_row *row);
int store_sqlite_delivery_update(store *base, int64_t sequence, unsigned attempt,
                                 int64_t next_attempt_ms, const char *payload);
int store_sqlite_delivery_bury(store *base, int64_t sequence, unsigned attempt,
                               const char *reason);
int store_sqlite_delivery_delete(store *base, int64_t sequence);
int store_sqlite_delivery_revive(store *base, const char *connector_id, const int64_t *sequences,
                                 size_t count, int64_t *revived, int64_t *missing,
                                 size_t *missing_count);
int store_sqlite_delivery_forget_connector(store *base, const char *connector_id);
int store_sqlite_delivery_each(store *base, const char *connector_id, int dead, int64_t after,
                               unsigned limit, store_delivery_fn fn, void *user_data);
int store_sqlite_delivery_count(store *base, const char *connector_id, int dead,
                                int64_t *count);
int store_sqlite_batch_members_save(store *base, const char *batch_id, const void *blob,
                                   size_t size);
int store_sqlite_batch_members_load(store *base, const char *batch_id,
                                   void (*fn)(const void *blob, size_t size, void *user_data),
                                   void *user_data);
int store_sqlite_batch_members_delete(store *base, const char *batch_id);
int store_sqlite_defer_begin(store *base);
/* store_sqlite_events.c */
int store_sqlite_events_of_user_after(store *base, const char *user_id, int64_t after,
                                      unsigned limit, int newest_first, store_event_fn fn,
                                      void *user_data);
int store_sqlite_defer_commit(store *base);
/* store_sqlite_event_marks.c */
int store_sqlite_event_mark_set(store *base, const char *connector_id, const char *user_id,
                                int64_t first_sequence);
int store_sqlite_event_mark_delete(store *base, const char *connector_id, const char *user_id);
int store_sqlite_event_marks_each(store *base, store_event_mark_fn fn, void *user_data);
/* Finalize the statements prepared for this store's connection. */
void store_sqlite_delivery_close(store *base);

#endif
