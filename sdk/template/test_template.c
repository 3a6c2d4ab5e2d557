/*
 * Tests for the template connector, run in-process by the SDK harness:
 *   ./test_template ./template.so
 * Exit status 0 when every check passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wharf/sdk/harness.h>

static int failures;

#define CHECK(condition)                                                       \
    do {                                                                       \
        if (!(condition)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #condition);                                               \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* Returns 1 when the harness recorded exactly this log line. The harness
 * starts each line with the level and the plugin name, as wharfd does. */
static int logged(wharf_harness *harness, const char *line)
{
    size_t i;

    for (i = 0; i < wharf_harness_log_count(harness); i++) {
        if (strcmp(wharf_harness_log_line(harness, i), line) == 0)
            return 1;
    }
    return 0;
}

static void test_every_message_succeeds(const wharf_plugin *plugin)
{
    char error[512] = "";
    wharf_harness *harness = NULL;
    char *messages[3];
    size_t i;

    CHECK(wharf_harness_create(plugin, "{\"label\": \"test\"}", &harness, error,
                               sizeof(error)) == 0);
    if (harness == NULL) {
        fprintf(stderr, "create failed: %s\n", error);
        return;
    }

    messages[0] = wharf_harness_sample_user_message("u1", "one@example.test");
    messages[1] = wharf_harness_sample_user_message("u2", "two@example.test");
    messages[2] = wharf_harness_sample_user_message("u3", NULL);
    CHECK(wharf_harness_send(harness, (const char *const *)messages, 3) == 0);

    CHECK(wharf_harness_result_count(harness) == 3);
    for (i = 0; i < wharf_harness_result_count(harness); i++)
        CHECK(wharf_harness_result_at(harness, i)->kind == WHARF_RESULT_SUCCESS);
    CHECK(logged(harness, "INFO template: accepted 3 messages for test"));
    CHECK(strcmp(wharf_harness_violations(harness), "") == 0);

    /* One message is logged in the singular. */
    CHECK(wharf_harness_send(harness, (const char *const *)messages, 1) == 0);
    CHECK(logged(harness, "INFO template: accepted 1 message for test"));

    for (i = 0; i < 3; i++)
        free(messages[i]);
    wharf_harness_destroy(harness);
}

static void test_default_label(const wharf_plugin *plugin)
{
    char error[512] = "";
    wharf_harness *harness = NULL;
    char *message;

    CHECK(wharf_harness_create(plugin, "{}", &harness, error, sizeof(error)) == 0);
    if (harness == NULL) {
        fprintf(stderr, "create failed: %s\n", error);
        return;
    }
    message = wharf_harness_sample_user_message("u1", "one@example.test");
    CHECK(wharf_harness_send(harness, (const char *const *)&message, 1) == 0);
    CHECK(logged(harness, "INFO template: accepted 1 message for example"));

    free(message);
    wharf_harness_destroy(harness);
}

static void test_bad_settings_are_rejected(const wharf_plugin *plugin)
{
    char error[512] = "";
    char settings[128];
    wharf_harness *harness = NULL;

    CHECK(wharf_harness_create(plugin, "{\"label\": \"\"}", &harness, error, sizeof(error)) != 0);
    CHECK(strstr(error, "setting \"label\" is empty; give the destination's name") != NULL);
    CHECK(strstr(error, "shorten") == NULL);

    snprintf(settings, sizeof(settings), "{\"label\": \"%063d\"}", 0);
    CHECK(wharf_harness_create(plugin, settings, &harness, error, sizeof(error)) == 0);
    wharf_harness_destroy(harness);
    harness = NULL;

    /* 64 bytes, one more than the limit. */
    snprintf(settings, sizeof(settings), "{\"label\": \"%064d\"}", 0);
    CHECK(wharf_harness_create(plugin, settings, &harness, error, sizeof(error)) != 0);
    CHECK(strstr(error, "setting \"label\" is 64 bytes long, more than 63; shorten it") != NULL);

    CHECK(wharf_harness_create(plugin, "{\"verbose\": \"yes\"}", &harness, error,
                               sizeof(error)) != 0);
    CHECK(strstr(error, "setting \"verbose\" must be a boolean, got string") != NULL);
    CHECK(harness == NULL);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "./template.so";
    wharf_harness_plugin *loaded = NULL;
    char error[512] = "";

    if (wharf_harness_plugin_open(path, &loaded, error, sizeof(error)) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", path, error);
        return 1;
    }

    test_every_message_succeeds(wharf_harness_plugin_descriptor(loaded));
    test_default_label(wharf_harness_plugin_descriptor(loaded));
    test_bad_settings_are_rejected(wharf_harness_plugin_descriptor(loaded));

    wharf_harness_plugin_close(loaded);
    if (failures > 0) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("template: all checks passed\n");
    return 0;
}
