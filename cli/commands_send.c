/* wharfctl send: a manual batch ("Send to"), followed until it ends. */
#include <stdio.h>
#include <string.h>

#include "batch_view.h"
#include "command.h"
#include "interrupt.h"
#include "json_fields.h"
#include "options.h"
#include "progress.h"
#include "resolve.h"

/* Often enough for the bar to move smoothly, rare enough that polling costs
 * wharfd nothing noticeable. */
#define POLL_INTERVAL_MS 250

typedef struct send_options {
    const char *segment;
    const char *user;
    const char *account;
    const char *connector;
    int no_wait;
} send_options;

static int check_options(const command *self, const send_options *options)
{
    const char *names[] = {"--segment", "--user", "--account"};
    const char *values[] = {options->segment, options->user, options->account};
    int target_count = 0;

    for (int i = 0; i < 3; i++) {
        if (values[i] == NULL)
            continue;
        if (values[i][0] == '\0')
            return options_usage_error(self, "%s needs a non-empty value", names[i]);
        target_count++;
    }
    if (target_count != 1)
        return options_usage_error(self, "give exactly one of --segment, --user and --account, "
                                         "got %d",
                                   target_count);
    if (options->connector == NULL)
        return options_usage_error(self, "missing --to CONNECTOR: the connector to send to");
    if (options->connector[0] == '\0')
        return options_usage_error(self, "--to needs a non-empty value");
    return 0;
}

/* Build the batch request body {"segment_id" | "user_id" | "account_id": ID}. */
static int build_request(wharfctl *ctl, const send_options *options, json_object **request)
{
    char id[RESOLVE_ID_SIZE];
    const char *member;
    int rc;

    if (options->segment != NULL) {
        member = "segment_id";
        rc = resolve_segment(ctl, options->segment, id, sizeof(id));
    } else if (options->user != NULL) {
        member = "user_id";
        rc = resolve_user(ctl, options->user, id, sizeof(id));
    } else {
        member = "account_id";
        rc = resolve_account(ctl, options->account, id, sizeof(id));
    }
    if (rc != 0)
        return rc;

    *request = json_object_new_object();
    if (*request == NULL) {
        wharfctl_error("cannot build the batch request: out of memory");
        return WHARFCTL_EXIT_FAILURE;
    }
    json_object_object_add(*request, member, json_object_new_string(id));
    return 0;
}

/* POST the batch. Returns 0 with the batch view in *view (also for a
 * rejected batch, for which wharfd returns 409 with the view), or an exit
 * code after printing the error. */
