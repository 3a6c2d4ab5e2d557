/*
 * bench_ingest_sqlite measures what the users table costs ingest in SQLite
 * alone: it inserts rows shaped like wharfd's (a 700-byte attributes
 * text, claims, timestamps) in transactions of --batch rows, with the
 * pragmas and the insert statement of core/store_sqlite.c, under four
 * schemas:
 *
 *   schema 2:             id TEXT PRIMARY KEY with random (version 4) ids,
 *                         external_id UNIQUE and an index on email
 *   schema 3, random ids: no index on claims, version 4 ids
 *   schema 3:             no index on claims, time-ordered (version 7)
 *                         ids, as wharfd writes them now
 *   schema 3 + email:     time-ordered ids and an index on email
 *
 * It prints rows per second over all rows and over the last fifth.
 *
 * Usage: bench_ingest_sqlite [--rows N] [--batch N] [--seed N]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw(), mkdtemp(), clock_gettime() */
#endif
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct variant {
    const char *name;
    const char *schema;
    int time_ordered_ids;
} variant;

static const variant variants[] = {
    {"schema 2",
     "CREATE TABLE users (id TEXT PRIMARY KEY, external_id TEXT UNIQUE, email TEXT, "
     "account_id TEXT, anonymous_ids TEXT NOT NULL DEFAULT '[]', "
     "attributes TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, "
     "updated_at TEXT NOT NULL);"
     "CREATE INDEX users_email ON users (email);",
     0},
    {"schema 3, random ids",
     "CREATE TABLE users (id TEXT PRIMARY KEY, external_id TEXT, email TEXT, "
     "account_id TEXT, anonymous_ids TEXT NOT NULL DEFAULT '[]', "
     "attributes TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, "
     "updated_at TEXT NOT NULL);",
     0},
    {"schema 3",
     "CREATE TABLE users (id TEXT PRIMARY KEY, external_id TEXT, email TEXT, "
     "account_id TEXT, anonymous_ids TEXT NOT NULL DEFAULT '[]', "
     "attributes TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, "
     "updated_at TEXT NOT NULL);",
     1},
    {"schema 3 + email index",
     "CREATE TABLE users (id TEXT PRIMARY KEY, external_id TEXT, email TEXT, "
     "account_id TEXT, anonymous_ids TEXT NOT NULL DEFAULT '[]', "
     "attributes TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, "
     "updated_at TEXT NOT NULL);"
     "CREATE INDEX users_email ON users (email);",
     1},
};

/* The statement that core/store_sqlite.c prepares for saving a user. */
static const char insert_sql[] =
    "INSERT INTO users (id, external_id, email, account_id, anonymous_ids, attributes, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT(id) DO UPDATE SET external_id = excluded.external_id, "
    "email = excluded.email, account_id = excluded.account_id, "
    "anonymous_ids = excluded.anonymous_ids, attributes = excluded.attributes, "
    "updated_at = excluded.updated_at";

/* The pragmas that core/store_sqlite.c sets. */
static const char pragmas[] = "PRAGMA journal_mode = WAL;"
                              "PRAGMA synchronous = NORMAL;"
                              "PRAGMA cache_size = -65536;"
                              "PRAGMA mmap_size = 268435456;";

static uint64_t random_state;

