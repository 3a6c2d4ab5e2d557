/* Unit tests of wharfd's security and HTTP limit settings: admin tokens,
 * the listen policy, the limits, and the scrubbing of secrets from argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define TOKEN_A "0123456789abcdef0123456789abcdef"
#define TOKEN_B "fedcba9876543210fedcba9876543210"
#define TOKEN_C "c0ffeec0ffeec0ffeec0ffeec0ffee00"

/* config_load() with argv[0] "wharfd" and the given arguments, copied
 * into writable memory as a real argv is. */
static config_outcome load(config *c, char *error, size_t error_size, int argc, ...)
{
    char *argv[24];
    config_outcome outcome;
    va_list args;

    assert_true(argc < 24);
    argv[0] = strdup("wharfd");
    va_start(args, argc);
    for (int i = 1; i < argc; i++)
        argv[i] = strdup(va_arg(args, char *));
    va_end(args);
    outcome = config_load(c, argc, argv, error, error_size);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return outcome;
}

static void write_file(char *path, const char *text, mode_t mode)
{
    int fd = mkstemp(path);
    FILE *file;

    assert_true(fd >= 0);
    file = fdopen(fd, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    assert_int_equal(chmod(path, mode), 0);
}

static void limit_defaults(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 1), CONFIG_RUN);
    assert_int_equal(c.http_limits.max_header_size, 80 * 1024);
    assert_int_equal(c.http_limits.max_body_size, 8 * 1024 * 1024);
    assert_int_equal(c.http_limits.max_connections, 1024);
    assert_int_equal(c.http_limits.request_timeout_ms, 30000);
    assert_int_equal(c.http_limits.idle_timeout_ms, 60000);
    assert_int_equal(c.shutdown_timeout_ms, 10000);
    assert_int_equal(c.admin_tokens.count, 0);
    assert_null(c.admin_token_file);
    config_free(&c);
}

static void limit_flags_parsed(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 13, "--max-header-size", "4096",
                          "--max-body-size=1024", "--max-connections", "3",
                          "--request-timeout-ms", "250", "--idle-timeout-ms", "500",
                          "--shutdown-timeout-ms", "0", "--log-level=warn"),
                     CONFIG_RUN);
    assert_int_equal(c.http_limits.max_header_size, 4096);
    assert_int_equal(c.http_limits.max_body_size, 1024);
    assert_int_equal(c.http_limits.max_connections, 3);
    assert_int_equal(c.http_limits.request_timeout_ms, 250);
    assert_int_equal(c.http_limits.idle_timeout_ms, 500);
    assert_int_equal(c.shutdown_timeout_ms, 0);
    config_free(&c);
}

