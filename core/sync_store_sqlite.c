/*
 * The sync engine's records in SQLite: sync.db under the data directory.
 *
 * Log lines are written at the rate messages are delivered, two per message
 * (start and outcome), which is more than the loop thread can afford to
 * insert itself. So writes go through a queue to a writer thread with its
 * own connection, which inserts them in large transactions. Reads use a
 * second connection on the caller's thread, which WAL mode lets read while
 * the writer writes. A read first waits until every write queued before it
 * is committed, so its result contains them all, as it did when the loop
 * thread wrote the lines itself.
 */
#include "sync_store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ids.h"
#include "log.h"
#include "log_packing.h"
#include "string_map.h"

/* Lines travel to the writer packed into blocks that are recycled, never
 * freed one line at a time: the writer thread freeing what the loop thread
 * allocated made the two wait on each other's malloc arena lock. */
#define BLOCK_SIZE (256 * 1024)
/* Blocks in use at most (16 MiB). Beyond this, log_append() waits for a
 * free one, so a writer that falls behind slows the producer down instead
 * of using memory without bound. */
#define MAX_BLOCKS 64
/* A transaction is committed once it has this many records (checked after
 * each list of blocks), so a reader waiting for a commit waits for a
 * bounded number of inserts. */
#define MAX_TRANSACTION_RECORDS 32768
/* A transaction stays open this long for more lines, unless a reader waits
 * for it, because a commit per change would cost more than the insert
 * itself at a steady trickle of changes.
 * NOTE: a crash loses the lines not committed yet: about this long's worth,
 * plus those still queued when the writer is behind. */
#define COMMIT_DELAY_MS 50
/* Log lines per INSERT statement in the writer's bulk path. One statement
 * of 8 rows cost SQLite 3.40 about a quarter less CPU per row than 8
 * statements of one row, on rows shaped like log lines. 32 rows per
 * statement gained nothing more. */
#define LINES_PER_INSERT 8
/* Each connection's page cache, in KiB (SQLite's negative cache_size). */
#define CACHE_KIB 16384

enum {
    RECORD_LINE = 1,
    RECORD_BATCH_SAVE = 2
};

/* The texts of a record: a line's seven fields, or a batch's id,
 * connector id and document. */
#define RECORD_TEXTS 7
#define NULL_TEXT UINT32_MAX

/* A record in a block: this header, then each text that is not NULL with
 * its NUL, padded to a multiple of 8 bytes. */
typedef struct record_header {
    uint32_t type;
    uint32_t size; /* header, texts and padding */
    int64_t at_ms;
    uint32_t lengths[RECORD_TEXTS]; /* NULL_TEXT for NULL */
} record_header;

typedef struct purge_request {
    int64_t before_ms;
    int64_t deleted;
    int rc;
    char error[256];
} purge_request;

/* One entry of the writer's queue: records, or a purge. */
typedef struct block {
    struct block *next;
    uint64_t ticket;
    purge_request *purge; /* the caller's; NULL for a block of records */
    size_t capacity;      /* bytes in data */
    size_t used;
    size_t records;
    uint64_t data[];      /* 8-byte aligned records */
} block;

typedef struct sqlite_sync_store {
    sync_store base;
    sqlite3 *write_db; /* writer thread only, after open */
    sqlite3 *read_db;  /* caller's thread */
    sqlite3_stmt *append;
    sqlite3_stmt *append_many; /* LINES_PER_INSERT lines */
    sqlite3_stmt *save_batch;
    sqlite3_stmt *name_insert; /* writer thread */
    sqlite3_stmt *name_select; /* writer thread */
    string_map names;          /* writer thread: log_names, name -> key */
    block *open; /* the block being filled; caller's thread only */
    pthread_t writer;
    pthread_mutex_t lock; /* guards the rest */
    pthread_cond_t work;     /* the queue has entries, or stopping */
    pthread_cond_t progress; /* completed moved, or a block was freed */
    block *head;
    block *tail;
    block *free_blocks;
    unsigned blocks; /* of BLOCK_SIZE, allocated */
    uint64_t appended;  /* tickets handed out */
    uint64_t completed; /* every ticket up to this one is committed or failed */
    unsigned waiters;   /* threads in wait_for_writer() */
    int stopping;
    char write_error[512]; /* "" unless the writer failed since the last flush */
} sqlite_sync_store;

