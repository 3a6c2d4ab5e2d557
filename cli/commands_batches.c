/* wharfctl batches CONNECTOR and wharfctl batch ID: manual batches and
 * their counts. */
#include <inttypes.h>
#include <stdio.h>

#include "batch_view.h"
#include "command.h"
#include "json_fields.h"
#include "options.h"
#include "resolve.h"
#include "table.h"

static int print_batches(json_object *batches)
{
    static const char *const headers[] = {"ID",   "TARGET",  "STATE",  "TOTAL",
                                          "SENT", "SKIPPED", "FAILED", "CREATED AT"};
    table *t = table_create(8, headers);
    int rc = 0;

    if (t == NULL)
        return -1;
    for (size_t i = 0; i < json_object_array_length(batches); i++) {
        json_object *batch = json_object_array_get_idx(batches, i);
        char target[256];
        char counts[4][32];
        const char *const count_names[4] = {"total", "sent", "skipped", "failed"};
        const char *cells[8];

        batch_view_target(batch, target, sizeof(target));
        for (int c = 0; c < 4; c++)
            snprintf(counts[c], sizeof(counts[c]), "%" PRId64,
                     json_integer_member(batch, count_names[c]));
        cells[0] = json_string_member(batch, "id");
        cells[1] = target;
        cells[2] = json_string_member(batch, "state");
        cells[3] = counts[0];
        cells[4] = counts[1];
        cells[5] = counts[2];
        cells[6] = counts[3];
        cells[7] = json_string_member(batch, "created_at");
        if (table_add_row(t, cells) != 0) {
            rc = -1;
            goto out;
        }
    }

    if (table_row_count(t) == 0)
        printf("No batches for this connector; start one with 'wharfctl send'.\n");
    else
        table_print(t, stdout);

out:
    table_free(t);
    return rc;
}

static int run_batches(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    char connector_id[RESOLVE_ID_SIZE];
    char path[512];
    api_response response;
    json_object *batches;
    int count;
    int rc = options_parse(ctl, self, argc, argv, NULL, 0, positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count != 1)
        return options_usage_error(self, "batches takes one connector id or name, got %d "
                                         "arguments",
                                   count);

    rc = resolve_connector(ctl, positionals[0], connector_id, sizeof(connector_id));
    if (rc != 0)
        return rc;
    if (api_client_path(path, sizeof(path), "/api/v1/connectors/", connector_id, "/batches") !=
        0) {
        wharfctl_error("connector id \"%s\" is too long", connector_id);
        return WHARFCTL_EXIT_FAILURE;
    }
    if (api_client_call(&ctl->client, "GET", path, NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;

    if (ctl->json_output) {
        wharfctl_print_json(response.body);
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_OK;
    }

    batches = json_array_member(response.body, "batches");
    if (batches == NULL) {
        wharfctl_error("GET %s returned no \"batches\" array; check that --url points at wharfd",
                       path);
        rc = WHARFCTL_EXIT_FAILURE;
    } else if (print_batches(batches) != 0) {
        wharfctl_error("cannot print the batches: out of memory");
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        rc = WHARFCTL_EXIT_OK;
    }
    api_response_cleanup(&response);
    return rc;
}

static int run_batch(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    char path[512];
    api_response response;
    int count;
    int rc = options_parse(ctl, self, argc, argv, NULL, 0, positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count != 1)
        return options_usage_error(self, "batch takes one batch id, got %d arguments", count);

    if (api_client_path(path, sizeof(path), "/api/v1/batches/", positionals[0], "") != 0)
        return options_usage_error(self, "batch id \"%s\" is too long", positionals[0]);
    if (api_client_call(&ctl->client, "GET", path, NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;

    if (ctl->json_output)
        wharfctl_print_json(response.body);
    else
        batch_view_print_details(response.body, stdout);
    api_response_cleanup(&response);
    return WHARFCTL_EXIT_OK;
}

const command command_batches = {
    .name = "batches",
    .summary = "list a connector's manual batches",
    .usage = "Usage: wharfctl batches CONNECTOR\n",
    .help = "Prints one row per manual batch of CONNECTOR (id or unique name): batch id,\n"
            "target (segment, user or account id), state (waiting_for_segment,\n"
            "sending, done, failed, rejected), the counts total, sent, skipped and\n"
            "failed, and when it was created.\n",
    .run = run_batches,
};

const command command_batch = {
    .name = "batch",
    .summary = "show one manual batch: state, counts and error",
    .usage = "Usage: wharfctl batch ID\n",
    .help = "Prints every field of the batch ID, one per line: connector, target,\n"
            "state, the counts total, sent, skipped and failed, the error of a failed\n"
            "or rejected batch, and when it was created and last updated. The exit code\n"
            "is 0 whatever the batch's state; use 'wharfctl send' to wait for one.\n",
    .run = run_batch,
};
