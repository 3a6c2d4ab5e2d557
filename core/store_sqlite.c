/* The embedded store: SQLite in WAL mode under the data directory. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store_sqlite_internal.h"

/* Bump with each migration below; stored in PRAGMA user_version. */
#define SCHEMA_VERSION 5

/* Statements used on hot paths, prepared once. */
typedef enum cached_statement {
    SQL_USER_SAVE,
    SQL_ACCOUNT_SAVE,
    SQL_EVENT_INSERT,
    SQL_MEMBERSHIP_ADD,
    SQL_MEMBERSHIP_REMOVE,
    SQL_CACHED_COUNT
} cached_statement;

static const char *const cached_sql[SQL_CACHED_COUNT] = {
    [SQL_USER_SAVE] =
        "INSERT INTO users (id, external_id, email, account_id, anonymous_ids, attributes, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(id) DO UPDATE SET external_id = excluded.external_id, "
        "email = excluded.email, account_id = excluded.account_id, "
        "anonymous_ids = excluded.anonymous_ids, attributes = excluded.attributes, "
        "updated_at = excluded.updated_at",
    [SQL_ACCOUNT_SAVE] =
        "INSERT INTO accounts (id, external_id, domain, anonymous_ids, attributes, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(id) DO UPDATE SET external_id = excluded.external_id, "
        "domain = excluded.domain, anonymous_ids = excluded.anonymous_ids, "
        "attributes = excluded.attributes, updated_at = excluded.updated_at",
    [SQL_EVENT_INSERT] =
        ("INSERT INTO events (user_id, event, properties, timestamp_ms, message_id) "
         "VALUES (?1, ?2, ?3, ?4, ?5)"),
    [SQL_MEMBERSHIP_ADD] =
        "INSERT OR IGNORE INTO memberships (segment_id, entity_id) VALUES (?1, ?2)",
    [SQL_MEMBERSHIP_REMOVE] =
        "DELETE FROM memberships WHERE segment_id = ?1 AND entity_id = ?2",
};

/* WAL size, in pages, that starts a checkpoint: SQLite's own default for
 * automatic checkpoints (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT). */
#define CHECKPOINT_PAGES 1000

/* Checkpoints run on a thread of their own, with their own connection. A
 * checkpoint copies the WAL into the database file and syncs both, which
 * SQLite otherwise does at the end of the commit that grew the WAL past
 * CHECKPOINT_PAGES, on the loop thread. A PASSIVE checkpoint waits for no
 * reader or writer, and commits go on appending to the WAL while it runs,
 * so the loop thread does not wait for its copies and syncs. */
typedef struct checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    sqlite3 *db;
    bool started;
    bool pending;  /* a commit grew the WAL past CHECKPOINT_PAGES */
    bool stopping;
    bool reported; /* a failure was logged; later ones are not */
} checkpointer;

typedef struct sqlite_store {
    store base;
    sqlite3 *db;
    sqlite3_stmt *cached[SQL_CACHED_COUNT];
    int lock_fd; /* holds an exclusive flock on data_dir/wharf.lock */
    checkpointer checkpoints;
} sqlite_store;

