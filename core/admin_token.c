#include "admin_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "write_key.h"

/* Rejected admin requests are logged at most once per this interval. */
#define REJECTION_LOG_INTERVAL_MS 10000

#define HOW_TO_SEND                                                                    \
    "send \"Authorization: Bearer TOKEN\" with one of the admin tokens wharfd was "   \
    "started with (wharfctl: --token or WHARF_ADMIN_TOKEN)"

/* RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
 * / "+" / "/" ) *"=". */
static bool is_token_character(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int admin_token_validate(const char *token, const char *source, char *error,
                         size_t error_size)
{
    size_t length = strlen(token);
    size_t end = length;

    if (length == 0) {
        snprintf(error, error_size, "%s: the admin token is empty; use a random string of "
                 "at least %d characters, such as the output of `openssl rand -hex 32`",
                 source, ADMIN_TOKEN_MIN_LENGTH);
        return -EINVAL;
    }
    while (end > 0 && token[end - 1] == '=')
        end--;
    for (size_t i = 0; i < end; i++) {
        if (!is_token_character(token[i])) {
            snprintf(error, error_size,
                     "%s: the admin token has a character at position %zu that a bearer "
                     "token cannot contain; use only letters, digits and - . _ ~ + /, "
                     "with optional '=' at the end",
                     source, i + 1);
            return -EINVAL;
        }
    }
    if (end == 0) {
        snprintf(error, error_size,
                 "%s: the admin token consists of '=' only; use a random string such "
                 "as the output of `openssl rand -hex 32`",
                 source);
        return -EINVAL;
    }
    if (length < ADMIN_TOKEN_MIN_LENGTH || length > ADMIN_TOKEN_MAX_LENGTH) {
        snprintf(error, error_size,
                 "%s: the admin token is %zu characters long; use %d to %d characters, "
                 "such as the output of `openssl rand -hex 32`",
                 source, length, ADMIN_TOKEN_MIN_LENGTH, ADMIN_TOKEN_MAX_LENGTH);
        return -EINVAL;
    }
    return 0;
}

int admin_token_add(admin_token_set *set, const char *token, const char *source,
                    char *error, size_t error_size)
{
    char **tokens;
    char *copy;
    int rc = admin_token_validate(token, source, error, error_size);

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->tokens[i], token) == 0)
            return 0;
    }

    copy = strdup(token);
    tokens = copy != NULL ? realloc(set->tokens, (set->count + 1) * sizeof(*tokens)) : NULL;
    if (tokens == NULL) {
        free(copy);
        snprintf(error, error_size, "%s: out of memory storing the admin token", source);
        return -ENOMEM;
    }
    tokens[set->count++] = copy;
    set->tokens = tokens;
    return 0;
}

static char *trim(char *text)
{
    char *end;

    while (*text == ' ' || *text == '\t')
        text++;
    end = text + strlen(text);
    while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return text;
}

/* Reject a token file that others could read or change. Group read is
 * allowed, so that a file owned by root and the service's group works. */
static int check_file_mode(const char *path, const struct stat *st, char *error,
                           size_t error_size)
{
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if (!S_ISREG(st->st_mode)) {
        snprintf(error, error_size,
                 "admin token file %s is not a regular file; point admin_token_file at "
                 "a file that holds one token per line",
                 path);
        return -EINVAL;
    }
    if ((st->st_mode & (S_IROTH | S_IWOTH)) != 0) {
        snprintf(error, error_size,
                 "admin token file %s is %s by every user (mode %04o); run chmod 600 %s",
                 path, (st->st_mode & S_IWOTH) ? "writable" : "readable", mode, path);
        return -EPERM;
    }
    if ((st->st_mode & S_IWGRP) != 0) {
        snprintf(error, error_size,
                 "admin token file %s is writable by its group (mode %04o); run chmod "
                 "g-w %s",
                 path, mode, path);
        return -EPERM;
    }
    if (st->st_size > ADMIN_TOKEN_FILE_MAX_SIZE) {
        snprintf(error, error_size,
                 "admin token file %s is %lld bytes, more than the %d bytes a token file "
                 "may have; put only tokens in it, one per line",
                 path, (long long)st->st_size, ADMIN_TOKEN_FILE_MAX_SIZE);
        return -EFBIG;
    }
    return 0;
}

/* Read the whole file (at most ADMIN_TOKEN_FILE_MAX_SIZE bytes) into a new
 * NUL-terminated buffer, checking the mode of the file that was opened. */
