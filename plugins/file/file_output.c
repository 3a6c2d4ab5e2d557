/*
 * The open NDJSON file of a file connector: creating it, appending whole
 * lines, fsync, rotation, and finishing files that an earlier run left
 * open. Each open file holds an exclusive flock(), so a second instance of
 * the same connector (after a settings change) never renames a file that
 * the first one still writes.
 */
#include "file_plugin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wharf/sdk/buffer.h"

static const char part_suffix[] = ".part";

static time_t monotonic_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec;
}

static int sync_directory(const char *directory, char *reason, size_t reason_size)
{
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0 || fsync(fd) != 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        snprintf(reason, reason_size, "fsync of directory \"%s\" failed: %s", directory,
                 strerror(-rc));
    return rc;
}

static void output_forget(file_output *output)
{
    free(output->part_path);
    free(output->final_path);
    memset(output, 0, sizeof(*output));
    output->fd = -1;
}

static int write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t written = write(fd, data, size);

        if (written < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

/* Build "DIRECTORY/PREFIX-CONNECTOR-YYYYMMDDTHHMMSSZ-SEQUENCE.ndjson". */
static char *final_path_for(const file_plugin *plugin, uint64_t sequence)
{
    wharf_buffer path = WHARF_BUFFER_INIT;
    char stamp[32];
    time_t now = time(NULL);
    struct tm utc;

    gmtime_r(&now, &utc);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
    if (wharf_buffer_append_format(&path, "%s/%s-%s-%s-%06llu.ndjson",
                                   plugin->config.directory, plugin->config.file_prefix,
                                   plugin->connector_id, stamp,
                                   (unsigned long long)sequence) != 0) {
        wharf_buffer_free(&path);
        return NULL;
    }
    return wharf_buffer_detach(&path, NULL);
}

int file_output_open(file_plugin *plugin, char *reason, size_t reason_size)
{
    file_output *output = &plugin->output;
    int rc;

    if (output->fd >= 0)
        return 0;

    /* The sequence makes names unique within a second. The checks below
     * guard against files of an earlier run that have the same name. */
    for (;;) {
        output->final_path = final_path_for(plugin, ++plugin->sequence);
        if (output->final_path == NULL ||
            asprintf(&output->part_path, "%s%s", output->final_path, part_suffix) < 0) {
            output->part_path = NULL;
            output_forget(output);
            snprintf(reason, reason_size, "out of memory while naming the next file");
            return -ENOMEM;
        }
        /* A finished file of that name (from an earlier run in the same
         * second) would be replaced by the rename at rotation. */
        if (access(output->final_path, F_OK) == 0) {
            output_forget(output);
            continue;
        }
        output->fd = open(output->part_path,
                          O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (output->fd >= 0 || errno != EEXIST)
            break;
        output_forget(output);
    }

    if (output->fd < 0) {
        rc = -errno;
        snprintf(reason, reason_size,
                 "cannot create file \"%s\": %s; check that setting \"directory\" names a "
                 "writable directory with free space",
                 output->part_path, strerror(-rc));
        output_forget(output);
        return rc;
    }
    /* Nobody else has the new file yet, so the lock cannot be taken. */
    flock(output->fd, LOCK_EX | LOCK_NB);
    output->size = 0;
    output->opened_at = monotonic_seconds();

    /* The new name must survive a crash before lines in it count as delivered. */
    rc = sync_directory(plugin->config.directory, reason, reason_size);
    if (rc != 0) {
        close(output->fd);
        unlink(output->part_path);
        output_forget(output);
    }
    return rc;
}

int file_output_sync(file_plugin *plugin, char *reason, size_t reason_size)
{
    file_output *output = &plugin->output;

    if (output->fd < 0)
        return 0;
    if (fsync(output->fd) != 0) {
        int rc = -errno;

        snprintf(reason, reason_size, "fsync of file \"%s\" failed: %s", output->part_path,
                 strerror(-rc));
        return rc;
    }
    return 0;
}

int file_output_rotate(file_plugin *plugin, char *reason, size_t reason_size)
{
    file_output *output = &plugin->output;
    int rc;

    if (output->fd < 0)
        return 0;

    rc = file_output_sync(plugin, reason, reason_size);
    close(output->fd);
    output->fd = -1;
    if (rc == 0 && output->size == 0) {
        /* An empty file has no lines for a reader, so it is removed. */
        unlink(output->part_path);
    } else if (rc == 0 && rename(output->part_path, output->final_path) != 0) {
        rc = -errno;
        snprintf(reason, reason_size, "cannot rename \"%s\" to \"%s\": %s", output->part_path,
                 output->final_path, strerror(-rc));
    }
    if (rc == 0)
        rc = sync_directory(plugin->config.directory, reason, reason_size);
    output_forget(output);
    return rc;
}

/* Non-zero when the open file was deleted or renamed by someone else:
 * lines written to it would be lost with it. */
static int output_gone(const file_output *output)
{
    struct stat opened;
    struct stat named;

    if (fstat(output->fd, &opened) != 0 || opened.st_nlink == 0)
        return 1;
    if (stat(output->part_path, &named) != 0)
        return 1;
    return opened.st_dev != named.st_dev || opened.st_ino != named.st_ino;
}

void file_output_drop_if_gone(file_plugin *plugin)
{
    file_output *output = &plugin->output;

    if (output->fd < 0 || !output_gone(output))
        return;
    plugin->host->log(plugin->connector, WHARF_LOG_WARN,
                      "file %s was removed or renamed while open; starting a new file",
                      output->part_path);
    close(output->fd);
    output_forget(output);
}

int file_output_is_due(const file_plugin *plugin, uint64_t bytes)
{
    const file_output *output = &plugin->output;
    const file_config *config = &plugin->config;

    if (output->fd < 0)
        return 0;
    if (monotonic_seconds() - output->opened_at >= (time_t)config->max_file_age_seconds)
        return 1;
    return output->size > 0 && output->size + bytes > config->max_file_bytes;
}

int file_output_append(file_plugin *plugin, const char *data, size_t size, char *reason,
                       size_t reason_size)
{
    file_output *output = &plugin->output;
    int rc = write_all(output->fd, data, size);

    if (rc == 0) {
        output->size += size;
        return 0;
    }

    snprintf(reason, reason_size, "cannot write to file \"%s\": %s", output->part_path,
             strerror(-rc));
    /* Cut off a partial line, so the file keeps only whole lines. */
    if (ftruncate(output->fd, (off_t)output->size) != 0)
        plugin->host->log(plugin->connector, WHARF_LOG_ERROR,
                          "cannot cut file %s back to %llu bytes after a failed write: %s",
                          output->part_path, (unsigned long long)output->size,
                          strerror(errno));
    return rc;
}

/* ---- leftovers of an earlier run -------------------------------------- */

/* Offset just after the last newline of the file, or 0 when it has none. */
static off_t last_line_end(int fd, off_t size)
{
    char block[4096];
    off_t end = size;

    while (end > 0) {
        size_t length = end > (off_t)sizeof(block) ? sizeof(block) : (size_t)end;
        ssize_t got = pread(fd, block, length, end - (off_t)length);

        if (got != (ssize_t)length)
            return 0;
        for (size_t i = length; i > 0; i--) {
            if (block[i - 1] == '\n')
                return end - (off_t)length + (off_t)i;
        }
        end -= (off_t)length;
    }
    return 0;
}

static int finish_leftover(file_plugin *plugin, const char *name)
{
    char *part_path = NULL;
    char *final_path = NULL;
    struct stat status;
    off_t keep;
    int fd;
    int rc = 0;

    if (asprintf(&part_path, "%s/%s", plugin->config.directory, name) < 0)
        return -ENOMEM;
    fd = open(part_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    /* Another instance of this connector still writes it. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        goto out;

    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        rc = -EINVAL;
        goto out;
    }
    keep = last_line_end(fd, status.st_size);
    if (keep < status.st_size && ftruncate(fd, keep) != 0) {
        rc = -errno;
        goto out;
    }
    if (keep == 0) {
        unlink(part_path);
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = -errno;
        goto out;
    }
    final_path = strndup(part_path, strlen(part_path) - strlen(part_suffix));
    if (final_path == NULL || rename(part_path, final_path) != 0)
        rc = final_path == NULL ? -ENOMEM : -errno;
    else
        plugin->host->log(plugin->connector, WHARF_LOG_INFO,
                          "finished file %s left open by an earlier run (%lld bytes kept)",
                          final_path, (long long)keep);

out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        plugin->host->log(plugin->connector, WHARF_LOG_WARN,
                          "cannot finish file %s left open by an earlier run: %s", part_path,
                          strerror(-rc));
    free(part_path);
    free(final_path);
    return rc;
}

static int is_leftover_name(const char *name, const char *own_prefix)
{
    static const char ending[] = ".ndjson.part";
    size_t length = strlen(name);
    size_t ending_length = sizeof(ending) - 1;

    return strncmp(name, own_prefix, strlen(own_prefix)) == 0 && length > ending_length &&
           strcmp(name + length - ending_length, ending) == 0;
}

int file_output_finish_leftovers(file_plugin *plugin, char *reason, size_t reason_size)
{
    char *own_prefix = NULL;
    struct dirent *entry;
    DIR *directory;
    int rc = 0;

    directory = opendir(plugin->config.directory);
    if (directory == NULL) {
        rc = -errno;
        snprintf(reason, reason_size, "cannot list directory \"%s\": %s",
                 plugin->config.directory, strerror(-rc));
        return rc;
    }
    if (asprintf(&own_prefix, "%s-%s-", plugin->config.file_prefix, plugin->connector_id) < 0) {
        closedir(directory);
        snprintf(reason, reason_size, "out of memory while listing the directory");
        return -ENOMEM;
    }

    while ((entry = readdir(directory)) != NULL) {
        if (is_leftover_name(entry->d_name, own_prefix))
            finish_leftover(plugin, entry->d_name);
    }
    closedir(directory);
    free(own_prefix);

    rc = sync_directory(plugin->config.directory, reason, reason_size);
    if (rc == 0)
        plugin->leftovers_done = 1;
    return rc;
}
