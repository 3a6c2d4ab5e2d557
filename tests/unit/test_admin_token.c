/* Unit tests of the admin API's bearer tokens (core/admin_token.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin_token.h"

#define TOKEN_A "0123456789abcdef0123456789abcdef"
#define TOKEN_B "Zm9vYmFyYmF6cXV4LWJhci1iYXo_~+/=="

/* Write text to a new file in a fresh temporary directory with mode, and
 * store its path. */
static void write_token_file(char *path, size_t size, const char *text, mode_t mode)
{
    char directory[] = "/tmp/wharf-admin-token-XXXXXX";
    FILE *file;

    assert_non_null(mkdtemp(directory));
    snprintf(path, size, "%s/tokens", directory);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void remove_token_file(const char *path)
{
    char directory[512];
    const char *slash = strrchr(path, '/');

    unlink(path);
    snprintf(directory, sizeof(directory), "%.*s", (int)(slash - path), path);
    rmdir(directory);
}

static void validate_rejects_bad_tokens(void **state)
{
    static const struct {
        const char *token;
        const char *expected;
    } cases[] = {
        {"", "is empty"},
        {"short-token", "is 11 characters long"},
        {"0123456789abcdef 0123", "position 17"},
        {"0123456789abcdef\n", "position 17"},
        {"0123456789abcdef\"", "position 17"},
        {"====================", "'=' only"},
        {"0123456789abcdef=0123", "position 17"},
    };
    char error[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        error[0] = '\0';
        assert_int_equal(admin_token_validate(cases[i].token, "--admin-token", error,
                                              sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, cases[i].expected));
        assert_non_null(strstr(error, "--admin-token"));
        /* No token of the table appears in its own message. */
        if (strlen(cases[i].token) >= 8)
            assert_null(strstr(error, cases[i].token));
    }
}

static void validate_accepts_bearer_syntax(void **state)
{
    char error[512] = "";
    char longest[ADMIN_TOKEN_MAX_LENGTH + 2];

    (void)state;
    assert_int_equal(admin_token_validate(TOKEN_A, "x", error, sizeof(error)), 0);
    assert_int_equal(admin_token_validate(TOKEN_B, "x", error, sizeof(error)), 0);

    memset(longest, 'a', ADMIN_TOKEN_MAX_LENGTH);
    longest[ADMIN_TOKEN_MAX_LENGTH] = '\0';
    assert_int_equal(admin_token_validate(longest, "x", error, sizeof(error)), 0);
    longest[ADMIN_TOKEN_MAX_LENGTH] = 'a';
    longest[ADMIN_TOKEN_MAX_LENGTH + 1] = '\0';
    assert_int_equal(admin_token_validate(longest, "x", error, sizeof(error)), -EINVAL);
    assert_non_null(strstr(error, "513 characters"));
}

static void empty_set_leaves_api_open(void **state)
{
    admin_token_set set = {0};
    char error[512] = "";
    bool invalid = true;

    (void)state;
    assert_false(admin_token_required(&set));
    assert_int_equal(admin_token_check(&set, NULL, &invalid, error, sizeof(error)), 0);
    assert_false(invalid);
    assert_int_equal(admin_token_check(&set, "Bearer whatever", &invalid, error, sizeof(error)),
                     0);
}

static void check_accepts_any_configured_token(void **state)
{
    admin_token_set set = {0};
    char error[512] = "";
    bool invalid = true;

    (void)state;
    assert_int_equal(admin_token_add(&set, TOKEN_A, "x", error, sizeof(error)), 0);
    assert_int_equal(admin_token_add(&set, TOKEN_B, "x", error, sizeof(error)), 0);
    assert_int_equal(admin_token_add(&set, TOKEN_A, "x", error, sizeof(error)), 0);
    assert_int_equal(set.count, 2);
    assert_true(admin_token_required(&set));

    assert_int_equal(admin_token_check(&set, "Bearer " TOKEN_A, &invalid, error, sizeof(error)),
                     0);
    assert_false(invalid);
    assert_int_equal(admin_token_check(&set, "Bearer " TOKEN_B, &invalid, error, sizeof(error)),
                     0);
    /* The scheme is case-insensitive and spaces around the token are ignored. */
    assert_int_equal(admin_token_check(&set, "  bearer   " TOKEN_A "  ", &invalid, error,
                                       sizeof(error)),
                     0);
    admin_token_set_free(&set);
    assert_int_equal(set.count, 0);
    assert_null(set.tokens);
}

static void check_explains_each_failure(void **state)
{
    static const struct {
        const char *authorization;
        bool invalid_token;
        const char *expected;
    } cases[] = {
        {NULL, false, "missing admin token"},
        {"", false, "does not use the Bearer scheme"},
        {"Basic MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY6", false,
         "does not use the Bearer scheme"},
        {"Bearer", false, "no token after Bearer"},
        {"Bearer    ", false, "no token after Bearer"},
        {"BearerX " TOKEN_A, false, "does not use the Bearer scheme"},
        {"Bearer wrong-token-wrong-token-wrong", true, "invalid admin token"},
        {"Bearer " TOKEN_A "0", true, "invalid admin token"},
        {"Bearer 0123456789abcdef0123456789abcdeF", true, "invalid admin token"},
        {"Bearer 0123456789abcdef", true, "invalid admin token"},
    };
    admin_token_set set = {0};
    char error[512];

    (void)state;
    assert_int_equal(admin_token_add(&set, TOKEN_A, "x", error, sizeof(error)), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool invalid = !cases[i].invalid_token;

        error[0] = '\0';
        assert_int_equal(admin_token_check(&set, cases[i].authorization, &invalid, error,
                                           sizeof(error)),
                         -EACCES);
        assert_int_equal(invalid, cases[i].invalid_token);
        assert_non_null(strstr(error, cases[i].expected));
        assert_non_null(strstr(error, "Authorization: Bearer TOKEN"));
        /* Neither the configured token nor the one sent is echoed. */
        assert_null(strstr(error, TOKEN_A));
        assert_null(strstr(error, "wrong-token"));
        assert_null(strstr(error, "0123456789abcdef"));
    }
    admin_token_set_free(&set);
}

static void file_tokens_loaded(void **state)
{
    admin_token_set set = {0};
    char path[512];
    char error[512] = "";
    bool invalid = false;

    (void)state;
    write_token_file(path, sizeof(path),
                     "# rotated 2026-12-01\n"
                     "\n"
                     "  " TOKEN_A "  \r\n"
                     TOKEN_B,
                     0640);
    assert_int_equal(admin_token_load_file(&set, path, error, sizeof(error)), 0);
    assert_int_equal(set.count, 2);
    assert_int_equal(admin_token_check(&set, "Bearer " TOKEN_A, &invalid, error, sizeof(error)),
                     0);
    assert_int_equal(admin_token_check(&set, "Bearer " TOKEN_B, &invalid, error, sizeof(error)),
                     0);
    admin_token_set_free(&set);
    remove_token_file(path);
}

static void file_errors_name_path_and_fix(void **state)
{
    static const struct {
        const char *text;
        mode_t mode;
        const char *expected[2];
    } cases[] = {
        {TOKEN_A "\n", 0644, {"readable by every user (mode 0644)", "chmod 600"}},
        {TOKEN_A "\n", 0602, {"writable by every user (mode 0602)", "chmod 600"}},
        {TOKEN_A "\n", 0620, {"writable by its group (mode 0620)", "chmod g-w"}},
        {"# nothing here\n\n", 0600, {"holds no token", "one token per line"}},
        {"", 0600, {"holds no token", "openssl rand"}},
        {TOKEN_A "\nshort\n", 0600, {":2: the admin token is 5 characters long", "openssl"}},
        {TOKEN_A "\nbad token with spaces\n", 0600, {":2: the admin token has a character", "letters"}},
    };
    char path[512];
    char error[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        admin_token_set set = {0};

        write_token_file(path, sizeof(path), cases[i].text, cases[i].mode);
        error[0] = '\0';
        assert_true(admin_token_load_file(&set, path, error, sizeof(error)) < 0);
        assert_non_null(strstr(error, path));
        assert_non_null(strstr(error, cases[i].expected[0]));
        assert_non_null(strstr(error, cases[i].expected[1]));
        assert_null(strstr(error, TOKEN_A));
        assert_null(strstr(error, "spaces"));
        admin_token_set_free(&set);
        remove_token_file(path);
    }
}

static void file_missing_or_not_regular(void **state)
{
    admin_token_set set = {0};
    char directory[] = "/tmp/wharf-admin-token-XXXXXX";
    char path[512];
    char error[512] = "";

    (void)state;
    assert_non_null(mkdtemp(directory));
    snprintf(path, sizeof(path), "%s/absent", directory);
    assert_int_equal(admin_token_load_file(&set, path, error, sizeof(error)), -ENOENT);
    assert_non_null(strstr(error, "cannot read admin token file"));
    assert_non_null(strstr(error, path));

    assert_int_equal(chmod(directory, 0700), 0);
    assert_true(admin_token_load_file(&set, directory, error, sizeof(error)) < 0);
    assert_non_null(strstr(error, "not a regular file"));
    assert_int_equal(set.count, 0);
    rmdir(directory);
}

static void file_too_large_rejected(void **state)
{
    admin_token_set set = {0};
    char *text = malloc(ADMIN_TOKEN_FILE_MAX_SIZE + 2);
    char path[512];
    char error[512] = "";

    (void)state;
    assert_non_null(text);
    memset(text, '#', ADMIN_TOKEN_FILE_MAX_SIZE + 1);
    text[ADMIN_TOKEN_FILE_MAX_SIZE + 1] = '\0';
    write_token_file(path, sizeof(path), text, 0600);
    assert_int_equal(admin_token_load_file(&set, path, error, sizeof(error)), -EFBIG);
    assert_non_null(strstr(error, "65536 bytes"));
    free(text);
    remove_token_file(path);
}

static void rejections_logged_once_per_interval(void **state)
{
    admin_token_set set = {0};

    (void)state;
    assert_int_equal(admin_token_count_rejection(&set, 1000), 1);
    assert_int_equal(admin_token_count_rejection(&set, 2000), 0);
    assert_int_equal(admin_token_count_rejection(&set, 5000), 0);
    assert_int_equal(admin_token_count_rejection(&set, 10999), 0);
    /* The next line covers the three that were not logged, and this one. */
    assert_int_equal(admin_token_count_rejection(&set, 11000), 4);
    assert_int_equal(admin_token_count_rejection(&set, 11001), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validate_rejects_bad_tokens),
        cmocka_unit_test(validate_accepts_bearer_syntax),
        cmocka_unit_test(empty_set_leaves_api_open),
        cmocka_unit_test(check_accepts_any_configured_token),
        cmocka_unit_test(check_explains_each_failure),
        cmocka_unit_test(file_tokens_loaded),
        cmocka_unit_test(file_errors_name_path_and_fix),
        cmocka_unit_test(file_missing_or_not_regular),
        cmocka_unit_test(file_too_large_rejected),
        cmocka_unit_test(rejections_logged_once_per_interval),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