static const char *const migrations[SCHEMA_VERSION] = {
    /* 1: connectors as JSON documents. */
    "CREATE TABLE connectors ("
    "  id TEXT PRIMARY KEY,"
    "  document TEXT NOT NULL,"
    "  created_seq INTEGER NOT NULL"
    ");",
    /* 2: customer data. Claims are columns; attributes and anonymous ids
     * are JSON text. */
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  external_id TEXT UNIQUE,"
    "  email TEXT,"
    "  account_id TEXT,"
    "  anonymous_ids TEXT NOT NULL DEFAULT '[]',"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL"
    ");"
    "CREATE INDEX users_email ON users (email);"
    "CREATE TABLE accounts ("
    "  id TEXT PRIMARY KEY,"
    "  external_id TEXT UNIQUE,"
    "  domain TEXT,"
    "  anonymous_ids TEXT NOT NULL DEFAULT '[]',"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL"
    ");"
    "CREATE INDEX accounts_domain ON accounts (domain);"
    "CREATE TABLE events ("
    "  sequence INTEGER PRIMARY KEY,"
    "  user_id TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  properties TEXT NOT NULL DEFAULT '{}',"
    "  timestamp_ms INTEGER NOT NULL,"
    "  message_id TEXT"
    ");"
    "CREATE INDEX events_user ON events (user_id, timestamp_ms, sequence);"
    "CREATE TABLE merges ("
    "  sequence INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  from_id TEXT NOT NULL,"
    "  into_id TEXT NOT NULL,"
    "  merged_at TEXT NOT NULL"
    ");"
    "CREATE TABLE segments ("
    "  id TEXT PRIMARY KEY,"
    "  document TEXT NOT NULL,"
    "  created_seq INTEGER NOT NULL"
    ");"
    "CREATE TABLE memberships ("
    "  segment_id TEXT NOT NULL,"
    "  entity_id TEXT NOT NULL,"
    "  PRIMARY KEY (segment_id, entity_id)"
    ") WITHOUT ROWID;",
    /* 3: no indexes on claims. wharfd resolves identities in its memory and
     * never looks a claim up here. An index on a random key (an email, a
     * domain, a client's user id) costs a page written per insert once it
     * outgrows the page cache. With one such index, inserts of new users
     * took about six times as long at a million users (bench_ingest_sqlite
     * in docs/benchmarks.md). Dropping the UNIQUE constraint on external_id
     * needs a new table, which keeps the rowids, so entities load in the
     * same order. */
    "DROP INDEX users_email;"
    "DROP INDEX accounts_domain;"
    "CREATE TABLE users_v3 ("
    "  id TEXT PRIMARY KEY,"
    "  external_id TEXT,"
    "  email TEXT,"
    "  account_id TEXT,"
    "  anonymous_ids TEXT NOT NULL DEFAULT '[]',"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL"
    ");"
    "INSERT INTO users_v3 (rowid, id, external_id, email, account_id, anonymous_ids, "
    "  attributes, created_at, updated_at) "
    "SELECT rowid, id, external_id, email, account_id, anonymous_ids, attributes, "
    "  created_at, updated_at FROM users;"
    "DROP TABLE users;"
    "ALTER TABLE users_v3 RENAME TO users;"
    "CREATE TABLE accounts_v3 ("
    "  id TEXT PRIMARY KEY,"
    "  external_id TEXT,"
    "  domain TEXT,"
    "  anonymous_ids TEXT NOT NULL DEFAULT '[]',"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL"
    ");"
    "INSERT INTO accounts_v3 (rowid, id, external_id, domain, anonymous_ids, attributes, "
    "  created_at, updated_at) "
    "SELECT rowid, id, external_id, domain, anonymous_ids, attributes, created_at, "
    "  updated_at FROM accounts;"
    "DROP TABLE accounts;"
    "ALTER TABLE accounts_v3 RENAME TO accounts;",
    /* 4: the durable delivery queue and dead letters. Rows are written in
     * the transaction of the change that made them, so a stored change
     * always has its messages stored too. */
    "CREATE TABLE deliveries ("
    "  sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  connector_id TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  entity_id TEXT NOT NULL,"
    "  batch_id TEXT,"
    "  payload TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
    "  dead INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT"
    ");"
    "CREATE INDEX deliveries_queue ON deliveries (connector_id, dead, sequence);"
    "CREATE TABLE batch_members ("
    "  batch_id TEXT PRIMARY KEY,"
    "  members BLOB NOT NULL"
    ");",
    /* 5: events that automatic messages to a connector have not carried
     * yet, kept across a restart (sync_event_marks.c). */
    "CREATE TABLE event_marks ("
    "  connector_id TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  first_sequence INTEGER NOT NULL,"
    "  PRIMARY KEY (connector_id, user_id)"
    ") WITHOUT ROWID;",
};

static int fail(sqlite_store *s, const char *what)
{
    snprintf(s->base.error, sizeof(s->base.error), "%s: %s", what, sqlite3_errmsg(s->db));
    return -EIO;
}

static int connector_save(store *base, const char *id, const char *document)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "INSERT INTO connectors (id, document, created_seq) "
                            "VALUES (?1, ?2, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM connectors)) "
                            "ON CONFLICT(id) DO UPDATE SET document = excluded.document",
                            -1, &statement, NULL);
    if (rc != SQLITE_OK)
        return fail(s, "cannot save connector");
    sqlite3_bind_text(statement, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, document, -1, SQLITE_STATIC);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot save connector");
    return 0;
}

