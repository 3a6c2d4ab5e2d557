/* The embedded store: SQLite in WAL mode under the data directory. */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Bump with each migration below; stored in PRAGMA user_version. */
#define SCHEMA_VERSION 1

typedef struct sqlite_store {
    store base;
    sqlite3 *db;
} sqlite_store;

static const char *const migrations[SCHEMA_VERSION] = {
    /* 1: connectors as JSON documents. */
    "CREATE TABLE connectors ("
    "  id TEXT PRIMARY KEY,"
    "  document TEXT NOT NULL,"
    "  created_seq INTEGER NOT NULL"
    ");",
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

static void sqlite_close(store *base)
{
    sqlite_store *s = (sqlite_store *)base;

    sqlite3_close(s->db);
    free(s);
}

static const store_ops sqlite_ops = {
    .backend = "sqlite",
    .connector_save = connector_save,
    .connector_delete = connector_delete,
    .connector_each = connector_each,
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

    /* The database, its WAL and shm files are created under this mask. */
    old_mask = umask(077);
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db,
                          "PRAGMA journal_mode = WAL;"
                          "PRAGMA synchronous = NORMAL;"
                          "PRAGMA foreign_keys = ON;",
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

    *out = &s->base;
    return 0;
}