/* Log lines name their connector, message and batch by a key into
 * log_names, so that a line and its index entry carry a small integer
 * instead of a 36-byte id: every delivered message writes two lines. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS log_names ("
    "  key INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE"
    ");"
    "CREATE TABLE IF NOT EXISTS log_lines ("
    "  sequence INTEGER PRIMARY KEY,"
    "  at_ms INTEGER NOT NULL,"
    "  connector INTEGER NOT NULL,"
    "  message INTEGER NOT NULL,"
    "  user_id TEXT,"
    "  account_id TEXT,"
    "  claims TEXT,"
    "  batch INTEGER,"
    "  data TEXT"
    ");"
    /* Reads walk one connector's lines by sequence (log_lines_connector)
     * and test the other filters on each line, so indexes on user_id and
     * batch would only slow every append: a random UUID key makes each
     * insert touch a random page. Lines are appended in time order, so
     * the purge finds its cut by sequence, without an index on at_ms. */
    "CREATE INDEX IF NOT EXISTS log_lines_connector ON log_lines (connector, sequence);"
    "DROP INDEX IF EXISTS log_lines_time;"
    "CREATE TABLE IF NOT EXISTS batches ("
    "  id TEXT PRIMARY KEY,"
    "  connector_id TEXT NOT NULL,"
    "  document TEXT NOT NULL,"
    "  created_seq INTEGER NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS batches_connector ON batches (connector_id, created_seq);";

/* Lines of a sync.db written before log_names existed move to the new
 * layout, keeping their sequences. */
static const char migrate_names[] =
    "DROP INDEX IF EXISTS log_lines_user;"
    "DROP INDEX IF EXISTS log_lines_batch;"
    "DROP INDEX IF EXISTS log_lines_connector;"
    "DROP INDEX IF EXISTS log_lines_time;"
    "ALTER TABLE log_lines RENAME TO log_lines_before_names;";

static const char migrate_names_copy[] =
    "INSERT OR IGNORE INTO log_names (name) SELECT connector_id FROM log_lines_before_names "
    "UNION SELECT message FROM log_lines_before_names "
    "UNION SELECT batch_id FROM log_lines_before_names WHERE batch_id IS NOT NULL;"
    "INSERT INTO log_lines (sequence, at_ms, connector, message, user_id, account_id, claims, "
    "batch, data) SELECT o.sequence, o.at_ms, "
    "(SELECT key FROM log_names WHERE name = o.connector_id), "
    "(SELECT key FROM log_names WHERE name = o.message), o.user_id, o.account_id, o.claims, "
    "(SELECT key FROM log_names WHERE name = o.batch_id), o.data "
    "FROM log_lines_before_names o;"
    "DROP TABLE log_lines_before_names;";

static int fail(sqlite_sync_store *s, sqlite3 *db, const char *what)
{
    snprintf(s->base.error, sizeof(s->base.error), "%s: %s", what, sqlite3_errmsg(db));
    return -EIO;
}

static void bind_text(sqlite3_stmt *statement, int column, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(statement, column, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, column);
}

/* bind_text() for a text of known length, or NULL_TEXT for NULL. */
static void bind_text_length(sqlite3_stmt *statement, int column, const char *text,
                             uint32_t length)
{
    if (length != NULL_TEXT)
        sqlite3_bind_text(statement, column, text, (int)length, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, column);
}

static size_t align8(size_t size)
{
    return (size + 7) & ~(size_t)7;
}

/* Fill lengths[] (NULL_TEXT for NULL) and return the size of the record. */
static size_t record_size(const char *const texts[RECORD_TEXTS], uint32_t lengths[RECORD_TEXTS])
{
    size_t size = sizeof(record_header);

    for (int i = 0; i < RECORD_TEXTS; i++) {
        size_t length = texts[i] != NULL ? strlen(texts[i]) : 0;

        lengths[i] = texts[i] != NULL ? (uint32_t)length : NULL_TEXT;
        size += texts[i] != NULL ? length + 1 : 0;
    }
    return align8(size);
}

/* Writer thread: record the first failure for the next log_flush(). */
static void note_write_error(sqlite_sync_store *s, const char *what)
{
    pthread_mutex_lock(&s->lock);
    if (s->write_error[0] == '\0')
        snprintf(s->write_error, sizeof(s->write_error), "%s: %s", what,
                 sqlite3_errmsg(s->write_db));
    pthread_mutex_unlock(&s->lock);
}

/* Put an entry on the writer's queue. Called with the lock held. */
static void queue_locked(sqlite_sync_store *s, block *entry)
{
    entry->next = NULL;
    entry->ticket = ++s->appended;
    if (s->tail != NULL)
        s->tail->next = entry;
    else
        s->head = entry;
    s->tail = entry;
    pthread_cond_signal(&s->work);
}

/* Hand the block being filled to the writer. */
static void publish(sqlite_sync_store *s)
{
    block *open = s->open;

    if (open == NULL || open->records == 0)
        return;
    s->open = NULL;
    pthread_mutex_lock(&s->lock);
    queue_locked(s, open);
    pthread_mutex_unlock(&s->lock);
}

/* A block with room for needed bytes: a recycled one, a new one, or one of
 * its own for a record larger than BLOCK_SIZE. Waits while MAX_BLOCKS are
 * in use. NULL when out of memory. */
