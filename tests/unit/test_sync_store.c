/* Unit tests of the connector log in the SQLite sync store. Lines come back
 * in order with every field, whatever the writer's grouping of inserts. The
 * filters select the right lines, and a read returns every line appended
 * before it without an explicit flush. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sync_store.h"

#define CONNECTOR "c-1"
#define OTHER_CONNECTOR "c-2"
#define MAX_READ 4096

typedef struct fixture {
    char directory[64];
    sync_store *store;
} fixture;

/* The lines a read returned, copied. */
typedef struct read_lines {
    size_t count;
    int64_t sequences[MAX_READ];
    int64_t at_ms[MAX_READ];
    char *texts[MAX_READ][7]; /* connector, message, user, account, claims, batch, data */
} read_lines;

static char *copy_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

static int collect(const log_line *line, void *user_data)
{
    read_lines *lines = user_data;
    const char *texts[7] = {line->connector_id, line->message,  line->user_id, line->account_id,
                            line->claims_json,  line->batch_id, line->data_json};

    if (lines->count == MAX_READ)
        return 1;
    lines->sequences[lines->count] = line->sequence;
    lines->at_ms[lines->count] = line->at_ms;
    for (int i = 0; i < 7; i++)
        lines->texts[lines->count][i] = copy_or_null(texts[i]);
    lines->count++;
    return 0;
}

static void lines_clear(read_lines *lines)
{
    for (size_t i = 0; i < lines->count; i++) {
        for (int j = 0; j < 7; j++)
            free(lines->texts[i][j]);
    }
    lines->count = 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char error[512] = "";

    if (f == NULL)
        return -1;
    snprintf(f->directory, sizeof(f->directory), "/tmp/wharf-sync-store-XXXXXX");
    if (mkdtemp(f->directory) == NULL)
        return -1;
    if (sync_store_open_sqlite(f->directory, &f->store, error, sizeof(error)) != 0) {
        fprintf(stderr, "cannot open the sync store: %s\n", error);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char command[128];

    f->store->ops->close(f->store);
    snprintf(command, sizeof(command), "rm -rf '%s'", f->directory);
    if (system(command) != 0)
        return -1;
    free(f);
    return 0;
}

#define ACCOUNT_UUID "01937a6c-5e00-7000-8000-00000000abcd"

/* The id of user n (0 to 6): a UUID, which the store packs into 16 bytes,
 * for n below 4, and other text, which it keeps as text, from 4 on. */
static void user_id_of(size_t n, char user[40])
{
    if (n < 4)
        snprintf(user, 40, "01937a6c-5e00-7000-8000-0000000000%02zu", n);
    else
        snprintf(user, 40, "user-%zu", n);
}

/* Line number i: its fields follow from i, so a read can be checked. The
 * claims and data vary in the key fragments that the store packs, and
 * every eleventh data text has a raw tab, which keeps it unpacked. */
static void make_line(size_t i, const char *connector_id, char user[40], char claims[160],
                      char data[96], log_line *line)
{
    static const char *const anonymous_ids[] = {"", ",\"anonymous_ids\":[]",
                                                ",\"anonymous_ids\":[\"anon-1\",\"a,{\\\"b\"]"};

    user_id_of(i % 7, user);
    snprintf(claims, 160, "{\"external_id\":\"ext-%zu\",\"email\":\"zo\xc3\xab%zu@example.com\"%s}", i,
             i, anonymous_ids[i % 3]);
    if (i % 11 == 0)
        snprintf(data, 96, "{\"reason\":\"raw\ttab %zu\"}", i);
    else if (i % 6 == 1)
        snprintf(data, 96, "{\"attempt\":%zu,\"status_code\":503,\"reason\":\"busy\",\"retry_in_ms\":10}",
                 i % 3 + 1);
    else
        snprintf(data, 96, "{\"attempt\":%zu}", i % 3 + 1);
    memset(line, 0, sizeof(*line));
    line->at_ms = 1733356800000 + (int64_t)i;
    line->connector_id = connector_id;
    line->message = i % 2 == 0 ? "outgoing.user.start" : "outgoing.user.success";
    line->user_id = user;
    line->account_id = i % 5 == 0 ? NULL : (i % 5 == 1 ? "account-1" : ACCOUNT_UUID);
    line->claims_json = claims;
    line->batch_id = i % 4 == 0 ? "batch-a" : NULL;
    line->data_json = data;
}

static void append_lines(fixture *f, size_t first, size_t count, const char *connector_id)
{
    for (size_t i = first; i < first + count; i++) {
        char user[40];
        char claims[160];
        char data[96];
        log_line line;

        make_line(i, connector_id, user, claims, data, &line);
        assert_int_equal(f->store->ops->log_append(f->store, &line), 0);
    }
}

static void assert_text(const char *expected, const char *actual)
{
    if (expected == NULL)
        assert_null(actual);
    else
        assert_string_equal(actual, expected);
}

/* The line read at position is line number i. */
static void assert_line(const read_lines *lines, size_t position, size_t i,
                        const char *connector_id)
{
    char user[40];
    char claims[160];
    char data[96];
    log_line expected;

    make_line(i, connector_id, user, claims, data, &expected);
    assert_int_equal(lines->at_ms[position], expected.at_ms);
    assert_text(expected.connector_id, lines->texts[position][0]);
    assert_text(expected.message, lines->texts[position][1]);
    assert_text(expected.user_id, lines->texts[position][2]);
    assert_text(expected.account_id, lines->texts[position][3]);
    assert_text(expected.claims_json, lines->texts[position][4]);
    assert_text(expected.batch_id, lines->texts[position][5]);
    assert_text(expected.data_json, lines->texts[position][6]);
}

static void read_all(fixture *f, const log_query *query, read_lines *lines)
{
    assert_int_equal(f->store->ops->log_read(f->store, query, collect, lines), 0);
}

static void lines_read_back_in_order(void **state)
{
    fixture *f = *state;
    /* Counts that are not a multiple of the writer's rows per statement,
     * with lines of another connector and batch documents in between. */
    static const size_t counts[] = {1, 7, 8, 9, 61};
    read_lines *lines = calloc(1, sizeof(*lines));
    log_query query = {.connector_id = CONNECTOR, .after_sequence = 0, .limit = MAX_READ};
    size_t total = 0;

    assert_non_null(lines);
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        append_lines(f, total, counts[c], CONNECTOR);
        append_lines(f, 1000 + total, 3, OTHER_CONNECTOR);
        assert_int_equal(f->store->ops->batch_save(f->store, "batch-a", CONNECTOR, "{\"n\":1}"),
                         0);
        total += counts[c];
    }

    /* No log_flush(): the read itself waits for the writer. */
    read_all(f, &query, lines);
    assert_int_equal(lines->count, total);
    for (size_t i = 0; i < total; i++) {
        if (i > 0)
            assert_true(lines->sequences[i] > lines->sequences[i - 1]);
        assert_line(lines, i, i, CONNECTOR);
    }
    lines_clear(lines);

    /* Newest first without after_sequence. */
    query.after_sequence = -1;
    query.limit = 5;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_line(lines, i, total - 1 - i, CONNECTOR);
    lines_clear(lines);
    free(lines);
}

