/* Unit tests of plugin_load() against the fixture plugins in tests/fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_loader.h"

static void fixture_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s.so", WHARF_TEST_FIXTURES_DIR, name);
}

/* Load a fixture expected to be rejected; check the reason mentions needle. */
static void expect_rejected(const char *name, const char *needle)
{
    char path[1024];
    char reason[512] = "";
    plugin *loaded = (plugin *)(uintptr_t)1;

    fixture_path(path, sizeof(path), name);
    assert_int_equal(plugin_load(path, &loaded, reason, sizeof(reason)), PLUGIN_REJECTED);
    assert_null(loaded);
    if (strstr(reason, needle) == NULL)
        fail_msg("reason for %s lacks \"%s\": %s", name, needle, reason);
}

static void valid_plugin_loads(void **state)
{
    char path[1024];
    char reason[512] = "";
    plugin *loaded = NULL;

    (void)state;
    fixture_path(path, sizeof(path), "valid_1_0");
    assert_int_equal(plugin_load(path, &loaded, reason, sizeof(reason)), PLUGIN_LOADED);
    assert_non_null(loaded);
    assert_string_equal(loaded->name, "fixture-valid");
    assert_string_equal(loaded->version, "1.0.0");
    assert_int_equal(loaded->abi_major, 1);
    assert_int_equal(loaded->abi_minor, 0);
    assert_int_equal(loaded->descriptor.batch_policy, WHARF_BATCH_IGNORES_WHITELIST);
    assert_int_equal(loaded->descriptor.max_batch_size, 50);
    assert_non_null(loaded->descriptor.create);
    assert_non_null(loaded->descriptor.send);
    assert_non_null(loaded->descriptor.destroy);
    assert_true(loaded->descriptor.settings_count > 0);
    plugin_unload(loaded);
}

static void later_minor_loads(void **state)
{
    char path[1024];
    char reason[512] = "";
    plugin *loaded = NULL;

    (void)state;
    fixture_path(path, sizeof(path), "minor_1_1");
    assert_int_equal(plugin_load(path, &loaded, reason, sizeof(reason)), PLUGIN_LOADED);
    assert_string_equal(loaded->name, "fixture-minor");
    assert_int_equal(loaded->abi_minor, 1);
    assert_non_null(loaded->descriptor.send);
    plugin_unload(loaded);
}

static void wrong_major_rejected(void **state)
{
    (void)state;
    expect_rejected("wrong_major", "ABI major 2");
}

static void bad_magic_rejected(void **state)
{
    (void)state;
    expect_rejected("bad_magic", "magic");
}

static void missing_entry_rejected(void **state)
{
    (void)state;
    expect_rejected("no_entry", "wharf_plugin_entry");
}

static void null_entry_rejected(void **state)
{
    (void)state;
    expect_rejected("null_entry", "returned NULL");
}

static void garbage_entry_rejected(void **state)
{
    (void)state;
    expect_rejected("garbage_entry", "does not point into the plugin");
}

static void null_name_rejected(void **state)
{
    (void)state;
    expect_rejected("null_name", "name");
}

static void duplicate_settings_rejected(void **state)
{
    (void)state;
    expect_rejected("dup_settings", "duplicate setting \"api_key\"");
}

/* Copy a fixture into a temporary directory so its mode or bytes can change. */
static void copy_file(const char *from, const char *to, size_t limit)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    char buffer[8192];
    size_t copied = 0;
    size_t got;

    assert_non_null(in);
    assert_non_null(out);
    while (copied < limit && (got = fread(buffer, 1, sizeof(buffer), in)) > 0) {
        if (got > limit - copied)
            got = limit - copied;
        assert_int_equal(fwrite(buffer, 1, got, out), got);
        copied += got;
    }
    fclose(in);
    fclose(out);
}

static void world_writable_rejected(void **state)
{
    char source[1024];
    char directory[] = "/tmp/wharf-loader-XXXXXX";
    char path[1100];
    char reason[512] = "";
    plugin *loaded = NULL;

    (void)state;
    assert_non_null(mkdtemp(directory));
    fixture_path(source, sizeof(source), "valid_1_0");
    snprintf(path, sizeof(path), "%s/writable.so", directory);
    copy_file(source, path, SIZE_MAX);
    assert_int_equal(chmod(path, 0666), 0);

    assert_int_equal(plugin_load(path, &loaded, reason, sizeof(reason)), PLUGIN_REJECTED);
    assert_non_null(strstr(reason, "writable by every user"));

    unlink(path);
    rmdir(directory);
}

static void non_elf_rejected(void **state)
{
    char directory[] = "/tmp/wharf-loader-XXXXXX";
    char path[1100];
    char reason[512] = "";
    plugin *loaded = NULL;
    FILE *file;

    (void)state;
    assert_non_null(mkdtemp(directory));
    snprintf(path, sizeof(path), "%s/notes.so", directory);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs("this is a text file, not a shared object\n", file);
    fclose(file);

    assert_int_equal(plugin_load(path, &loaded, reason, sizeof(reason)), PLUGIN_REJECTED);
    assert_non_null(strstr(reason, "not an ELF shared object"));

    unlink(path);
    rmdir(directory);
}

static void truncated_elf_incomplete(void **state)
{
    char source[1024];
    char directory[] = "/tmp/wharf-loader-XXXXXX";
    char path[1100];
    char reason[512] = "";
    plugin *loaded = NULL;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(directory));
    fixture_path(source, sizeof(source), "valid_1_0");
    assert_int_equal(stat(source, &st), 0);
    snprintf(path, sizeof(path), "%s/partial.so", directory);
    /* Half the file: the section header table at the end is missing. */
    copy_file(source, path, (size_t)st.st_size / 2);
    chmod(path, 0644);

    assert_int_equal(plugin_load(path, &loaded, reason, sizeof(reason)), PLUGIN_INCOMPLETE);
    assert_null(loaded);

    unlink(path);
    rmdir(directory);
}

static void missing_file_rejected(void **state)
{
    char reason[512] = "";
    plugin *loaded = NULL;

    (void)state;
    assert_int_equal(plugin_load("/nonexistent/wharf/plugin.so", &loaded, reason, sizeof(reason)),
                     PLUGIN_REJECTED);
    assert_non_null(strstr(reason, "cannot stat"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_plugin_loads),
        cmocka_unit_test(later_minor_loads),
        cmocka_unit_test(wrong_major_rejected),
        cmocka_unit_test(bad_magic_rejected),
        cmocka_unit_test(missing_entry_rejected),
        cmocka_unit_test(null_entry_rejected),
        cmocka_unit_test(garbage_entry_rejected),
        cmocka_unit_test(null_name_rejected),
        cmocka_unit_test(duplicate_settings_rejected),
        cmocka_unit_test(world_writable_rejected),
        cmocka_unit_test(non_elf_rejected),
        cmocka_unit_test(truncated_elf_incomplete),
        cmocka_unit_test(missing_file_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