static block *take_block(sqlite_sync_store *s, size_t needed)
{
    block *taken = NULL;
    size_t capacity = needed > BLOCK_SIZE ? needed : BLOCK_SIZE;

    if (capacity == BLOCK_SIZE) {
        pthread_mutex_lock(&s->lock);
        while (s->free_blocks == NULL && s->blocks >= MAX_BLOCKS && !s->stopping)
            pthread_cond_wait(&s->progress, &s->lock);
        if (s->free_blocks != NULL) {
            taken = s->free_blocks;
            s->free_blocks = taken->next;
        } else {
            s->blocks++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (taken == NULL) {
        taken = malloc(sizeof(*taken) + capacity);
        if (taken == NULL) {
            if (capacity == BLOCK_SIZE) {
                pthread_mutex_lock(&s->lock);
                s->blocks--;
                pthread_mutex_unlock(&s->lock);
            }
            return NULL;
        }
        taken->capacity = capacity;
    }
    taken->next = NULL;
    taken->purge = NULL;
    taken->used = 0;
    taken->records = 0;
    return taken;
}

/* Give a block back: a standard one to the free list, any other to free(). */
static void release_block(sqlite_sync_store *s, block *unused)
{
    if (unused->capacity != BLOCK_SIZE) {
        free(unused);
        return;
    }
    pthread_mutex_lock(&s->lock);
    unused->next = s->free_blocks;
    s->free_blocks = unused;
    pthread_cond_broadcast(&s->progress);
    pthread_mutex_unlock(&s->lock);
}

/* Append a record to the open block. Returns 0 or -ENOMEM. */
static int append_record(sqlite_sync_store *s, uint32_t type, int64_t at_ms,
                         const char *const texts[RECORD_TEXTS])
{
    uint32_t lengths[RECORD_TEXTS];
    size_t size = record_size(texts, lengths);
    record_header *header;
    char *at;

    if (s->open != NULL && s->open->capacity - s->open->used < size) {
        publish(s);
        /* An empty block stays open; one too small for this record goes. */
        if (s->open != NULL) {
            release_block(s, s->open);
            s->open = NULL;
        }
    }
    if (s->open == NULL) {
        s->open = take_block(s, size);
        if (s->open == NULL)
            return -ENOMEM;
    }
    header = (record_header *)((char *)s->open->data + s->open->used);
    header->type = type;
    header->size = (uint32_t)size;
    header->at_ms = at_ms;
    at = (char *)(header + 1);
    for (int i = 0; i < RECORD_TEXTS; i++) {
        header->lengths[i] = lengths[i];
        if (lengths[i] == NULL_TEXT)
            continue;
        memcpy(at, texts[i], (size_t)lengths[i] + 1);
        at += lengths[i] + 1;
    }
    s->open->used += size;
    s->open->records++;
    return 0;
}

/* Wait until every entry queued so far, the open block included, is
 * committed (or failed). */
static void wait_for_writer(sqlite_sync_store *s)
{
    publish(s);
    pthread_mutex_lock(&s->lock);
    s->waiters++;
    pthread_cond_signal(&s->work);
    while (s->completed < s->appended)
        pthread_cond_wait(&s->progress, &s->lock);
    s->waiters--;
    pthread_mutex_unlock(&s->lock);
}

/* Point texts[] at the record's texts (NULL where absent). */
static void record_texts(const record_header *header, const char *texts[RECORD_TEXTS])
{
    const char *at = (const char *)(header + 1);

    for (int i = 0; i < RECORD_TEXTS; i++) {
        if (header->lengths[i] == NULL_TEXT) {
            texts[i] = NULL;
            continue;
        }
        texts[i] = at;
        at += header->lengths[i] + 1;
    }
}

/* The key of a connector id, message name or batch id in log_names,
 * added on first use (writer thread). Returns 0 when the store failed. */
static int64_t name_key(sqlite_sync_store *s, const char *name, uint32_t length)
{
    uint32_t key = string_map_get(&s->names, name);
    int64_t found = 0;

    if (key != STRING_MAP_MISSING)
        return key;
    bind_text_length(s->name_insert, 1, name, length);
    if (sqlite3_step(s->name_insert) != SQLITE_DONE)
        note_write_error(s, "cannot write a log name");
    sqlite3_reset(s->name_insert);
    bind_text_length(s->name_select, 1, name, length);
    if (sqlite3_step(s->name_select) == SQLITE_ROW)
        found = sqlite3_column_int64(s->name_select, 0);
    sqlite3_reset(s->name_select);
    /* Out of memory only costs the next look-up a query. */
    if (found > 0 && found < STRING_MAP_MISSING)
        (void)string_map_put(&s->names, name, (uint32_t)found);
    return found;
}

/* Bind a user or account id: a UUID as its 16 bytes, written in place
 * over its text, and any other id as text. */
static void bind_id(sqlite3_stmt *statement, int column, char *text, uint32_t length)
{
    uint8_t bytes[ID_BYTES];

    if (length == NULL_TEXT || id_parse(text, length, bytes) != 0) {
        bind_text_length(statement, column, text, length);
        return;
    }
    memcpy(text, bytes, sizeof(bytes));
    sqlite3_bind_blob(statement, column, text, (int)sizeof(bytes), SQLITE_STATIC);
}

/* Bind claims or data, packed in place, as a blob: the type marks it for
 * unpacking on read. Text that cannot be packed is bound as text. */
static void bind_json(sqlite3_stmt *statement, int column, char *text, uint32_t length)
{
    size_t packed;

    if (length == NULL_TEXT) {
        sqlite3_bind_null(statement, column);
        return;
    }
    packed = log_text_pack(text, length);
    if (packed == 0)
        bind_text_length(statement, column, text, length);
    else
        sqlite3_bind_blob(statement, column, text, (int)packed, SQLITE_STATIC);
}

/* Bind a line's at_ms and fields to the 8 parameters from first on: the
 * connector, message and batch as keys into log_names. Ids, claims and
 * data are packed in place, so each record is bound only once. */
static void bind_line(sqlite_sync_store *s, sqlite3_stmt *statement, int first,
                      record_header *header)
{
    const char *texts[RECORD_TEXTS];

    record_texts(header, texts);
    sqlite3_bind_int64(statement, first, header->at_ms);
    sqlite3_bind_int64(statement, first + 1, name_key(s, texts[0], header->lengths[0]));
    sqlite3_bind_int64(statement, first + 2, name_key(s, texts[1], header->lengths[1]));
    bind_id(statement, first + 3, (char *)texts[2], header->lengths[2]);
    bind_id(statement, first + 4, (char *)texts[3], header->lengths[3]);
    bind_json(statement, first + 5, (char *)texts[4], header->lengths[4]);
    if (texts[5] != NULL)
        sqlite3_bind_int64(statement, first + 6, name_key(s, texts[5], header->lengths[5]));
    else
        sqlite3_bind_null(statement, first + 6);
    bind_json(statement, first + 7, (char *)texts[6], header->lengths[6]);
}

/* Insert LINES_PER_INSERT lines with one statement, in order. */
static int run_lines(sqlite_sync_store *s, record_header *const lines[LINES_PER_INSERT])
{
    int rc;

    for (int i = 0; i < LINES_PER_INSERT; i++)
        bind_line(s, s->append_many, 1 + i * (1 + RECORD_TEXTS), lines[i]);
    rc = sqlite3_step(s->append_many);
    sqlite3_reset(s->append_many);
    if (rc == SQLITE_DONE)
        return 0;
    note_write_error(s, "cannot write log lines");
    return -EIO;
}

static int run_record(sqlite_sync_store *s, record_header *header)
{
    const char *texts[RECORD_TEXTS];
    sqlite3_stmt *statement;
    int rc;

    if (header->type == RECORD_LINE) {
        statement = s->append;
        bind_line(s, statement, 1, header);
    } else {
        statement = s->save_batch;
        record_texts(header, texts);
        for (int i = 0; i < 3; i++)
            bind_text_length(statement, i + 1, texts[i], header->lengths[i]);
    }
    rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (rc == SQLITE_DONE)
        return 0;
    note_write_error(s, header->type == RECORD_LINE ? "cannot write log line"
                                                    : "cannot save batch");
    return -EIO;
}

static void run_purge(sqlite_sync_store *s, purge_request *request)
{
    sqlite3_stmt *statement = NULL;
    int rc;

    /* Lines are appended in time order, so the first line at or after the
     * cut is found by a scan that stops there, and every line before it
     * goes. NOTE: after the clock was set back, lines written since then
     * wait until the lines before them expire. */
    rc = sqlite3_prepare_v2(s->write_db,
                            "DELETE FROM log_lines WHERE sequence < COALESCE("
                            "(SELECT sequence FROM log_lines WHERE at_ms >= ?1 "
                            "ORDER BY sequence LIMIT 1), "
                            "(SELECT MAX(sequence) + 1 FROM log_lines))",
                            -1, &statement, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(statement, 1, request->before_ms);
        rc = sqlite3_step(statement);
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) {
        request->rc = -EIO;
        snprintf(request->error, sizeof(request->error), "cannot purge log lines: %s",
                 sqlite3_errmsg(s->write_db));
        return;
    }
    request->deleted = sqlite3_changes(s->write_db);
}

/* Run the records of a block in order: lines LINES_PER_INSERT at a time,
 * and any other record, or a remainder of fewer lines, one at a time. */
static void run_block(sqlite_sync_store *s, block *entry)
{
    record_header *lines[LINES_PER_INSERT];
    size_t line_count = 0;

    for (size_t offset = 0; offset < entry->used;) {
        record_header *header = (record_header *)((char *)entry->data + offset);

        offset += header->size;
        if (header->type == RECORD_LINE) {
            lines[line_count++] = header;
            if (line_count == LINES_PER_INSERT) {
                run_lines(s, lines);
                line_count = 0;
            }
            continue;
        }
        for (size_t i = 0; i < line_count; i++)
            run_record(s, lines[i]);
        line_count = 0;
        run_record(s, header);
    }
    for (size_t i = 0; i < line_count; i++)
        run_record(s, lines[i]);
}

/* Run the entries of one list inside the open transaction and recycle their
 * blocks. Returns the number of records. */
static size_t run_entries(sqlite_sync_store *s, block *list)
{
    size_t records = 0;

    while (list != NULL) {
        block *entry = list;

        list = entry->next;
        if (entry->purge != NULL) {
            /* The entry is on the caller's stack; the caller waits for it. */
            run_purge(s, entry->purge);
            records++;
            continue;
        }
        run_block(s, entry);
        records += entry->records;
        release_block(s, entry);
    }
    return records;
}

static void commit(sqlite_sync_store *s)
{
    if (sqlite3_exec(s->write_db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return;
    note_write_error(s, "cannot commit log lines");
    sqlite3_exec(s->write_db, "ROLLBACK", NULL, NULL, NULL);
}

/* The time COMMIT_DELAY_MS from now on CLOCK_MONOTONIC (the clock of the
 * work condition). */
static struct timespec commit_deadline(void)
{
    struct timespec at;

    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_nsec += COMMIT_DELAY_MS * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec += at.tv_nsec / 1000000000L;
        at.tv_nsec %= 1000000000L;
    }
    return at;
}

static int is_past(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Commit the open transaction and mark its entries completed. Called and
 * returns with the lock held. */
static void commit_locked(sqlite_sync_store *s, uint64_t last_ticket)
{
    pthread_mutex_unlock(&s->lock);
    commit(s);
    pthread_mutex_lock(&s->lock);
    s->completed = last_ticket;
    pthread_cond_broadcast(&s->progress);
}

static void *run_writer(void *argument)
{
    sqlite_sync_store *s = argument;
    size_t in_transaction = 0;
    uint64_t last_ticket = 0;
    struct timespec deadline = {0, 0};

    pthread_mutex_lock(&s->lock);
    for (;;) {
        block *list;

        /* Wait for entries; with a transaction open, only until it is due
         * or someone waits for it. */
        while (s->head == NULL && !s->stopping) {
            if (in_transaction == 0) {
                pthread_cond_wait(&s->work, &s->lock);
                continue;
            }
            if (s->waiters > 0 ||
                pthread_cond_timedwait(&s->work, &s->lock, &deadline) == ETIMEDOUT)
                break;
        }
        if (s->head == NULL) {
            if (in_transaction > 0) {
                commit_locked(s, last_ticket);
                in_transaction = 0;
                continue;
            }
            break; /* stopping, and everything is committed */
        }
        list = s->head;
        last_ticket = s->tail->ticket;
        s->head = NULL;
        s->tail = NULL;
        pthread_mutex_unlock(&s->lock);

        if (in_transaction == 0) {
            if (sqlite3_exec(s->write_db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
                note_write_error(s, "cannot begin writing log lines");
            deadline = commit_deadline();
        }
        in_transaction += run_entries(s, list);

        pthread_mutex_lock(&s->lock);
        if (in_transaction >= MAX_TRANSACTION_RECORDS || s->waiters > 0 || is_past(&deadline)) {
            commit_locked(s, last_ticket);
            in_transaction = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int log_append(sync_store *base, const log_line *line)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    const char *texts[RECORD_TEXTS] = {line->connector_id, line->message,     line->user_id,
                                       line->account_id,   line->claims_json, line->batch_id,
                                       line->data_json};

    if (append_record(s, RECORD_LINE, line->at_ms, texts) != 0) {
        snprintf(base->error, sizeof(base->error), "out of memory queueing a log line");
        return -ENOMEM;
    }
    return 0;
}

/* Hand the lines of this loop iteration to the writer, which commits them
 * about COMMIT_DELAY_MS later. Returns -EIO when the writer failed since
 * the last call, with its error in base->error. */
static int log_flush(sync_store *base)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    int rc = 0;

    publish(s);
    pthread_mutex_lock(&s->lock);
    if (s->write_error[0] != '\0') {
        snprintf(base->error, sizeof(base->error), "%s", s->write_error);
        s->write_error[0] = '\0';
        rc = -EIO;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Bind an id filter in both stored forms: ?text and ?packed, NULL when the
 * id is not a UUID. Lines written before ids were packed keep the text. */
static void bind_id_filter(sqlite3_stmt *statement, int text_column, int packed_column,
                           const char *id, uint8_t bytes[ID_BYTES])
{
    bind_text(statement, text_column, id);
    if (id != NULL && id_parse(id, strlen(id), bytes) == 0)
        sqlite3_bind_blob(statement, packed_column, bytes, ID_BYTES, SQLITE_STATIC);
    else
        sqlite3_bind_null(statement, packed_column);
}

/* Return the text of an id column: a packed UUID written out into text,
 * or the stored text. */
static const char *column_id(sqlite3_stmt *statement, int column, char text[ID_TEXT_SIZE])
{
    if (sqlite3_column_type(statement, column) == SQLITE_BLOB &&
        sqlite3_column_bytes(statement, column) == ID_BYTES) {
        id_format(sqlite3_column_blob(statement, column), text);
        return text;
    }
    return (const char *)sqlite3_column_text(statement, column);
}

/* Return the JSON text of a claims or data column: a packed blob unpacked
 * into *unpacked (the caller frees it), or the stored text. */
static const char *column_json(sqlite3_stmt *statement, int column, char **unpacked)
{
    *unpacked = NULL;
    if (sqlite3_column_type(statement, column) != SQLITE_BLOB)
        return (const char *)sqlite3_column_text(statement, column);
    *unpacked = log_text_unpack(sqlite3_column_blob(statement, column),
                                (size_t)sqlite3_column_bytes(statement, column));
    return *unpacked;
}

/* Return a sequence at or before the first line written at or after
 * since_ms, by a binary search over sequences, which follow time. Without
 * it, a read with since went through every older line of the connector:
 * 0.6 s for 4 million lines in one test. NOTE: after the clock was set
 * back, lines written before the cut may be left out although they match. */
static int64_t first_sequence_since(sqlite3 *db, int64_t since_ms)
{
    sqlite3_stmt *bounds = NULL;
    sqlite3_stmt *probe = NULL;
    int64_t low = 0;
    int64_t high = 0;

    /* Two subqueries, because SQLite reads one MIN() or MAX() at an end of
     * the table but scans the table for both in one SELECT. */
    if (sqlite3_prepare_v2(db, "SELECT (SELECT MIN(sequence) FROM log_lines), "
                           "(SELECT MAX(sequence) FROM log_lines)", -1,
                           &bounds, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT sequence, at_ms FROM log_lines WHERE sequence >= ?1 "
                           "ORDER BY sequence LIMIT 1",
                           -1, &probe, NULL) != SQLITE_OK) {
        sqlite3_finalize(bounds);
        return 0; /* no bound: the read tests every line, as it would anyway */
    }
    if (sqlite3_step(bounds) == SQLITE_ROW && sqlite3_column_type(bounds, 0) != SQLITE_NULL) {
        low = sqlite3_column_int64(bounds, 0);
        high = sqlite3_column_int64(bounds, 1) + 1;
    }
    /* Invariant: lines before low are older than since_ms, and high is
     * past the end or at a line that is not. */
    while (low < high) {
        int64_t middle = low + (high - low) / 2;

        sqlite3_bind_int64(probe, 1, middle);
        if (sqlite3_step(probe) != SQLITE_ROW || sqlite3_column_int64(probe, 1) >= since_ms)
            high = middle;
        else
            low = sqlite3_column_int64(probe, 0) + 1;
        sqlite3_reset(probe);
    }
    sqlite3_finalize(bounds);
    sqlite3_finalize(probe);
    return low;
}

static int log_read(sync_store *base, const log_query *query, log_line_fn fn, void *user_data)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    sqlite3_stmt *statement = NULL;
    uint8_t user_bytes[ID_BYTES];
    uint8_t account_bytes[ID_BYTES];
    char sql[1100];
    int64_t after;
    int rc;

    wait_for_writer(s);

    /* Every filter is bound; a NULL parameter disables its condition.
     * NOTE: only connector_id and sequence are indexed, so a query by user,
     * account or batch reads the connector's lines until it has limit. */
    snprintf(sql, sizeof(sql),
             "SELECT l.sequence, l.at_ms, c.name, m.name, l.user_id, l.account_id, l.claims, "
             "b.name, l.data FROM log_lines l JOIN log_names c ON c.key = l.connector "
             "JOIN log_names m ON m.key = l.message LEFT JOIN log_names b ON b.key = l.batch "
             "WHERE l.connector = (SELECT key FROM log_names WHERE name = ?1) "
             "AND (?2 IS NULL OR l.message = (SELECT key FROM log_names WHERE name = ?2)) "
             "AND (?3 IS NULL OR l.user_id = ?3 OR l.user_id = ?9) "
             "AND (?4 IS NULL OR l.account_id = ?4 OR l.account_id = ?10) "
             "AND (?5 IS NULL OR l.batch = (SELECT key FROM log_names WHERE name = ?5)) "
             "AND l.at_ms >= ?6 AND l.sequence > ?7 ORDER BY l.sequence %s LIMIT ?8",
             query->after_sequence >= 0 ? "ASC" : "DESC");
    if (sqlite3_prepare_v2(s->read_db, sql, -1, &statement, NULL) != SQLITE_OK)
        return fail(s, s->read_db, "cannot read log lines");
    bind_text(statement, 1, query->connector_id);
    bind_text(statement, 2, query->message);
    bind_id_filter(statement, 3, 9, query->user_id, user_bytes);
    bind_id_filter(statement, 4, 10, query->account_id, account_bytes);
    bind_text(statement, 5, query->batch_id);
    sqlite3_bind_int64(statement, 6, query->since_ms);
    /* One lower bound on sequence, because SQLite starts the index range
     * at only one of two. */
    after = query->after_sequence >= 0 ? query->after_sequence : -1;
    if (query->since_ms > 0) {
        int64_t first = first_sequence_since(s->read_db, query->since_ms);

        if (first - 1 > after)
            after = first - 1;
    }
    sqlite3_bind_int64(statement, 7, after);
    sqlite3_bind_int64(statement, 8, query->limit);

    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        char user_id[ID_TEXT_SIZE];
        char account_id[ID_TEXT_SIZE];
        char *claims;
        char *data;
        log_line line = {
            .sequence = sqlite3_column_int64(statement, 0),
            .at_ms = sqlite3_column_int64(statement, 1),
            .connector_id = (const char *)sqlite3_column_text(statement, 2),
            .message = (const char *)sqlite3_column_text(statement, 3),
            .user_id = column_id(statement, 4, user_id),
            .account_id = column_id(statement, 5, account_id),
            .claims_json = column_json(statement, 6, &claims),
            .batch_id = (const char *)sqlite3_column_text(statement, 7),
            .data_json = column_json(statement, 8, &data),
        };
        int stop = fn(&line, user_data);

        free(claims);
        free(data);
        if (stop != 0)
            break;
    }
    sqlite3_finalize(statement);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, s->read_db, "cannot read log lines");
}

static int log_purge(sync_store *base, int64_t before_ms, int64_t *deleted)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    purge_request request = {.before_ms = before_ms};
    block entry = {.purge = &request};

    *deleted = 0;
    publish(s);
    pthread_mutex_lock(&s->lock);
    queue_locked(s, &entry);
    pthread_mutex_unlock(&s->lock);
    wait_for_writer(s);

    if (request.rc != 0) {
        snprintf(base->error, sizeof(base->error), "%s", request.error);
        return request.rc;
    }
    *deleted = request.deleted;
    return 0;
}

/* Queued behind the lines written before it, like a line. */
static int batch_save(sync_store *base, const char *id, const char *connector_id,
                      const char *document)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    const char *texts[RECORD_TEXTS] = {id, connector_id, document, NULL, NULL, NULL, NULL};

    if (append_record(s, RECORD_BATCH_SAVE, 0, texts) != 0) {
        snprintf(base->error, sizeof(base->error), "out of memory saving batch %s", id);
        return -ENOMEM;
    }
    return 0;
}

static int batch_each(sync_store *base, const char *connector_id,
                      int (*fn)(const char *id, const char *document, void *user_data),
                      void *user_data)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;
    sqlite3_stmt *statement = NULL;
    int rc;

    wait_for_writer(s);
    if (sqlite3_prepare_v2(s->read_db,
                           "SELECT id, document FROM batches WHERE (?1 IS NULL OR connector_id = ?1) "
                           "ORDER BY created_seq",
                           -1, &statement, NULL) != SQLITE_OK)
        return fail(s, s->read_db, "cannot list batches");
    bind_text(statement, 1, connector_id);
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(statement, 0),
               (const char *)sqlite3_column_text(statement, 1), user_data) != 0)
            break;
    }
    sqlite3_finalize(statement);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, s->read_db, "cannot list batches");
}

