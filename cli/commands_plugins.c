/* wharfctl plugins: the loaded plugins, then the plugin files wharfd
 * rejected or is still waiting on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "json_fields.h"
#include "options.h"
#include "table.h"

/* "ignores_whitelist" reads better in a table as "ignores whitelist". */
static const char *policy_text(const char *policy)
{
    if (policy == NULL)
        return NULL;
    if (strcmp(policy, "ignores_whitelist") == 0)
        return "ignores whitelist";
    if (strcmp(policy, "requires_whitelist") == 0)
        return "requires whitelist";
    return policy;
}

static int print_plugins(json_object *plugins)
{
    static const char *const headers[] = {"NAME", "VERSION", "ABI", "BATCH POLICY",
                                          "ENTITY TYPES"};
    table *t = table_create(5, headers);
    int rc = 0;

    if (t == NULL)
        return -1;
    for (size_t i = 0; i < json_object_array_length(plugins); i++) {
        json_object *plugin = json_object_array_get_idx(plugins, i);
        char *types = json_join_strings(json_array_member(plugin, "entity_types"), ", ");
        const char *cells[5] = {
            json_string_member(plugin, "name"),
            json_string_member(plugin, "version"),
            json_string_member(plugin, "abi"),
            policy_text(json_string_member(plugin, "batch_policy")),
            types,
        };

        if (types == NULL || table_add_row(t, cells) != 0)
            rc = -1;
        free(types);
        if (rc != 0)
            goto out;
    }

    if (table_row_count(t) == 0)
        printf("No plugins loaded; put connector plugins (*.so) in wharfd's --plugins-dir.\n");
    else
        table_print(t, stdout);

out:
    table_free(t);
    return rc;
}

/* List rejected or pending plugin files as "  FILE: REASON" under a title. */
static void print_files(json_object *files, const char *title)
{
    size_t count = files != NULL ? json_object_array_length(files) : 0;

    if (count == 0)
        return;
    printf("\n%s:\n", title);
    for (size_t i = 0; i < count; i++) {
        json_object *file = json_object_array_get_idx(files, i);
        const char *path = json_string_member(file, "file");
        const char *reason = json_string_member(file, "reason");

        printf("  %s: %s\n", path != NULL ? path : "?", reason != NULL ? reason : "no reason given");
    }
}

static int run_plugins(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    int positional_count;
    api_response response;
    json_object *plugins;
    int rc = options_parse(ctl, self, argc, argv, NULL, 0, positionals, &positional_count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (positional_count > 0)
        return options_usage_error(self, "unexpected argument \"%s\"", positionals[0]);

    if (api_client_call(&ctl->client, "GET", "/api/v1/plugins", NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (ctl->json_output) {
        wharfctl_print_json(response.body);
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_OK;
    }

    plugins = json_array_member(response.body, "plugins");
    if (plugins == NULL) {
        wharfctl_error("GET /api/v1/plugins returned no \"plugins\" array; check that --url "
                       "points at wharfd");
        rc = WHARFCTL_EXIT_FAILURE;
    } else if (print_plugins(plugins) != 0) {
        wharfctl_error("cannot print the plugins: out of memory");
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        print_files(json_array_member(response.body, "rejected"), "Rejected plugin files");
        print_files(json_array_member(response.body, "pending"),
                    "Plugin files not loaded yet (wharfd retries them when they change)");
        rc = WHARFCTL_EXIT_OK;
    }
    api_response_cleanup(&response);
    return rc;
}

const command command_plugins = {
    .name = "plugins",
    .summary = "list the loaded plugins and the plugin files wharfd rejected",
    .usage = "Usage: wharfctl plugins\n",
    .help = "Prints one row per loaded plugin: name, version, plugin ABI version, batch\n"
            "policy (whether a manual batch ignores or requires the connector's\n"
            "whitelist) and the entity types it accepts (users, accounts). Plugin files\n"
            "that wharfd rejected follow, each with the reason, then files it has not\n"
            "loaded yet because they were still changing or looked half-written.\n",
    .run = run_plugins,
};