static int read_token_file(const char *path, char **text, char *error, size_t error_size)
{
    struct stat st;
    char *buffer = NULL;
    size_t length = 0;
    int fd;
    int rc = 0;

    *text = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        snprintf(error, error_size, "cannot read admin token file %s: %s", path,
                 strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(error, error_size, "cannot read admin token file %s: %s", path,
                 strerror(errno));
        goto out;
    }
    rc = check_file_mode(path, &st, error, error_size);
    if (rc != 0)
        goto out;

    buffer = malloc(ADMIN_TOKEN_FILE_MAX_SIZE + 1);
    if (buffer == NULL) {
        rc = -ENOMEM;
        snprintf(error, error_size, "cannot read admin token file %s: out of memory", path);
        goto out;
    }
    /* The size may have changed since fstat(), so the read is bounded too. */
    while (length <= ADMIN_TOKEN_FILE_MAX_SIZE) {
        ssize_t got = read(fd, buffer + length, ADMIN_TOKEN_FILE_MAX_SIZE + 1 - length);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            snprintf(error, error_size, "cannot read admin token file %s: %s", path,
                     strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        length += (size_t)got;
    }
    if (length > ADMIN_TOKEN_FILE_MAX_SIZE) {
        rc = -EFBIG;
        snprintf(error, error_size,
                 "admin token file %s is larger than %d bytes; put only tokens in it, one "
                 "per line",
                 path, ADMIN_TOKEN_FILE_MAX_SIZE);
        goto out;
    }
    buffer[length] = '\0';
    if (memchr(buffer, '\0', length) != NULL) {
        rc = -EINVAL;
        snprintf(error, error_size,
                 "admin token file %s contains a NUL byte; it must be a text file with one "
                 "token per line",
                 path);
        goto out;
    }
    *text = buffer;
    buffer = NULL;

out:
    if (buffer != NULL) {
        explicit_bzero(buffer, length);
        free(buffer);
    }
    close(fd);
    return rc;
}

int admin_token_load_file(admin_token_set *set, const char *path, char *error,
                          size_t error_size)
{
    char *text;
    char *line;
    char *next;
    size_t total;
    unsigned line_number = 0;
    size_t found = 0;
    int rc = read_token_file(path, &text, error, error_size);

    if (rc != 0)
        return rc;
    total = strlen(text);

    for (line = text; line != NULL && rc == 0; line = next) {
        char source[600];
        char *token;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        line_number++;
        token = trim(line);
        if (token[0] == '\0' || token[0] == '#')
            continue;

        snprintf(source, sizeof(source), "admin token file %s:%u", path, line_number);
        rc = admin_token_add(set, token, source, error, error_size);
        if (rc == 0)
            found++;
    }

    explicit_bzero(text, total);
    free(text);
    if (rc == 0 && found == 0) {
        snprintf(error, error_size,
                 "admin token file %s holds no token; write one token per line, such as "
                 "the output of `openssl rand -hex 32`",
                 path);
        rc = -EINVAL;
    }
    return rc;
}

bool admin_token_required(const admin_token_set *set)
{
    return set->count > 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int admin_token_check(const admin_token_set *set, const char *authorization,
                      bool *invalid_token, char *error, size_t error_size)
{
    const char *token;
    size_t token_size;
    bool matches = false;

    *invalid_token = false;
    if (!admin_token_required(set))
        return 0;

    if (authorization == NULL) {
        snprintf(error, error_size, "missing admin token: " HOW_TO_SEND);
        return -EACCES;
    }

    /* RFC 9110 section 11.1: the scheme name is case-insensitive. */
    while (is_space(*authorization))
        authorization++;
    if (strncasecmp(authorization, "Bearer", 6) != 0 ||
        (authorization[6] != '\0' && !is_space(authorization[6]))) {
        snprintf(error, error_size,
                 "the Authorization header does not use the Bearer scheme (an ingest "
                 "write key is not accepted here); " HOW_TO_SEND);
        return -EACCES;
    }
    token = authorization + 6;
    while (is_space(*token))
        token++;
    token_size = strlen(token);
    while (token_size > 0 && is_space(token[token_size - 1]))
        token_size--;
    if (token_size == 0) {
        snprintf(error, error_size,
                 "missing admin token: the Authorization header has no token after "
                 "Bearer; " HOW_TO_SEND);
        return -EACCES;
    }

    /* Every token is compared, so the time taken does not tell which one
     * came close. */
    for (size_t i = 0; i < set->count; i++)
        matches |= write_key_equal(set->tokens[i], token, token_size);
    if (matches)
        return 0;

    *invalid_token = true;
    snprintf(error, error_size,
             "invalid admin token: the token sent matches none of the admin tokens "
             "wharfd was started with (--admin-token, admin_token, admin_token_file); "
             HOW_TO_SEND);
    return -EACCES;
}

unsigned admin_token_count_rejection(admin_token_set *set, uint64_t now_ms)
{
    unsigned count;

    set->rejections_not_logged++;
    if (set->rejection_logged_at_ms != 0 &&
        now_ms - set->rejection_logged_at_ms < REJECTION_LOG_INTERVAL_MS)
        return 0;

    count = set->rejections_not_logged;
    set->rejections_not_logged = 0;
    set->rejection_logged_at_ms = now_ms != 0 ? now_ms : 1;
    return count;
}

void admin_token_set_free(admin_token_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        explicit_bzero(set->tokens[i], strlen(set->tokens[i]));
        free(set->tokens[i]);
    }
    free(set->tokens);
    memset(set, 0, sizeof(*set));
}