static void stop_writer(sqlite_sync_store *s)
{
    publish(s);
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->writer, NULL);
    if (s->write_error[0] != '\0')
        log_error("connector log: %s", s->write_error);
}

static void release(sqlite_sync_store *s)
{
    free(s->open);
    while (s->free_blocks != NULL) {
        block *next = s->free_blocks->next;

        free(s->free_blocks);
        s->free_blocks = next;
    }
    sqlite3_finalize(s->append);
    sqlite3_finalize(s->append_many);
    sqlite3_finalize(s->name_insert);
    sqlite3_finalize(s->name_select);
    string_map_free(&s->names);
    sqlite3_finalize(s->save_batch);
    sqlite3_close(s->write_db);
    sqlite3_close(s->read_db);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->progress);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void sqlite_close(sync_store *base)
{
    sqlite_sync_store *s = (sqlite_sync_store *)base;

    stop_writer(s);
    release(s);
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

/* The INSERT of LINES_PER_INSERT lines: one VALUES row per line. */
static int prepare_append_many(sqlite_sync_store *s)
{
    static const char head[] = "INSERT INTO log_lines (at_ms, connector, message, user_id, "
                               "account_id, claims, batch, data) VALUES ";
    static const char row[] = "(?,?,?,?,?,?,?,?)";
    char sql[sizeof(head) + LINES_PER_INSERT * sizeof(row)];
    size_t used = 0;

    memcpy(sql, head, sizeof(head) - 1);
    used += sizeof(head) - 1;
    for (int i = 0; i < LINES_PER_INSERT; i++) {
        if (i > 0)
            sql[used++] = ',';
        memcpy(sql + used, row, sizeof(row) - 1);
        used += sizeof(row) - 1;
    }
    sql[used] = '\0';
    return sqlite3_prepare_v3(s->write_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->append_many,
                              NULL);
}

/* Create the tables, moving lines of an older layout over first. */
static int create_schema(sqlite3 *db, char **message)
{
    int old_layout = sqlite3_exec(db, "SELECT connector_id FROM log_lines LIMIT 0", NULL, NULL,
                                  NULL) == SQLITE_OK;
    int rc;

    if (!old_layout)
        return sqlite3_exec(db, schema, NULL, NULL, message);
    rc = sqlite3_exec(db, "BEGIN", NULL, NULL, message);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, migrate_names, NULL, NULL, message);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, schema, NULL, NULL, message);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, migrate_names_copy, NULL, NULL, message);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, message);
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        log_info("connector log lines moved to the layout with log_names");
    return rc;
}

