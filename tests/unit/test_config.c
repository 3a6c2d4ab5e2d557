/* Unit tests of wharfd's command line and config file parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static config_outcome load(config *c, char *error, size_t error_size, int argc, ...)
{
    char *argv[16];
    va_list args;

    assert_true(argc < 16);
    argv[0] = "wharfd";
    va_start(args, argc);
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(args, char *);
    va_end(args);
    return config_load(c, argc, argv, error, error_size);
}

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    FILE *file;

    assert_true(fd >= 0);
    file = fdopen(fd, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void defaults_apply(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 1), CONFIG_RUN);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.plugins_dir, "./plugins");
    assert_null(c.config_file);
    config_free(&c);
}

static void flags_parsed(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 6, "--listen", "[::1]:9000",
                          "--data-dir=/var/lib/wharf", "--plugins-dir", "/opt/p"),
                     CONFIG_RUN);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.data_dir, "/var/lib/wharf");
    assert_string_equal(c.plugins_dir, "/opt/p");
    config_free(&c);
}

static void bad_flags_named(void **state)
{
    static const struct {
        const char *flag;
        const char *value;
        const char *expected;
    } cases[] = {
        {"--listen", "localhost", "invalid address \"localhost\""},
        {"--listen", "127.0.0.1:99999", "invalid address"},
        {"--log-level", "loud", "invalid log level \"loud\""},
        {"--colour", "red", "unknown option \"--colour\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config c;
        char error[512] = "";
        assert_int_equal(load(&c, error, sizeof(error), 3, cases[i].flag, cases[i].value),
                         CONFIG_ERROR);
        if (strstr(error, cases[i].expected) == NULL)
            fail_msg("%s %s: error \"%s\" lacks \"%s\"", cases[i].flag, cases[i].value, error,
                     cases[i].expected);
        config_free(&c);
    }
}

static void missing_value_named(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 2, "--data-dir"), CONFIG_ERROR);
    assert_non_null(strstr(error, "option --data-dir needs a value"));
    config_free(&c);
}

static void file_read_and_flags_win(void **state)
{
    char path[] = "/tmp/wharf-config-XXXXXX";
    config c;
    char error[512] = "";

    (void)state;
    write_file(path, "# wharfd settings\n"
                     "listen = 127.0.0.1:7000\n"
                     "\n"
                     "data_dir = \"/srv/wharf data\"\n"
                     "plugins_dir=/srv/plugins\n");
    assert_int_equal(load(&c, error, sizeof(error), 5, "--plugins-dir", "/cli/plugins",
                          "--config", path),
                     CONFIG_RUN);
    assert_int_equal(c.listen_port, 7000);
    assert_string_equal(c.data_dir, "/srv/wharf data");
    assert_string_equal(c.plugins_dir, "/cli/plugins");
    assert_string_equal(c.config_file, path);
    config_free(&c);
    unlink(path);
}

static void file_errors_name_line_and_key(void **state)
{
    char path[] = "/tmp/wharf-config-XXXXXX";
    config c;
    char error[512] = "";
    char expected[600];

    (void)state;
    write_file(path, "listen = 127.0.0.1:7000\nport = 80\n");
    assert_int_equal(load(&c, error, sizeof(error), 3, "--config", path), CONFIG_ERROR);
    snprintf(expected, sizeof(expected), "%s:2: unknown key \"port\"", path);
    assert_non_null(strstr(error, expected));
    config_free(&c);
    unlink(path);
}

static void missing_file_named(void **state)
{
    config c;
    char error[512] = "";

    (void)state;
    assert_int_equal(load(&c, error, sizeof(error), 3, "--config", "/nonexistent/wharfd.conf"),
                     CONFIG_ERROR);
    assert_non_null(strstr(error, "cannot read config file /nonexistent/wharfd.conf"));
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply),
        cmocka_unit_test(flags_parsed),
        cmocka_unit_test(bad_flags_named),
        cmocka_unit_test(missing_value_named),
        cmocka_unit_test(file_read_and_flags_win),
        cmocka_unit_test(file_errors_name_line_and_key),
        cmocka_unit_test(missing_file_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