static void bad_limits_named(void **state)
{
    static const struct {
        const char *flag;
        const char *value;
        const char *expected;
    } cases[] = {
        {"--max-header-size", "100", "expected 1024 to 1048576 bytes"},
        {"--max-header-size", "2000000", "expected 1024 to 1048576 bytes"},
        {"--max-body-size", "0", "expected 1 to 1073741824 bytes"},
        {"--max-body-size", "8MB", "invalid value \"8MB\""},
        {"--max-connections", "0", "expected 1 to 1000000 connections"},
        {"--max-connections", "-5", "invalid value \"-5\""},
        {"--request-timeout-ms", "10", "expected 100 to 3600000 milliseconds"},
        {"--idle-timeout-ms", "", "invalid value \"\""},
        {"--idle-timeout-ms", "1e3", "invalid value \"1e3\""},
        {"--shutdown-timeout-ms", "3600001", "expected 0 to 3600000 milliseconds"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config c;
        char error[512] = "";

        assert_int_equal(load(&c, error, sizeof(error), 3, cases[i].flag, cases[i].value),
                         CONFIG_ERROR);
        assert_non_null(strstr(error, cases[i].flag));
        assert_non_null(strstr(error, cases[i].expected));
        config_free(&c);
    }
}

static void limit_keys_read_from_file(void **state)
{
    config c;
    char path[] = "/tmp/wharf-config-XXXXXX";
    char error[512] = "";

    (void)state;
    write_file(path,
               "max_header_size = 2048\n"
               "max_body_size = 65536\n"
               "max_connections = 10\n"
               "request_timeout_ms = 1500\n"
               "idle_timeout_ms = 2500\n"
               "shutdown_timeout_ms = 20000\n",
               0600);
    assert_int_equal(load(&c, error, sizeof(error), 5, "--config", path,
                          "--max-connections", "20"),
                     CONFIG_RUN);
    assert_int_equal(c.http_limits.max_header_size, 2048);
    assert_int_equal(c.http_limits.max_body_size, 65536);
    assert_int_equal(c.http_limits.max_connections, 20);
    assert_int_equal(c.http_limits.request_timeout_ms, 1500);
    assert_int_equal(c.http_limits.idle_timeout_ms, 2500);
    assert_int_equal(c.shutdown_timeout_ms, 20000);
    config_free(&c);
    unlink(path);
}

static void unknown_key_lists_new_keys(void **state)
{
    config c;
    char path[] = "/tmp/wharf-config-XXXXXX";
    char error[1024] = "";

    (void)state;
    write_file(path, "max_header = 10\n", 0600);
    assert_int_equal(load(&c, error, sizeof(error), 3, "--config", path), CONFIG_ERROR);
    assert_non_null(strstr(error, "unknown key \"max_header\""));
    assert_non_null(strstr(error, "admin_token_file"));
    assert_non_null(strstr(error, "max_header_size"));
    assert_non_null(strstr(error, "shutdown_timeout_ms"));
    config_free(&c);
    unlink(path);
}

static void admin_token_flag_repeats(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 4, "--admin-token", TOKEN_A,
                          "--admin-token=" TOKEN_B),
                     CONFIG_RUN);
    assert_int_equal(c.admin_tokens.count, 2);
    assert_string_equal(c.admin_tokens.tokens[0], TOKEN_A);
    assert_string_equal(c.admin_tokens.tokens[1], TOKEN_B);
    config_free(&c);
}

static void bad_admin_token_not_echoed(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 3, "--admin-token", "hunter2-secret"),
                     CONFIG_ERROR);
    assert_non_null(strstr(error, "--admin-token"));
    assert_non_null(strstr(error, "14 characters"));
    assert_null(strstr(error, "hunter2"));
    config_free(&c);
}

static void file_tokens_and_flags_combine(void **state)
{
    config c;
    char config_path[] = "/tmp/wharf-config-XXXXXX";
    char token_path[] = "/tmp/wharf-tokens-XXXXXX";
    char text[512];
    char error[512] = "";

    (void)state;
    write_file(token_path, TOKEN_C "\n", 0600);
    snprintf(text, sizeof(text),
             "admin_token = " TOKEN_A "\n"
             "admin_token = " TOKEN_B "\n"
             "admin_token_file = %s\n",
             token_path);
    write_file(config_path, text, 0600);

    /* Both admin_token lines count, and the token file adds its token. */
    assert_int_equal(load(&c, error, sizeof(error), 3, "--config", config_path), CONFIG_RUN);
    assert_int_equal(c.admin_tokens.count, 3);
    assert_string_equal(c.admin_token_file, token_path);
    config_free(&c);

    /* A --admin-token flag wins over the file's admin_token lines, as every
     * flag wins over its key; the token file still adds its token. */
    assert_int_equal(load(&c, error, sizeof(error), 5, "--config", config_path,
                          "--admin-token", TOKEN_B),
                     CONFIG_RUN);
    assert_int_equal(c.admin_tokens.count, 2);
    assert_string_equal(c.admin_tokens.tokens[0], TOKEN_B);
    assert_string_equal(c.admin_tokens.tokens[1], TOKEN_C);
    config_free(&c);

    unlink(config_path);
    unlink(token_path);
}

static void token_file_error_stops_start(void **state)
{
    config c;
    char token_path[] = "/tmp/wharf-tokens-XXXXXX";
    char error[512] = "";

    (void)state;
    write_file(token_path, TOKEN_A "\n", 0644);
    assert_int_equal(load(&c, error, sizeof(error), 3, "--admin-token-file", token_path),
                     CONFIG_ERROR);
    assert_non_null(strstr(error, token_path));
    assert_non_null(strstr(error, "readable by every user"));
    assert_null(strstr(error, TOKEN_A));
    config_free(&c);

    assert_int_equal(load(&c, error, sizeof(error), 3, "--admin-token-file", ""), CONFIG_ERROR);
    assert_non_null(strstr(error, "must not be empty"));
    config_free(&c);
    unlink(token_path);
}

