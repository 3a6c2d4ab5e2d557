#include "plugin_trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plugin_trust_check_entry(const char *path, const struct stat *st, int is_directory,
                             uid_t service_uid, char *reason, size_t reason_size)
{
    const char *kind = is_directory ? "plugins directory" : "file";
    const char *consequence = is_directory
                                  ? "could put code into it that wharfd runs"
                                  : "could replace the code wharfd runs";
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if ((st->st_mode & S_IWOTH) != 0) {
        snprintf(reason, reason_size,
                 "%s %s is writable by every user (mode %04o), so anyone %s; run "
                 "chmod go-w %s",
                 kind, path, mode, consequence, path);
        return -1;
    }
    if ((st->st_mode & S_IWGRP) != 0) {
        snprintf(reason, reason_size,
                 "%s %s is writable by its group (mode %04o), so every member of group "
                 "ID %u %s; run chmod g-w %s",
                 kind, path, mode, (unsigned)st->st_gid, consequence, path);
        return -1;
    }
    if (st->st_uid != 0 && st->st_uid != service_uid) {
        snprintf(reason, reason_size,
                 "%s %s is owned by user ID %u, which is neither root nor the user wharfd "
                 "runs as (ID %u), so that user %s; run chown %u %s as root",
                 kind, path, (unsigned)st->st_uid, (unsigned)service_uid, consequence,
                 (unsigned)service_uid, path);
        return -1;
    }
    return 0;
}

/* Check the directory that file_path is in. */
static int check_parent(const char *file_path, uid_t service_uid, char *reason,
                        size_t reason_size)
{
    char directory[PATH_MAX];
    const char *slash = strrchr(file_path, '/');
    struct stat st;

    if (slash == NULL) {
        snprintf(directory, sizeof(directory), ".");
    } else if (slash == file_path) {
        snprintf(directory, sizeof(directory), "/");
    } else if ((size_t)(slash - file_path) < sizeof(directory)) {
        memcpy(directory, file_path, (size_t)(slash - file_path));
        directory[slash - file_path] = '\0';
    } else {
        snprintf(reason, reason_size, "path %s is too long", file_path);
        return -1;
    }

    if (stat(directory, &st) != 0) {
        snprintf(reason, reason_size, "cannot stat plugins directory %s: %s", directory,
                 strerror(errno));
        return -1;
    }
    return plugin_trust_check_entry(directory, &st, 1, service_uid, reason, reason_size);
}

int plugin_trust_check_file(const char *path, const struct stat *st, char *reason,
                            size_t reason_size)
{
    uid_t service_uid = geteuid();
    char resolved[PATH_MAX];
    struct stat link;

    if (plugin_trust_check_entry(path, st, 0, service_uid, reason, reason_size) != 0)
        return -1;
    if (check_parent(path, service_uid, reason, reason_size) != 0)
        return -1;

    /* A link's target can sit in a directory that others can write to. */
    if (lstat(path, &link) == 0 && S_ISLNK(link.st_mode)) {
        if (realpath(path, resolved) == NULL) {
            snprintf(reason, reason_size, "cannot resolve symbolic link %s: %s", path,
                     strerror(errno));
            return -1;
        }
        if (check_parent(resolved, service_uid, reason, reason_size) != 0)
            return -1;
    }
    return 0;
}