static void filters_select_lines(void **state)
{
    fixture *f = *state;
    read_lines *lines = calloc(1, sizeof(*lines));
    log_query query = {.connector_id = CONNECTOR, .after_sequence = 0, .limit = MAX_READ};
    size_t expected = 0;

    assert_non_null(lines);
    append_lines(f, 0, 100, CONNECTOR);
    append_lines(f, 100, 20, OTHER_CONNECTOR);

    /* A packed UUID and an id kept as text. */
    for (size_t n = 3; n <= 5; n += 2) {
        char user[40];

        user_id_of(n, user);
        query.user_id = user;
        read_all(f, &query, lines);
        expected = 0;
        for (size_t i = 0; i < 100; i++)
            expected += i % 7 == n;
        assert_int_equal(lines->count, expected);
        for (size_t i = 0; i < lines->count; i++)
            assert_string_equal(lines->texts[i][2], user);
        lines_clear(lines);
    }

    query.user_id = NULL;
    query.batch_id = "batch-a";
    query.message = "outgoing.user.start";
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 25); /* even numbers divisible by 4 below 100 */
    lines_clear(lines);

    query.batch_id = NULL;
    query.message = NULL;
    query.account_id = "account-1";
    query.since_ms = 1733356800000 + 50;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 10); /* 51, 56, ... 96 */
    lines_clear(lines);

    query.account_id = ACCOUNT_UUID;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 30); /* 50 to 99 with a remainder of 2 to 4 by 5 */
    for (size_t i = 0; i < lines->count; i++)
        assert_string_equal(lines->texts[i][3], ACCOUNT_UUID);
    lines_clear(lines);

    /* since at the first line, past the last one, and newest first. */
    query.account_id = NULL;
    query.since_ms = 1733356800000;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 100);
    lines_clear(lines);
    query.since_ms = 1733356800000 + 100;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 0);
    query.since_ms = 1733356800000 + 97;
    query.after_sequence = -1;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 3);
    assert_line(lines, 0, 99, CONNECTOR);
    assert_line(lines, 2, 97, CONNECTOR);
    lines_clear(lines);
    query.after_sequence = 0;

    query.account_id = NULL;
    query.since_ms = 0;
    query.connector_id = OTHER_CONNECTOR;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 20);
    assert_line(lines, 0, 100, OTHER_CONNECTOR);
    lines_clear(lines);
    free(lines);
}