static int create_batch(wharfctl *ctl, const char *connector_id, json_object *request,
                        json_object **view)
{
    char path[512];
    api_response response;
    int rc;

    if (api_client_path(path, sizeof(path), "/api/v1/connectors/", connector_id, "/batches") !=
        0) {
        wharfctl_error("connector id \"%s\" is too long", connector_id);
        return WHARFCTL_EXIT_FAILURE;
    }
    if (api_client_request(&ctl->client, "POST", path, request, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;

    rc = WHARFCTL_EXIT_OK;
    if ((response.status == 202 || response.status == 409) &&
        json_string_member(response.body, "id") != NULL &&
        json_string_member(response.body, "state") != NULL) {
        *view = json_object_get(response.body);
    } else if (response.status >= 200 && response.status <= 299) {
        wharfctl_error("POST %s returned HTTP %ld without a batch view; check that --url points "
                       "at wharfd",
                       path, response.status);
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        api_client_print_error(&ctl->client, &response);
        rc = WHARFCTL_EXIT_FAILURE;
    }
    api_response_cleanup(&response);
    return rc;
}

/* Poll the batch until it reaches a final state. *view contains the latest
 * view throughout. Returns 0, WHARFCTL_EXIT_INTERRUPTED after Ctrl-C, or
 * WHARFCTL_EXIT_FAILURE when wharfd stopped responding. */
static int follow_batch(wharfctl *ctl, json_object **view, progress *bar)
{
    const char *id = json_string_member(*view, "id");
    char path[512];

    if (api_client_path(path, sizeof(path), "/api/v1/batches/", id, "") != 0) {
        wharfctl_error("batch id \"%s\" is too long", id);
        return WHARFCTL_EXIT_FAILURE;
    }

    while (!batch_view_is_final(json_string_member(*view, "state"))) {
        api_response response;

        interrupt_sleep_ms(POLL_INTERVAL_MS);
        if (interrupt_requested())
            return WHARFCTL_EXIT_INTERRUPTED;
        if (api_client_call(&ctl->client, "GET", path, NULL, &response) != 0)
            return interrupt_requested() ? WHARFCTL_EXIT_INTERRUPTED : WHARFCTL_EXIT_FAILURE;
        if (json_string_member(response.body, "state") == NULL) {
            wharfctl_error("GET %s returned no batch state; check that --url points at wharfd",
                           path);
            api_response_cleanup(&response);
            return WHARFCTL_EXIT_FAILURE;
        }

        json_object_put(*view);
        *view = json_object_get(response.body);
        api_response_cleanup(&response);
        progress_update(bar, *view);
    }
    return 0;
}

static int report_result(wharfctl *ctl, const json_object *view, const char *connector_id)
{
    const char *id = json_string_member(view, "id");
    const char *state = json_string_member(view, "state");
    const char *error = json_string_member(view, "error");

    if (ctl->json_output)
        wharfctl_print_json(view);
    else
        batch_view_print_summary(view, stdout);

    if (strcmp(state, "done") == 0) {
        if (json_integer_member(view, "failed") > 0)
            wharfctl_error("some messages failed; see why with 'wharfctl logs %s --batch %s'",
                           connector_id, id);
        return WHARFCTL_EXIT_OK;
    }
    wharfctl_error("batch %s %s: %s", id, state, error != NULL ? error : "no reason given");
    if (json_integer_member(view, "failed") > 0)
        wharfctl_error("see why with 'wharfctl logs %s --batch %s'", connector_id, id);
    return WHARFCTL_EXIT_FAILURE;
}

static int run_send(wharfctl *ctl, const command *self, int argc, char **argv)
{
    send_options options = {0};
    const option_spec specs[] = {
        {"segment", &options.segment, NULL}, {"user", &options.user, NULL},
        {"account", &options.account, NULL}, {"to", &options.connector, NULL},
        {"no-wait", NULL, &options.no_wait},
    };
    char *positionals[OPTIONS_MAX_POSITIONALS];
    char connector_id[RESOLVE_ID_SIZE];
    json_object *request = NULL;
    json_object *view = NULL;
    progress bar;
    int count;
    int rc = options_parse(ctl, self, argc, argv, specs, sizeof(specs) / sizeof(specs[0]),
                           positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count > 0)
        return options_usage_error(self, "unexpected argument \"%s\"", positionals[0]);
    rc = check_options(self, &options);
    if (rc != 0)
        return rc;

    rc = resolve_connector(ctl, options.connector, connector_id, sizeof(connector_id));
    if (rc == 0)
        rc = build_request(ctl, &options, &request);
    if (rc == 0)
        rc = create_batch(ctl, connector_id, request, &view);
    json_object_put(request);
    if (rc != 0)
        return rc;

    if (options.no_wait) {
        if (ctl->json_output)
            wharfctl_print_json(view);
        else
            batch_view_print_summary(view, stdout);
        rc = strcmp(json_string_member(view, "state"), "rejected") == 0 ? WHARFCTL_EXIT_FAILURE
                                                                       : WHARFCTL_EXIT_OK;
        json_object_put(view);
        return rc;
    }

    /* From here on Ctrl-C only stops the waiting: the batch goes on in wharfd. */
    if (interrupt_catch() != 0)
        wharfctl_error("cannot catch Ctrl-C; it will end wharfctl at once");
    progress_start(&bar, stderr);
    progress_update(&bar, view);
    rc = follow_batch(ctl, &view, &bar);
    progress_finish(&bar);

    if (rc == WHARFCTL_EXIT_INTERRUPTED)
        wharfctl_error("stopped waiting; batch %s goes on in wharfd: check it with "
                       "'wharfctl batch %s'",
                       json_string_member(view, "id"), json_string_member(view, "id"));
    else if (rc != 0)
        wharfctl_error("lost track of batch %s; check it with 'wharfctl batch %s'",
                       json_string_member(view, "id"), json_string_member(view, "id"));
    else
        rc = report_result(ctl, view, connector_id);
    json_object_put(view);
    return rc;
}

const command command_send = {
    .name = "send",
    .summary = "send a segment, a user or an account to a connector and wait",
    .usage = "Usage: wharfctl send --segment SEGMENT --to CONNECTOR [--no-wait]\n"
             "       wharfctl send --user USER --to CONNECTOR [--no-wait]\n"
             "       wharfctl send --account ACCOUNT --to CONNECTOR [--no-wait]\n",
    .help = "Starts a manual batch (\"Send to\"): every member of SEGMENT, or one user\n"
            "or account, goes to CONNECTOR as a message marked is_export, without\n"
            "changes or events. wharfctl then polls the batch until it is done, failed\n"
            "or rejected, and prints its state and counts:\n"
            "  batch ID done: total 120, sent 118, skipped 2, failed 0\n"
            "\n"
            "  --segment SEGMENT   segment id, or a unique segment name\n"
            "  --user USER         user id, external_id or email\n"
            "  --account ACCOUNT   account id, external_id or domain\n"
            "  --to CONNECTOR      connector id, or a unique connector name\n"
            "  --no-wait           print the batch as created and exit without waiting\n"
            "\n"
            "While it waits, a progress bar is drawn on stderr when stderr is a terminal;\n"
            "otherwise stderr gets one line per state change (waiting_for_segment,\n"
            "sending, then the final state). A batch on a segment that is still\n"
            "computing waits until the segment is ready.\n"
            "\n"
            "Exit code 0 when the batch is done, 1 when it failed or was rejected (its\n"
            "error is printed) or the API returned an error. When messages failed,\n"
            "stderr also shows the 'wharfctl logs' command that lists them.\n"
            "Ctrl-C stops waiting, leaves the batch running in wharfd and exits with 130.\n",
    .run = run_send,
};
