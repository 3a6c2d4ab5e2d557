/*
 * The file connector: appends messages as NDJSON (one JSON message per
 * line) to files in one directory, for data warehouses and audit trails.
 *
 * The open file is named PREFIX-CONNECTOR-TIME-SEQUENCE.ndjson.part and is
 * renamed to .ndjson when it is rotated (by size or age) or when the
 * connector stops, so a reader that takes only *.ndjson files never sees a
 * file that is still growing. A message counts as delivered only after its
 * line and the file's directory entry are on disk (fsync), so its send is
 * blocking and runs on wharfd's worker threads.
 */
#ifndef WHARF_FILE_PLUGIN_H
#define WHARF_FILE_PLUGIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "wharf/plugin.h"

#define FILE_PLUGIN_MAX_BATCH_SIZE 1000

/* Settings after validation. */
typedef struct file_config {
    char *directory;
    char *file_prefix;
    uint64_t max_file_bytes;
    uint64_t max_file_age_seconds;
    uint64_t max_record_bytes;
} file_config;

/* The file being appended to; fd is -1 when none is open. */
typedef struct file_output {
    int fd;
    char *part_path;  /* DIRECTORY/NAME.ndjson.part */
    char *final_path; /* DIRECTORY/NAME.ndjson */
    uint64_t size;    /* bytes of whole lines written */
    time_t opened_at; /* CLOCK_MONOTONIC seconds */
} file_output;

/* One instance per connector. Sends of one connector may run on several
 * worker threads at once, so everything below lock is guarded by it. */
typedef struct file_plugin {
    const wharf_host *host;
    wharf_connector *connector;
    file_config config;
    char *connector_id;

    pthread_mutex_t lock;
    file_output output;
    uint64_t sequence;   /* last sequence number used in a file name */
    int leftovers_done;  /* leftover .part files of earlier runs were finalised */
} file_plugin;

/* Read and validate the settings. Returns 0, or -EINVAL / -ENOMEM with an
 * operator-facing message naming the setting in error. */
int file_config_read(const struct json_object *settings, file_config *config,
                     char *error, size_t error_size);
void file_config_free(file_config *config);

/* Check that config's directory exists and is a directory wharfd can
 * write to. Returns 0, or a negative errno with a message in reason. */
int file_directory_check(const file_config *config, char *reason, size_t reason_size);

/* Create, write, fsync and remove a probe file in the directory. Returns 0
 * or a negative errno with a message in reason. */
int file_directory_probe(const file_config *config, char *reason, size_t reason_size);

/* The writer. Callers hold plugin->lock. Functions return 0 or a negative
 * errno and write a reason naming the file and the setting to check. */

/* Rename .part files that an earlier run of this connector left behind
 * (cut after their last complete line) to .ndjson. Files that another
 * instance still has open are left alone. */
int file_output_finish_leftovers(file_plugin *plugin, char *reason, size_t reason_size);

/* Close the open file without renaming it when someone else deleted or
 * renamed it, so that no line goes into a file nobody can find. */
void file_output_drop_if_gone(file_plugin *plugin);

/* Non-zero when the open file must be rotated before bytes more bytes go
 * in: it is older than max_file_age_seconds, or it holds lines and would
 * grow past max_file_bytes. */
int file_output_is_due(const file_plugin *plugin, uint64_t bytes);

/* Create a new file (and fsync the directory) unless one is open. */
int file_output_open(file_plugin *plugin, char *reason, size_t reason_size);

/* Append whole lines to the open file. On failure the file is cut back to
 * its previous size, so it holds only whole lines. */
int file_output_append(file_plugin *plugin, const char *data, size_t size, char *reason,
                       size_t reason_size);

/* fsync the open file. */
int file_output_sync(file_plugin *plugin, char *reason, size_t reason_size);

/* fsync, close and rename the open file to its final name, then fsync the
 * directory. Does nothing when no file is open. */
int file_output_rotate(file_plugin *plugin, char *reason, size_t reason_size);

void file_send(void *instance, wharf_batch *batch);

#endif /* WHARF_FILE_PLUGIN_H */
