/* Unit tests of the owner and mode checks on plugin files and the plugins
 * directory (core/plugin_trust.c). */
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

#include "plugin_trust.h"

#define SERVICE_UID 1000

static struct stat entry_stat(mode_t type, mode_t mode, uid_t owner)
{
    struct stat st;

    memset(&st, 0, sizeof(st));
    st.st_mode = type | mode;
    st.st_uid = owner;
    st.st_gid = 50;
    return st;
}

static void entry_modes_and_owners(void **state)
{
    static const struct {
        mode_t type;
        mode_t mode;
        uid_t owner;
        const char *expected; /* NULL when the entry is trusted */
    } cases[] = {
        {S_IFREG, 0755, SERVICE_UID, NULL},
        {S_IFREG, 0555, 0, NULL},
        {S_IFREG, 0700, SERVICE_UID, NULL},
        {S_IFDIR, 0755, 0, NULL},
        {S_IFREG, 0757, SERVICE_UID, "file /p is writable by every user (mode 0757)"},
        {S_IFREG, 0775, SERVICE_UID, "file /p is writable by its group (mode 0775)"},
        {S_IFREG, 0755, 1001, "file /p is owned by user ID 1001"},
        {S_IFDIR, 01777, 0, "plugins directory /p is writable by every user (mode 1777)"},
        {S_IFDIR, 0775, SERVICE_UID, "plugins directory /p is writable by its group"},
        {S_IFDIR, 0755, 1001, "plugins directory /p is owned by user ID 1001"},
    };
    char reason[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stat st = entry_stat(cases[i].type, cases[i].mode, cases[i].owner);
        int result;

        reason[0] = '\0';
        result = plugin_trust_check_entry("/p", &st, S_ISDIR(st.st_mode), SERVICE_UID,
                                          reason, sizeof(reason));
        if (cases[i].expected == NULL) {
            assert_int_equal(result, 0);
            continue;
        }
        assert_int_equal(result, -1);
        assert_non_null(strstr(reason, cases[i].expected));
    }
}

static void reasons_name_the_fix(void **state)
{
    struct stat st;
    char reason[512];

    (void)state;
    st = entry_stat(S_IFDIR, 0777, 0);
    assert_int_equal(plugin_trust_check_entry("/opt/p", &st, 1, SERVICE_UID, reason,
                                              sizeof(reason)),
                     -1);
    assert_non_null(strstr(reason, "run chmod go-w /opt/p"));

    st = entry_stat(S_IFREG, 0664, SERVICE_UID);
    assert_int_equal(plugin_trust_check_entry("/opt/p/a.so", &st, 0, SERVICE_UID, reason,
                                              sizeof(reason)),
                     -1);
    assert_non_null(strstr(reason, "run chmod g-w /opt/p/a.so"));
    assert_non_null(strstr(reason, "group ID 50"));

    st = entry_stat(S_IFREG, 0644, 4242);
    assert_int_equal(plugin_trust_check_entry("/opt/p/a.so", &st, 0, SERVICE_UID, reason,
                                              sizeof(reason)),
                     -1);
    assert_non_null(strstr(reason, "user wharfd runs as (ID 1000)"));
    assert_non_null(strstr(reason, "run chown 1000 /opt/p/a.so as root"));
}

/* A temporary directory with a plugin file a.so in it. */
typedef struct tree {
    char root[64];
    char plugins[128];
    char file[192];
} tree;

static void make_tree(tree *t)
{
    FILE *file;

    snprintf(t->root, sizeof(t->root), "/tmp/wharf-trust-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    snprintf(t->plugins, sizeof(t->plugins), "%s/plugins", t->root);
    assert_int_equal(mkdir(t->plugins, 0755), 0);
    assert_int_equal(chmod(t->plugins, 0755), 0);
    snprintf(t->file, sizeof(t->file), "%s/a.so", t->plugins);
    file = fopen(t->file, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(chmod(t->file, 0755), 0);
}

static void remove_tree(tree *t)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/other/b.so", t->root);
    unlink(path);
    snprintf(path, sizeof(path), "%s/other", t->root);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/link.so", t->plugins);
    unlink(path);
    unlink(t->file);
    rmdir(t->plugins);
    rmdir(t->root);
}

static int check_path(const char *path, char *reason, size_t size)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return plugin_trust_check_file(path, &st, reason, size);
}

static void file_and_directory_on_disk(void **state)
{
    char reason[512] = "";
    tree t;

    (void)state;
    make_tree(&t);
    assert_int_equal(check_path(t.file, reason, sizeof(reason)), 0);

    assert_int_equal(chmod(t.file, 0775), 0);
    assert_int_equal(check_path(t.file, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "writable by its group"));
    assert_non_null(strstr(reason, t.file));
    assert_int_equal(chmod(t.file, 0755), 0);

    assert_int_equal(chmod(t.plugins, 0775), 0);
    assert_int_equal(check_path(t.file, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "plugins directory"));
    assert_non_null(strstr(reason, "writable by its group (mode 0775)"));
    assert_non_null(strstr(reason, t.plugins));

    assert_int_equal(chmod(t.plugins, 0777), 0);
    assert_int_equal(check_path(t.file, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "writable by every user (mode 0777)"));

    assert_int_equal(chmod(t.plugins, 0755), 0);
    assert_int_equal(check_path(t.file, reason, sizeof(reason)), 0);
    remove_tree(&t);
}

static void link_target_directory_checked(void **state)
{
    char reason[512] = "";
    char other[256];
    char target[320];
    char link_path[256];
    FILE *file;
    tree t;

    (void)state;
    make_tree(&t);
    snprintf(other, sizeof(other), "%s/other", t.root);
    assert_int_equal(mkdir(other, 0755), 0);
    assert_int_equal(chmod(other, 0775), 0);
    snprintf(target, sizeof(target), "%s/b.so", other);
    file = fopen(target, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(chmod(target, 0755), 0);
    snprintf(link_path, sizeof(link_path), "%s/link.so", t.plugins);
    assert_int_equal(symlink(target, link_path), 0);

    /* The link sits in a safe directory, but its target does not. */
    assert_int_equal(check_path(link_path, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, other));
    assert_non_null(strstr(reason, "writable by its group"));

    assert_int_equal(chmod(other, 0755), 0);
    assert_int_equal(check_path(link_path, reason, sizeof(reason)), 0);
    remove_tree(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entry_modes_and_owners),
        cmocka_unit_test(reasons_name_the_fix),
        cmocka_unit_test(file_and_directory_on_disk),
        cmocka_unit_test(link_target_directory_checked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