static int open_connection(const char *path, sqlite3 **db, char **message)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                           SQLITE_OPEN_NOMUTEX,
                             NULL);
    char pragmas[256];

    if (rc != SQLITE_OK)
        return rc;
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode = WAL;"
             "PRAGMA synchronous = NORMAL;"
             "PRAGMA cache_size = -%d;",
             CACHE_KIB);
    sqlite3_busy_timeout(*db, 5000);
    return sqlite3_exec(*db, pragmas, NULL, NULL, message);
}

int sync_store_open_sqlite(const char *data_dir, sync_store **out, char *error, size_t error_size)
{
    sqlite_sync_store *s = calloc(1, sizeof(*s));
    pthread_condattr_t attributes;
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
    string_map_init(&s->names);
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, &attributes);
    pthread_cond_init(&s->progress, NULL);
    pthread_condattr_destroy(&attributes);
    snprintf(path, sizeof(path), "%s/sync.db", data_dir);

    /* Log lines name users and their claims, so they get 0600 like the store. */
    old_mask = umask(077);
    rc = open_connection(path, &s->write_db, &message);
    if (rc == SQLITE_OK)
        rc = create_schema(s->write_db, &message);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->write_db,
                                "INSERT OR IGNORE INTO log_names (name) VALUES (?1)", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->name_insert, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->write_db, "SELECT key FROM log_names WHERE name = ?1", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->name_select, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->write_db,
                                "INSERT INTO log_lines (at_ms, connector, message, user_id, "
                                "account_id, claims, batch, data) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                -1, SQLITE_PREPARE_PERSISTENT, &s->append, NULL);
    if (rc == SQLITE_OK)
        rc = prepare_append_many(s);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(
            s->write_db,
            "INSERT INTO batches (id, connector_id, document, created_seq) "
            "VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM batches)) "
            "ON CONFLICT(id) DO UPDATE SET document = excluded.document",
            -1, SQLITE_PREPARE_PERSISTENT, &s->save_batch, NULL);
    if (rc == SQLITE_OK)
        rc = open_connection(path, &s->read_db, &message);
    umask(old_mask);
    if (rc != SQLITE_OK) {
        sqlite3 *failed = s->read_db != NULL ? s->read_db : s->write_db;

        snprintf(error, error_size, "cannot open %s: %s", path,
                 message != NULL ? message : (failed != NULL ? sqlite3_errmsg(failed) : "out of memory"));
        sqlite3_free(message);
        release(s);
        return -EIO;
    }
    chmod(path, 0600);

    rc = pthread_create(&s->writer, NULL, run_writer, s);
    if (rc != 0) {
        snprintf(error, error_size, "cannot start the connector log writer thread: %s",
                 strerror(rc));
        release(s);
        return -rc;
    }
    *out = &s->base;
    return 0;
}