static int connector_delete(store *base, const char *id)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db, "DELETE FROM connectors WHERE id = ?1", -1,
                            &statement, NULL);
    if (rc != SQLITE_OK)
        return fail(s, "cannot delete connector");
    sqlite3_bind_text(statement, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot delete connector");
    return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static int connector_each(store *base, store_record_fn fn, void *user_data)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "SELECT id, document FROM connectors ORDER BY created_seq",
                            -1, &statement, NULL);
    if (rc != SQLITE_OK)
        return fail(s, "cannot list connectors");
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(statement, 0);
        const char *document = (const char *)sqlite3_column_text(statement, 1);
        if (fn(id, document, user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, "cannot list connectors");
    return 0;
}

static sqlite3_stmt *cached(sqlite_store *s, cached_statement which)
{
    if (s->cached[which] == NULL &&
        sqlite3_prepare_v3(s->db, cached_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->cached[which], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(s->cached[which]);
    sqlite3_clear_bindings(s->cached[which]);
    return s->cached[which];
}

/* Step a cached statement that returns no rows. */
static int run_cached(sqlite_store *s, sqlite3_stmt *statement, const char *what)
{
    int rc = sqlite3_step(statement);

    sqlite3_reset(statement);
    if (rc != SQLITE_DONE)
        return fail(s, what);
    return 0;
}

static int exec_plain(sqlite_store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, what);
    return 0;
}

static int sqlite_begin(store *base)
{
    sqlite_store *s = (sqlite_store *)base;

    /* Only a deferred transaction can be open here: commit it first. */
    if (!sqlite3_get_autocommit(s->db) && exec_plain(s, "COMMIT", "cannot commit") != 0)
        return -EIO;
    return exec_plain(s, "BEGIN IMMEDIATE", "cannot begin a transaction");
}

sqlite3 *store_sqlite_handle(store *base)
{
    return ((sqlite_store *)base)->db;
}

static int sqlite_commit(store *base)
{
    return exec_plain((sqlite_store *)base, "COMMIT", "cannot commit");
}

static void sqlite_rollback(store *base)
{
    sqlite3_exec(((sqlite_store *)base)->db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_text_or_null(sqlite3_stmt *statement, int column, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(statement, column, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, column);
}

static int entity_save(store *base, store_entity_kind kind, const store_entity_row *row)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = cached(s, kind == STORE_USERS ? SQL_USER_SAVE : SQL_ACCOUNT_SAVE);

    if (statement == NULL)
        return fail(s, "cannot save entity");
    bind_text_or_null(statement, 1, row->id);
    bind_text_or_null(statement, 2, row->external_id);
    bind_text_or_null(statement, 3, row->key_claim);
    if (kind == STORE_USERS)
        bind_text_or_null(statement, 4, row->account_id);
    bind_text_or_null(statement, 5, row->anonymous_ids_json != NULL ? row->anonymous_ids_json : "[]");
    bind_text_or_null(statement, 6, row->attributes_json != NULL ? row->attributes_json : "{}");
    bind_text_or_null(statement, 7, row->created_at);
    bind_text_or_null(statement, 8, row->updated_at);
    return run_cached(s, statement, kind == STORE_USERS ? "cannot save user" : "cannot save account");
}

static int run_with_text(sqlite_store *s, const char *sql, const char *a, const char *b,
                         const char *c, const char *d, const char *what)
{
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &statement, NULL) != SQLITE_OK)
        return fail(s, what);
    bind_text_or_null(statement, 1, a);
    if (b != NULL)
        bind_text_or_null(statement, 2, b);
    if (c != NULL)
        bind_text_or_null(statement, 3, c);
    if (d != NULL)
        bind_text_or_null(statement, 4, d);
    rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE)
        return fail(s, what);
    return 0;
}

static int entity_delete(store *base, store_entity_kind kind, const char *id)
{
    return run_with_text((sqlite_store *)base,
                         kind == STORE_USERS ? "DELETE FROM users WHERE id = ?1"
                                             : "DELETE FROM accounts WHERE id = ?1",
                         id, NULL, NULL, NULL, "cannot delete entity");
}

static int merge_record(store *base, store_entity_kind kind, const char *from_id,
                        const char *into_id, const char *at)
{
    return run_with_text((sqlite_store *)base,
                         "INSERT INTO merges (kind, from_id, into_id, merged_at) "
                         "VALUES (?1, ?2, ?3, ?4)",
                         kind == STORE_USERS ? "user" : "account", from_id, into_id, at,
                         "cannot record merge");
}