static void purge_drops_old_lines(void **state)
{
    fixture *f = *state;
    read_lines *lines = calloc(1, sizeof(*lines));
    log_query query = {.connector_id = CONNECTOR, .after_sequence = 0, .limit = MAX_READ};
    int64_t deleted = -1;

    assert_non_null(lines);
    append_lines(f, 0, 30, CONNECTOR);
    assert_int_equal(f->store->ops->log_purge(f->store, 1733356800000 + 12, &deleted), 0);
    assert_int_equal(deleted, 12);
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 18);
    assert_line(lines, 0, 12, CONNECTOR);
    lines_clear(lines);
    assert_int_equal(f->store->ops->log_flush(f->store), 0);
    free(lines);
}

/* Run a query that returns one row of text on sync.db, into out. */
static void query_text(fixture *f, const char *sql, char *out, size_t size)
{
    char path[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *statement = NULL;

    snprintf(path, sizeof(path), "%s/sync.db", f->directory);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &statement, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(statement), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    sqlite3_close(db);
}

/* UUIDs take 16 bytes and JSON its packed form, while other ids and text
 * with a raw control character stay text. */
static void stores_packed_fields(void **state)
{
    fixture *f = *state;
    read_lines *lines = calloc(1, sizeof(*lines));
    log_query query = {.connector_id = CONNECTOR, .after_sequence = 0, .limit = MAX_READ};
    char row[256];

    assert_non_null(lines);
    append_lines(f, 0, 12, CONNECTOR);
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 12);

    /* Line 1: user 1 (a UUID), account "account-1", packable data. */
    query_text(f,
               "SELECT typeof(user_id) || ' ' || length(user_id) || ' ' || typeof(account_id) "
               "|| ' ' || typeof(claims) || ' ' || typeof(data) FROM log_lines "
               "ORDER BY sequence LIMIT 1 OFFSET 1",
               row, sizeof(row));
    assert_string_equal(row, "blob 16 text blob blob");
    /* Line 4: user "user-4"; line 11: a raw tab in its data. */
    query_text(f, "SELECT typeof(user_id) FROM log_lines ORDER BY sequence LIMIT 1 OFFSET 4",
               row, sizeof(row));
    assert_string_equal(row, "text");
    query_text(f, "SELECT typeof(data) FROM log_lines ORDER BY sequence LIMIT 1 OFFSET 11", row,
               sizeof(row));
    assert_string_equal(row, "text");
    /* Line 1's claims lose their keys, and the empty list with the closing
     * brace, to one byte each. */
    query_text(f, "SELECT length(claims) FROM log_lines ORDER BY sequence LIMIT 1 OFFSET 1", row,
               sizeof(row));
    assert_int_equal(atoi(row), (int)strlen(lines->texts[1][4]) -
                                    (int)(strlen("{\"external_id\":") - 1) -
                                    (int)(strlen(",\"email\":") - 1) -
                                    (int)(strlen(",\"anonymous_ids\":[]}") - 1));
    lines_clear(lines);
    free(lines);
}

/* Lines written before ids and JSON were packed have them as text, and
 * reads and filters still find them. */
static void reads_lines_stored_as_text(void **state)
{
    fixture *f = *state;
    read_lines *lines = calloc(1, sizeof(*lines));
    log_query query = {.connector_id = CONNECTOR, .after_sequence = 0, .limit = MAX_READ};
    char path[128];
    sqlite3 *db = NULL;

    assert_non_null(lines);
    append_lines(f, 0, 3, CONNECTOR);
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 3);
    lines_clear(lines);

    snprintf(path, sizeof(path), "%s/sync.db", f->directory);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO log_lines (at_ms, connector, message, user_id, "
                                  "account_id, claims, batch, data) SELECT at_ms + 5, connector, "
                                  "message, '01937a6c-5e00-7000-8000-000000000099', "
                                  "'" ACCOUNT_UUID "', '{\"external_id\":\"old\"}', batch, "
                                  "'{\"attempt\":1}' FROM log_lines ORDER BY sequence LIMIT 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    query.user_id = "01937a6c-5e00-7000-8000-000000000099";
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 1);
    assert_string_equal(lines->texts[0][2], "01937a6c-5e00-7000-8000-000000000099");
    assert_string_equal(lines->texts[0][3], ACCOUNT_UUID);
    assert_string_equal(lines->texts[0][4], "{\"external_id\":\"old\"}");
    assert_string_equal(lines->texts[0][6], "{\"attempt\":1}");
    lines_clear(lines);

    /* The account filter finds line 2, packed, and the line stored as text. */
    query.user_id = NULL;
    query.account_id = ACCOUNT_UUID;
    read_all(f, &query, lines);
    assert_int_equal(lines->count, 2);
    lines_clear(lines);
    free(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lines_read_back_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(filters_select_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(purge_drops_old_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(stores_packed_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_lines_stored_as_text, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
