/* Unit tests of the data directory's permissions (core/data_dir.c). */
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

#include "data_dir.h"

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static void create_file(const char *path, mode_t mode)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    fclose(file);
    assert_int_equal(chmod(path, mode), 0);
}

static void missing_directory_created_0700(void **state)
{
    char parent[] = "/tmp/wharf-data-XXXXXX";
    char path[128];
    char error[512] = "";

    (void)state;
    assert_non_null(mkdtemp(parent));
    snprintf(path, sizeof(path), "%s/data", parent);
    assert_int_equal(data_dir_secure(path, error, sizeof(error)), 0);
    assert_int_equal(mode_of(path), 0700);
    rmdir(path);
    rmdir(parent);
}

static void open_modes_tightened(void **state)
{
    char path[] = "/tmp/wharf-data-XXXXXX";
    char database[128];
    char wal[128];
    char lock[128];
    char subdirectory[128];
    char link_path[128];
    char outside[] = "/tmp/wharf-outside-XXXXXX";
    char error[512] = "";
    int fd;

    (void)state;
    assert_non_null(mkdtemp(path));
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(database, sizeof(database), "%s/wharf.db", path);
    snprintf(wal, sizeof(wal), "%s/wharf.db-wal", path);
    snprintf(lock, sizeof(lock), "%s/wharf.lock", path);
    snprintf(subdirectory, sizeof(subdirectory), "%s/exports", path);
    snprintf(link_path, sizeof(link_path), "%s/link", path);
    create_file(database, 0644);
    create_file(wal, 0666);
    create_file(lock, 0600);
    assert_int_equal(mkdir(subdirectory, 0755), 0);
    assert_int_equal(chmod(subdirectory, 0755), 0);
    fd = mkstemp(outside);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(outside, 0644), 0);
    assert_int_equal(symlink(outside, link_path), 0);

    assert_int_equal(data_dir_secure(path, error, sizeof(error)), 0);
    assert_int_equal(mode_of(path), 0700);
    assert_int_equal(mode_of(database), 0600);
    assert_int_equal(mode_of(wal), 0600);
    assert_int_equal(mode_of(lock), 0600);
    assert_int_equal(mode_of(subdirectory), 0700);
    /* A link's target lies outside the data directory and keeps its mode. */
    assert_int_equal(mode_of(outside), 0644);

    unlink(link_path);
    unlink(outside);
    rmdir(subdirectory);
    unlink(lock);
    unlink(wal);
    unlink(database);
    rmdir(path);
}

static void file_in_place_of_directory_rejected(void **state)
{
    char path[] = "/tmp/wharf-data-XXXXXX";
    char error[512] = "";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(data_dir_secure(path, error, sizeof(error)), -ENOTDIR);
    assert_non_null(strstr(error, path));
    assert_non_null(strstr(error, "is not a directory"));
    unlink(path);
}

static void uncreatable_directory_named(void **state)
{
    char error[512] = "";

    (void)state;
    assert_true(data_dir_secure("/nonexistent-wharf-parent/data", error, sizeof(error)) < 0);
    assert_non_null(strstr(error, "cannot create data directory /nonexistent-wharf-parent/data"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_directory_created_0700),
        cmocka_unit_test(open_modes_tightened),
        cmocka_unit_test(file_in_place_of_directory_rejected),
        cmocka_unit_test(uncreatable_directory_named),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