static int entity_each(store *base, store_entity_kind kind, store_entity_fn fn, void *user_data)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;
    const char *sql = kind == STORE_USERS
                          ? "SELECT id, external_id, email, account_id, anonymous_ids, "
                            "attributes, created_at, updated_at FROM users ORDER BY rowid"
                          : "SELECT id, external_id, domain, NULL, anonymous_ids, "
                            "attributes, created_at, updated_at FROM accounts ORDER BY rowid";
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot list entities");
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        store_entity_row row = {
            .id = (const char *)sqlite3_column_text(statement, 0),
            .external_id = (const char *)sqlite3_column_text(statement, 1),
            .key_claim = (const char *)sqlite3_column_text(statement, 2),
            .account_id = (const char *)sqlite3_column_text(statement, 3),
            .anonymous_ids_json = (const char *)sqlite3_column_text(statement, 4),
            .attributes_json = (const char *)sqlite3_column_text(statement, 5),
            .created_at = (const char *)sqlite3_column_text(statement, 6),
            .updated_at = (const char *)sqlite3_column_text(statement, 7),
        };
        if (fn(&row, user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, "cannot list entities");
    return 0;
}

static int event_insert(store *base, const store_event_row *row)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = cached(s, SQL_EVENT_INSERT);

    if (statement == NULL)
        return fail(s, "cannot store event");
    bind_text_or_null(statement, 1, row->user_id);
    bind_text_or_null(statement, 2, row->event);
    bind_text_or_null(statement, 3, row->properties_json != NULL ? row->properties_json : "{}");
    sqlite3_bind_int64(statement, 4, row->timestamp_ms);
    bind_text_or_null(statement, 5, row->message_id);
    return run_cached(s, statement, "cannot store event");
}

static int events_move(store *base, const char *from_user, const char *into_user)
{
    return run_with_text((sqlite_store *)base, "UPDATE events SET user_id = ?2 WHERE user_id = ?1",
                         from_user, into_user, NULL, NULL, "cannot move events");
}

static int each_event(sqlite_store *s, sqlite3_stmt *statement, store_event_fn fn,
                      void *user_data)
{
    int rc;

    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        store_event_row row = {
            .sequence = sqlite3_column_int64(statement, 0),
            .user_id = (const char *)sqlite3_column_text(statement, 1),
            .event = (const char *)sqlite3_column_text(statement, 2),
            .properties_json = (const char *)sqlite3_column_text(statement, 3),
            .timestamp_ms = sqlite3_column_int64(statement, 4),
            .message_id = (const char *)sqlite3_column_text(statement, 5),
        };
        if (fn(&row, user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, "cannot list events");
    return 0;
}

static int events_of_user(store *base, const char *user_id, unsigned limit, store_event_fn fn,
                          void *user_data)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT sequence, user_id, event, properties, timestamp_ms, message_id "
                           "FROM events WHERE user_id = ?1 ORDER BY timestamp_ms DESC, sequence DESC LIMIT ?2",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot list events");
    sqlite3_bind_text(statement, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, limit);
    return each_event(s, statement, fn, user_data);
}

static int events_each(store *base, store_event_fn fn, void *user_data)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT sequence, user_id, event, NULL, timestamp_ms, NULL "
                           "FROM events ORDER BY sequence",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot list events");
    return each_event(s, statement, fn, user_data);
}

static int segment_save(store *base, const char *id, const char *document)
{
    return run_with_text((sqlite_store *)base,
                         "INSERT INTO segments (id, document, created_seq) VALUES (?1, ?2, "
                         "(SELECT COALESCE(MAX(created_seq), 0) + 1 FROM segments)) "
                         "ON CONFLICT(id) DO UPDATE SET document = excluded.document",
                         id, document, NULL, NULL, "cannot save segment");
}

static int segment_delete(store *base, const char *id)
{
    return run_with_text((sqlite_store *)base, "DELETE FROM segments WHERE id = ?1", id, NULL,
                         NULL, NULL, "cannot delete segment");
}

static int segment_each(store *base, store_record_fn fn, void *user_data)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT id, document FROM segments ORDER BY created_seq", -1,
                           &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot list segments");
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(statement, 0),
               (const char *)sqlite3_column_text(statement, 1), user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, "cannot list segments");
    return 0;
}