static void loopback_hosts_recognised(void **state)
{
    static const char *const loopback[] = {
        "localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1",
        "0:0:0:0:0:0:0:1",
    };
    /* Parsed as text only: nothing is bound to these addresses. */
    static const char *const other[] = {
        "0.0.0.0", "::", "[::]", "192.0.2.10", "128.0.0.1", "::ffff:192.0.2.10",
        "2001:db8::1", "example.com", "", "localhost.", "127.0.0.1.",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        assert_true(http_server_host_is_loopback(loopback[i]));
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        assert_false(http_server_host_is_loopback(other[i]));
}

static void listen_policy_requires_token_off_loopback(void **state)
{
    admin_token_set tokens = {0};
    char error[512] = "";

    (void)state;
    assert_int_equal(config_check_listen_policy("127.0.0.1", 8080, &tokens, error,
                                                sizeof(error)),
                     0);
    assert_int_equal(config_check_listen_policy("::1", 8080, &tokens, error, sizeof(error)), 0);

    assert_int_equal(config_check_listen_policy("0.0.0.0", 8080, &tokens, error,
                                                sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "refusing to listen on 0.0.0.0:8080 without an admin token"));
    assert_non_null(strstr(error, "--admin-token-file"));
    assert_non_null(strstr(error, "127.0.0.1"));

    assert_int_equal(config_check_listen_policy("::", 9000, &tokens, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "[::]:9000"));

    assert_int_equal(admin_token_add(&tokens, TOKEN_A, "x", error, sizeof(error)), 0);
    assert_int_equal(config_check_listen_policy("0.0.0.0", 8080, &tokens, error,
                                                sizeof(error)),
                     0);
    admin_token_set_free(&tokens);
}

static void listen_policy_applied_by_load(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    /* config_load() only parses the address; nothing listens on it. */
    assert_int_equal(load(&c, error, sizeof(error), 3, "--listen", "0.0.0.0:0"), CONFIG_ERROR);
    assert_non_null(strstr(error, "refusing to listen on 0.0.0.0:0"));
    config_free(&c);

    assert_int_equal(load(&c, error, sizeof(error), 5, "--listen", "0.0.0.0:0",
                          "--admin-token", TOKEN_A),
                     CONFIG_RUN);
    config_free(&c);
}

static void secret_arguments_scrubbed(void **state)
{
    char *argv[] = {
        strdup("wharfd"),         strdup("--admin-token"),        strdup(TOKEN_A),
        strdup("--write-key=wk"), strdup("--admin-token-file"),   strdup("/etc/tokens"),
        strdup("--listen"),       strdup("127.0.0.1:0"),          strdup("--write-key"),
        strdup("second-key"),
    };
    int argc = (int)(sizeof(argv) / sizeof(argv[0]));

    (void)state;
    config_scrub_secret_arguments(argc, argv);
    assert_string_equal(argv[1], "--admin-token");
    assert_string_equal(argv[2], "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_string_equal(argv[3], "--write-key=xx");
    assert_string_equal(argv[5], "/etc/tokens");
    assert_string_equal(argv[7], "127.0.0.1:0");
    assert_string_equal(argv[9], "xxxxxxxxxx");
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limit_defaults),
        cmocka_unit_test(limit_flags_parsed),
        cmocka_unit_test(bad_limits_named),
        cmocka_unit_test(limit_keys_read_from_file),
        cmocka_unit_test(unknown_key_lists_new_keys),
        cmocka_unit_test(admin_token_flag_repeats),
        cmocka_unit_test(bad_admin_token_not_echoed),
        cmocka_unit_test(file_tokens_and_flags_combine),
        cmocka_unit_test(token_file_error_stops_start),
        cmocka_unit_test(loopback_hosts_recognised),
        cmocka_unit_test(listen_policy_requires_token_off_loopback),
        cmocka_unit_test(listen_policy_applied_by_load),
        cmocka_unit_test(secret_arguments_scrubbed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
