/*
 * Permissions of the data directory, which contains destination credentials
 * and personal data: the directory gets mode 0700 and the files in it lose
 * every group and other permission bit.
 */
#ifndef WHARF_CORE_DATA_DIR_H
#define WHARF_CORE_DATA_DIR_H

#include <stddef.h>

/* Create the directory at path with mode 0700 when it is missing. When it
 * exists with group or other permission bits, set it to 0700; do the same
 * for the regular files directly in it (to mode & 0700) and for its
 * subdirectories (to 0700). Symbolic links are left alone. Each change is
 * logged as a warning naming the path and the old mode. Returns 0, or a
 * negative errno value with a message naming the path and the fix when the
 * directory cannot be created or a mode cannot be changed. */
int data_dir_secure(const char *path, char *error, size_t error_size);

#endif