static int membership_set(store *base, const char *segment_id, const char *entity_id, int member)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = cached(s, member ? SQL_MEMBERSHIP_ADD : SQL_MEMBERSHIP_REMOVE);

    if (statement == NULL)
        return fail(s, "cannot update membership");
    sqlite3_bind_text(statement, 1, segment_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, entity_id, -1, SQLITE_STATIC);
    return run_cached(s, statement, "cannot update membership");
}

static int membership_clear(store *base, const char *segment_id)
{
    return run_with_text((sqlite_store *)base, "DELETE FROM memberships WHERE segment_id = ?1",
                         segment_id, NULL, NULL, NULL, "cannot clear memberships");
}

static int membership_each(store *base, store_membership_fn fn, void *user_data)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT segment_id, entity_id FROM memberships", -1,
                           &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot list memberships");
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(statement, 0),
               (const char *)sqlite3_column_text(statement, 1), user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, "cannot list memberships");
    return 0;
}

static void *run_checkpoints(void *argument)
{
    checkpointer *c = argument;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        int rc;

        while (!c->pending && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        c->pending = false;
        pthread_mutex_unlock(&c->lock);

        /* SQLITE_BUSY only means that another checkpoint ran meanwhile. */
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->lock);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && !c->reported) {
            log_warn("store checkpoint failed: %s; the WAL file grows until one succeeds",
                     sqlite3_errmsg(c->db));
            c->reported = true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* sqlite3_wal_hook(): runs on the loop thread after each commit. */
static int on_wal_commit(void *argument, sqlite3 *db, const char *database, int pages)
{
    checkpointer *c = argument;

    (void)db;
    (void)database;
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&c->lock);
        c->pending = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

/* Open the checkpoint connection and thread. On failure SQLite's automatic
 * checkpoints on the loop thread stay in place, and a warning is logged. */
static void start_checkpoints(sqlite_store *s, const char *path)
{
    checkpointer *c = &s->checkpoints;

    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        log_warn("cannot open a checkpoint connection to %s: %s; checkpoints run on the loop "
                 "thread",
                 path, c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        c->db = NULL;
        return;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, run_checkpoints, c) != 0) {
        log_warn("cannot start the checkpoint thread for %s; checkpoints run on the loop "
                 "thread",
                 path);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        sqlite3_close(c->db);
        c->db = NULL;
        return;
    }
    c->started = true;
    /* Replaces SQLite's automatic checkpoints on this connection. */
    sqlite3_wal_hook(s->db, on_wal_commit, c);
}

static void stop_checkpoints(sqlite_store *s)
{
    checkpointer *c = &s->checkpoints;

    if (!c->started)
        return;
    sqlite3_wal_hook(s->db, NULL, NULL);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    sqlite3_close(c->db);
    c->db = NULL;
    c->started = false;
}

static void sqlite_close(store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_int64 memory_used = 0;
    sqlite3_int64 memory_peak = 0;
    int cache_used = 0;
    int unused = 0;

    /* The page cache is part of wharfd's resident memory; this line lets
     * an operator (and bench_ingest) tell it from wharfd's own. */
    sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &memory_used, &memory_peak, 0);
    sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_USED, &cache_used, &unused, 0);
    log_info("SQLite memory at close: %lld bytes in use, page cache %d bytes (peak in use "
             "%lld bytes)",
             (long long)memory_used, cache_used, (long long)memory_peak);

    stop_checkpoints(s);
    store_sqlite_delivery_close(base);
    for (int i = 0; i < SQL_CACHED_COUNT; i++)
        sqlite3_finalize(s->cached[i]);
    /* The last connection to close checkpoints the whole WAL. */
    sqlite3_close(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
}

