#include "data_dir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define GROUP_AND_OTHER_BITS (S_IRWXG | S_IRWXO)

/* Take the group and other bits off one entry of the directory. */
static int secure_entry(const char *directory, const char *name, char *error,
                        size_t error_size)
{
    char path[PATH_MAX];
    struct stat st;
    mode_t new_mode;

    if (snprintf(path, sizeof(path), "%s/%s", directory, name) >= (int)sizeof(path))
        return 0;
    if (lstat(path, &st) != 0)
        return 0; /* removed since readdir(), so nothing to protect */
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return 0;
    if ((st.st_mode & GROUP_AND_OTHER_BITS) == 0)
        return 0;

    new_mode = S_ISDIR(st.st_mode) ? 0700 : (st.st_mode & 0700);
    if (chmod(path, new_mode) != 0) {
        int rc = -errno;

        snprintf(error, error_size,
                 "%s in the data directory has mode %04o, which lets other users read "
                 "it, and setting %04o failed: %s; run chmod %04o %s",
                 path, (unsigned)(st.st_mode & 07777), (unsigned)new_mode, strerror(errno),
                 (unsigned)new_mode, path);
        return rc;
    }
    log_warn("%s had mode %04o, which lets other users read it; changed it to %04o", path,
             (unsigned)(st.st_mode & 07777), (unsigned)new_mode);
    return 0;
}

int data_dir_secure(const char *path, char *error, size_t error_size)
{
    struct stat st;
    struct dirent *entry;
    DIR *directory;
    int rc = 0;

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(error, error_size, "cannot create data directory %s: %s", path,
                 strerror(errno));
        return rc;
    }
    if (stat(path, &st) != 0) {
        rc = -errno;
        snprintf(error, error_size, "cannot read data directory %s: %s", path, strerror(errno));
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(error, error_size,
                 "data directory %s is not a directory; point --data-dir at a directory",
                 path);
        return -ENOTDIR;
    }
    if ((st.st_mode & GROUP_AND_OTHER_BITS) != 0) {
        if (chmod(path, 0700) != 0) {
            rc = -errno;
            snprintf(error, error_size,
                     "data directory %s has mode %04o, which lets other users into it, and "
                     "setting 0700 failed: %s; run chmod 700 %s",
                     path, (unsigned)(st.st_mode & 07777), strerror(errno), path);
            return rc;
        }
        log_warn("data directory %s had mode %04o, which lets other users into it; changed "
                 "it to 0700",
                 path, (unsigned)(st.st_mode & 07777));
    }

    directory = opendir(path);
    if (directory == NULL) {
        rc = -errno;
        snprintf(error, error_size, "cannot list data directory %s: %s", path, strerror(errno));
        return rc;
    }
    while (rc == 0 && (entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        rc = secure_entry(path, entry->d_name, error, error_size);
    }
    closedir(directory);
    return rc;
}
