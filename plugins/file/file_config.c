#include "file_plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wharf/sdk/settings.h"

#define MIB (1024ull * 1024ull)

/* Maximum length of the directory path in bytes; the file name needs the
 * rest of PATH_MAX. */
#define DIRECTORY_MAX 3000
#define PREFIX_MAX 64

static int read_range(const struct json_object *settings, const char *name,
                      int64_t default_value, int64_t min, int64_t max, uint64_t *value,
                      const char *unit, char *error, size_t error_size)
{
    int64_t read = default_value;
    int rc = wharf_settings_integer(settings, name, &read);

    if (rc != 0 && rc != -ENOENT) {
        wharf_settings_format_error(error, error_size, settings, name, rc,
                                    WHARF_SETTING_INTEGER);
        return rc;
    }
    if (read < min || read > max) {
        snprintf(error, error_size,
                 "setting \"%s\" must be between %lld and %lld %s, got %lld; "
                 "set it within that range",
                 name, (long long)min, (long long)max, unit, (long long)read);
        return -EINVAL;
    }
    *value = (uint64_t)read;
    return 0;
}

static int read_directory(const struct json_object *settings, file_config *config,
                          char *error, size_t error_size)
{
    const char *directory = NULL;
    size_t length;
    int rc = wharf_settings_string(settings, "directory", &directory);

    if (rc != 0) {
        wharf_settings_format_error(error, error_size, settings, "directory", rc,
                                    WHARF_SETTING_STRING);
        return rc;
    }
    length = strlen(directory);
    if (directory[0] != '/') {
        snprintf(error, error_size,
                 "setting \"directory\" must be an absolute path, got \"%.200s\"; "
                 "give the full path, such as /var/lib/wharf/export",
                 directory);
        return -EINVAL;
    }
    if (length > DIRECTORY_MAX) {
        snprintf(error, error_size,
                 "setting \"directory\" is %zu bytes long, more than %d; use a shorter path",
                 length, DIRECTORY_MAX);
        return -EINVAL;
    }

    /* Keep one path form: no trailing slash, except for "/" itself. */
    while (length > 1 && directory[length - 1] == '/')
        length--;
    config->directory = strndup(directory, length);
    return config->directory == NULL ? -ENOMEM : 0;
}

static int is_prefix_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

static int read_prefix(const struct json_object *settings, file_config *config, char *error,
                       size_t error_size)
{
    const char *prefix = "wharf";
    size_t length;
    int rc = wharf_settings_string(settings, "file_prefix", &prefix);

    if (rc != 0 && rc != -ENOENT) {
        wharf_settings_format_error(error, error_size, settings, "file_prefix", rc,
                                    WHARF_SETTING_STRING);
        return rc;
    }
    length = strlen(prefix);
    if (length == 0 || length > PREFIX_MAX || prefix[0] == '.') {
        snprintf(error, error_size,
                 "setting \"file_prefix\" must be 1 to %d characters and not start with "
                 "\".\", got \"%.80s\"",
                 PREFIX_MAX, prefix);
        return -EINVAL;
    }
    for (size_t i = 0; i < length; i++) {
        if (!is_prefix_char(prefix[i])) {
            snprintf(error, error_size,
                     "setting \"file_prefix\" may hold only letters, digits, \"_\", \"-\" "
                     "and \".\", got \"%.80s\"",
                     prefix);
            return -EINVAL;
        }
    }
    config->file_prefix = strdup(prefix);
    return config->file_prefix == NULL ? -ENOMEM : 0;
}

int file_config_read(const struct json_object *settings, file_config *config, char *error,
                     size_t error_size)
{
    int rc;

    memset(config, 0, sizeof(*config));

    rc = read_directory(settings, config, error, error_size);
    if (rc == 0)
        rc = read_prefix(settings, config, error, error_size);
    if (rc == 0)
        rc = read_range(settings, "max_file_bytes", (int64_t)(100 * MIB), 1024,
                        (int64_t)(1024 * 1024 * MIB), &config->max_file_bytes, "bytes", error,
                        error_size);
    if (rc == 0)
        rc = read_range(settings, "max_file_age_seconds", 3600, 1, 7 * 24 * 3600,
                        &config->max_file_age_seconds, "seconds", error, error_size);
    if (rc == 0)
        rc = read_range(settings, "max_record_bytes", (int64_t)MIB, 256,
                        (int64_t)(1024 * MIB), &config->max_record_bytes, "bytes", error,
                        error_size);
    if (rc == 0 && config->max_record_bytes > config->max_file_bytes) {
        snprintf(error, error_size,
                 "setting \"max_record_bytes\" (%llu) must not exceed \"max_file_bytes\" "
                 "(%llu); lower it or raise max_file_bytes",
                 (unsigned long long)config->max_record_bytes,
                 (unsigned long long)config->max_file_bytes);
        rc = -EINVAL;
    }

    if (rc == -ENOMEM)
        snprintf(error, error_size, "out of memory while reading the settings");
    if (rc != 0)
        file_config_free(config);
    return rc;
}

void file_config_free(file_config *config)
{
    free(config->directory);
    free(config->file_prefix);
    memset(config, 0, sizeof(*config));
}

int file_directory_check(const file_config *config, char *reason, size_t reason_size)
{
    struct stat status;

    if (stat(config->directory, &status) != 0) {
        int error = errno;

        if (error == ENOENT)
            snprintf(reason, reason_size,
                     "directory \"%s\" does not exist; create it or change setting "
                     "\"directory\"",
                     config->directory);
        else
            snprintf(reason, reason_size,
                     "directory \"%s\" cannot be read: %s; check its permissions or change "
                     "setting \"directory\"",
                     config->directory, strerror(error));
        return -error;
    }
    if (!S_ISDIR(status.st_mode)) {
        snprintf(reason, reason_size,
                 "\"%s\" is not a directory; change setting \"directory\" to a directory",
                 config->directory);
        return -ENOTDIR;
    }
    if (access(config->directory, W_OK | X_OK) != 0) {
        int error = errno;

        snprintf(reason, reason_size,
                 "directory \"%s\" is not writable by wharfd: %s; give wharfd's user write "
                 "permission or change setting \"directory\"",
                 config->directory, strerror(error));
        return -error;
    }
    return 0;
}

int file_directory_probe(const file_config *config, char *reason, size_t reason_size)
{
    char path[DIRECTORY_MAX + 64];
    int fd;
    int rc = file_directory_check(config, reason, reason_size);

    if (rc != 0)
        return rc;

    snprintf(path, sizeof(path), "%s/.wharf-probe-XXXXXX", config->directory);
    fd = mkstemp(path);
    if (fd < 0) {
        rc = -errno;
        snprintf(reason, reason_size,
                 "cannot create a file in directory \"%s\": %s; check its permissions and "
                 "free space, or change setting \"directory\"",
                 config->directory, strerror(-rc));
        return rc;
    }
    if (write(fd, "{}\n", 3) != 3 || fsync(fd) != 0) {
        rc = errno != 0 ? -errno : -EIO;
        snprintf(reason, reason_size, "cannot write to a file in directory \"%s\": %s",
                 config->directory, strerror(-rc));
    }
    close(fd);
    unlink(path);
    return rc;
}