static const store_ops sqlite_ops = {
    .backend = "sqlite",
    .connector_save = connector_save,
    .connector_delete = connector_delete,
    .connector_each = connector_each,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .entity_save = entity_save,
    .entity_delete = entity_delete,
    .entity_each = entity_each,
    .merge_record = merge_record,
    .event_insert = event_insert,
    .events_move = events_move,
    .events_of_user = events_of_user,
    .events_of_user_after = store_sqlite_events_of_user_after,
    .events_each = events_each,
    .segment_save = segment_save,
    .segment_delete = segment_delete,
    .segment_each = segment_each,
    .membership_set = membership_set,
    .membership_clear = membership_clear,
    .membership_each = membership_each,
    .delivery_insert = store_sqlite_delivery_insert,
    .delivery_update = store_sqlite_delivery_update,
    .delivery_bury = store_sqlite_delivery_bury,
    .delivery_delete = store_sqlite_delivery_delete,
    .delivery_revive = store_sqlite_delivery_revive,
    .delivery_forget_connector = store_sqlite_delivery_forget_connector,
    .delivery_each = store_sqlite_delivery_each,
    .delivery_count = store_sqlite_delivery_count,
    .batch_members_save = store_sqlite_batch_members_save,
    .batch_members_load = store_sqlite_batch_members_load,
    .batch_members_delete = store_sqlite_batch_members_delete,
    .event_mark_set = store_sqlite_event_mark_set,
    .event_mark_delete = store_sqlite_event_mark_delete,
    .event_marks_each = store_sqlite_event_marks_each,
    .defer_begin = store_sqlite_defer_begin,
    .defer_commit = store_sqlite_defer_commit,
    .close = sqlite_close,
};

static int migrate(sqlite_store *s)
{
    sqlite3_stmt *statement = NULL;
    int version = 0;
    char *message = NULL;

    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &statement, NULL) != SQLITE_OK)
        return fail(s, "cannot read schema version");
    if (sqlite3_step(statement) == SQLITE_ROW)
        version = sqlite3_column_int(statement, 0);
    sqlite3_finalize(statement);

    if (version > SCHEMA_VERSION) {
        snprintf(s->base.error, sizeof(s->base.error),
                 "database schema version %d is newer than this wharfd's %d; run "
                 "the newer wharfd or restore a backup",
                 version, SCHEMA_VERSION);
        return -EPROTO;
    }

    for (; version < SCHEMA_VERSION; version++) {
        char pragma[64];

        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(s->db, migrations[version], NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(s->db, pragma, NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(s->db, "COMMIT", NULL, NULL, &message) != SQLITE_OK) {
            snprintf(s->base.error, sizeof(s->base.error), "migration to schema %d failed: %s",
                     version + 1, message != NULL ? message : sqlite3_errmsg(s->db));
            sqlite3_free(message);
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
        log_info("store migrated to schema version %d", version + 1);
    }
    return 0;
}

int store_open_sqlite(const char *data_dir, store **out, char *error, size_t error_size)
{
    sqlite_store *s;
    char path[4096];
    char *message = NULL;
    mode_t old_mask;
    int rc;

    *out = NULL;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(error, error_size, "cannot create data directory %s: %s", data_dir,
                 strerror(errno));
        return -errno;
    }
    snprintf(path, sizeof(path), "%s/wharf.db", data_dir);

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(error, error_size, "out of memory opening %s", path);
        return -ENOMEM;
    }
    s->base.ops = &sqlite_ops;

    /* Two wharfd on one store would each keep their own view in memory and
     * overwrite each other, so the second one stops here. */
    snprintf(path, sizeof(path), "%s/wharf.lock", data_dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf(error, error_size,
                     "data directory %s is in use by another wharfd (it holds %s); stop "
                     "that one or give this one another --data-dir",
                     data_dir, path);
        else
            snprintf(error, error_size, "cannot lock %s: %s", path, strerror(errno));
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        free(s);
        return -EBUSY;
    }
    snprintf(path, sizeof(path), "%s/wharf.db", data_dir);

    /* The database, its WAL and shm files are created under this mask. */
    old_mask = umask(077);
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db,
                          "PRAGMA journal_mode = WAL;"
                          "PRAGMA synchronous = NORMAL;"
                          "PRAGMA foreign_keys = ON;"
                          /* 64 MiB of page cache and reads through mmap keep
                           * ingest's index look-ups off pread(2). */
                          "PRAGMA cache_size = -65536;"
                          "PRAGMA mmap_size = 268435456;",
                          NULL, NULL, &message);
    umask(old_mask);
    if (rc != SQLITE_OK) {
        snprintf(error, error_size, "cannot open store %s: %s", path,
                 message != NULL ? message : (s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory"));
        sqlite3_free(message);
        sqlite3_close(s->db);
        free(s);
        return -EIO;
    }
    chmod(path, 0600);
    sqlite3_busy_timeout(s->db, 5000);

    rc = migrate(s);
    if (rc != 0) {
        snprintf(error, error_size, "cannot open store %s: %s", path, s->base.error);
        sqlite_close(&s->base);
        return rc;
    }
    start_checkpoints(s, path);

    *out = &s->base;
    return 0;
}