/* splitmix64, enough for test data. */
static uint64_t next_random(void)
{
    uint64_t z = (random_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* A UUID text: version 7 with a millisecond count that grows with row,
 * as wharfd makes ids, or version 4 (all random). */
static void make_id(char id[37], int time_ordered, uint64_t row)
{
    uint64_t high = next_random();
    uint64_t low = next_random();

    if (time_ordered)
        high = ((UINT64_C(1717200000000) + row / 50) << 16) | (high & 0xffff);
    high = (high & ~UINT64_C(0xf000)) | (time_ordered ? 0x7000 : 0x4000);
    low = (low & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
    snprintf(id, 37, "%08llx-%04llx-%04llx-%04llx-%012llx",
             (unsigned long long)(high >> 32), (unsigned long long)((high >> 16) & 0xffff),
             (unsigned long long)(high & 0xffff), (unsigned long long)(low >> 48),
             (unsigned long long)(low & UINT64_C(0xffffffffffff)));
}

static int remove_entry(const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *message = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        fprintf(stderr, "bench_ingest_sqlite: %s failed: %s\n", sql, message);
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

static int run_variant(const variant *v, const char *directory, uint64_t rows, unsigned batch)
{
    char path[600];
    char attributes[701];
    sqlite3 *db = NULL;
    sqlite3_stmt *insert = NULL;
    uint64_t tail_start = rows - rows / 5;
    double started;
    double tail_started = 0;
    double ended;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/users.db", directory);
    memset(attributes, 'x', sizeof(attributes) - 1);
    attributes[sizeof(attributes) - 1] = '\0';
    if (sqlite3_open(path, &db) != SQLITE_OK || exec_sql(db, pragmas) != 0 ||
        exec_sql(db, v->schema) != 0 ||
        sqlite3_prepare_v2(db, insert_sql, -1, &insert, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_ingest_sqlite: cannot set up %s: %s\n", path,
                db != NULL ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }

    started = now_seconds();
    for (uint64_t row = 0; row < rows; row++) {
        char id[37];
        char external_id[32];
        char email[64];

        if (row == tail_start)
            tail_started = now_seconds();
        if (row % batch == 0 && exec_sql(db, "BEGIN IMMEDIATE") != 0)
            goto out;
        make_id(id, v->time_ordered_ids, row);
        snprintf(external_id, sizeof(external_id), "user-%llu", (unsigned long long)row);
        snprintf(email, sizeof(email), "name.last%llu@adventure-works.com",
                 (unsigned long long)(next_random() % 1000000000));
        sqlite3_bind_text(insert, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 2, external_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 3, email, -1, SQLITE_STATIC);
        sqlite3_bind_null(insert, 4);
        sqlite3_bind_text(insert, 5, "[]", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 6, attributes, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 7, "2024-06-01T12:00:00.000Z", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 8, "2024-06-01T12:00:00.000Z", -1, SQLITE_STATIC);
        if (sqlite3_step(insert) != SQLITE_DONE) {
            fprintf(stderr, "bench_ingest_sqlite: insert %llu failed: %s\n",
                    (unsigned long long)row, sqlite3_errmsg(db));
            goto out;
        }
        sqlite3_reset(insert);
        if ((row % batch == batch - 1 || row == rows - 1) && exec_sql(db, "COMMIT") != 0)
            goto out;
    }
    ended = now_seconds();

    printf("%-24s %llu rows in %.1f s: %.0f rows/s; last fifth %.0f rows/s\n", v->name,
           (unsigned long long)rows, ended - started, (double)rows / (ended - started),
           (double)(rows - tail_start) / (ended - tail_started));
    fflush(stdout);
    rc = 0;

out:
    sqlite3_finalize(insert);
    sqlite3_close(db);
    nftw(directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t rows = 1000000;
    unsigned long long batch = 500;
    unsigned long long seed = 42;
    const char *temporary = getenv("TMPDIR");

    for (int i = 1; i + 1 < argc; i += 2) {
        char *end;
        unsigned long long value = strtoull(argv[i + 1], &end, 10);

        if (*end != '\0' || end == argv[i + 1])
            goto usage;
        if (strcmp(argv[i], "--rows") == 0 && value >= 5)
            rows = value;
        else if (strcmp(argv[i], "--batch") == 0 && value > 0 && value <= 100000)
            batch = value;
        else if (strcmp(argv[i], "--seed") == 0)
            seed = value;
        else
            goto usage;
    }
    if (argc % 2 == 0)
        goto usage;

    printf("SQLite %s, %llu rows in transactions of %llu\n", sqlite3_libversion(),
           (unsigned long long)rows, batch);
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        char directory[512];

        random_state = seed;
        snprintf(directory, sizeof(directory), "%s/bench-ingest-sqlite-XXXXXX",
                 temporary != NULL && temporary[0] != '\0' ? temporary : "/tmp");
        if (mkdtemp(directory) == NULL) {
            fprintf(stderr, "bench_ingest_sqlite: cannot create a directory in %s: %s\n",
                    directory, strerror(errno));
            return 1;
        }
        if (run_variant(&variants[i], directory, rows, (unsigned)batch) != 0)
            return 1;
    }
    return 0;

usage:
    fprintf(stderr, "usage: bench_ingest_sqlite [--rows N (at least 5)] [--batch N (1 to "
                    "100000)] [--seed N]\n");
    return 2;
}
