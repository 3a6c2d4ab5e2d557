/*
 * Whether wharfd may run the code in a plugin file: the file and the
 * directory it is in must be writable by no one but their owner, and owned
 * by root or by the user wharfd runs as. Anyone else who could write to
 * them could replace the code that wharfd runs.
 */
#ifndef WHARF_CORE_PLUGIN_TRUST_H
#define WHARF_CORE_PLUGIN_TRUST_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Check the owner and mode in st of path, a plugin file or a plugins
 * directory (is_directory), against the user ID service_uid. Returns 0,
 * or -1 with a reason that names path, what is wrong and the command that
 * fixes it. */
int plugin_trust_check_entry(const char *path, const struct stat *st, int is_directory,
                             uid_t service_uid, char *reason, size_t reason_size);

/* Check the plugin file at path (st is its stat(), so a symbolic link is
 * followed), the directory that path is in and, for a symbolic link, the
 * directory of the file it resolves to, against the effective user ID.
 * Returns 0, or -1 with a reason as above.
 * NOTE: the directories above those are not checked. */
int plugin_trust_check_file(const char *path, const struct stat *st, char *reason,
                            size_t reason_size);

#endif
