/* wharfctl dead-letters CONNECTOR and wharfctl resend CONNECTOR: messages
 * that failed for good, and putting them back on the queue. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "json_fields.h"
#include "options.h"
#include "resolve.h"
#include "table.h"


static const char *entity_of(json_object *letter)
{
    const char *id = json_string_member(letter, "user_id");

    return id != NULL ? id : json_string_member(letter, "account_id");
}

static int print_dead_letters(json_object *letters)
{
    static const char *const headers[] = {"ID", "TYPE", "ENTITY", "ATTEMPTS", "CREATED AT",
                                          "REASON"};
    table *t = table_create(6, headers);
    int rc = 0;

    if (t == NULL)
        return -1;
    for (size_t i = 0; i < json_object_array_length(letters); i++) {
        json_object *letter = json_object_array_get_idx(letters, i);
        char id[32];
        char attempts[32];
        const char *cells[6];

        snprintf(id, sizeof(id), "%" PRId64, json_integer_member(letter, "id"));
        snprintf(attempts, sizeof(attempts), "%" PRId64, json_integer_member(letter, "attempts"));
        cells[0] = id;
        cells[1] = json_string_member(letter, "type");
        cells[2] = entity_of(letter);
        cells[3] = attempts;
        cells[4] = json_string_member(letter, "created_at");
        cells[5] = json_string_member(letter, "reason");
        if (table_add_row(t, cells) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        if (table_row_count(t) == 0)
            printf("No dead letters for this connector.\n");
        else
            table_print(t, stdout);
    }
    table_free(t);
    return rc;
}

static int connector_path(wharfctl *ctl, const char *name, const char *suffix, char *path,
                          size_t size)
{
    char connector_id[RESOLVE_ID_SIZE];
    int rc = resolve_connector(ctl, name, connector_id, sizeof(connector_id));

    if (rc != 0)
        return rc;
    if (api_client_path(path, size, "/api/v1/connectors/", connector_id, suffix) != 0) {
        wharfctl_error("connector id \"%s\" is too long", connector_id);
        return WHARFCTL_EXIT_FAILURE;
    }
    return 0;
}

static int run_dead_letters(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    const char *limit_text = NULL;
    const option_spec specs[] = {{"limit", &limit_text, NULL}};
    char path[512];
    char query[600];
    long limit = 100;
    api_response response;
    json_object *letters;
    int count;
    int rc = options_parse(ctl, self, argc, argv, specs, 1, positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count != 1)
        return options_usage_error(self,
                                   "dead-letters takes one connector id or name, got %d arguments",
                                   count);
    if (limit_text != NULL &&
        (rc = options_parse_integer(self, "--limit", limit_text, 1, 1000, &limit)) != 0)
        return rc;
    rc = connector_path(ctl, positionals[0], "/dead-letters", path, sizeof(path));
    if (rc != 0)
        return rc;
    snprintf(query, sizeof(query), "%s?limit=%ld", path, limit);
    if (api_client_call(&ctl->client, "GET", query, NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (ctl->json_output) {
        wharfctl_print_json(response.body);
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_OK;
    }
    letters = json_array_member(response.body, "dead_letters");
    if (letters == NULL) {
        wharfctl_error("GET %s returned no \"dead_letters\" array; check that --url points at "
                       "wharfd",
                       path);
        rc = WHARFCTL_EXIT_FAILURE;
    } else if (print_dead_letters(letters) != 0) {
        wharfctl_error("cannot print the dead letters: out of memory");
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        rc = WHARFCTL_EXIT_OK;
    }
    api_response_cleanup(&response);
    return rc;
}

static int run_resend(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    int all = 0;
    const option_spec specs[] = {{"all", NULL, &all}};
    char path[512];
    api_response response;
    json_object *body;
    int count;
    int rc = options_parse(ctl, self, argc, argv, specs, 1, positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count < 1)
        return options_usage_error(self, "resend takes a connector id or name");
    if (all == (count > 1))
        return options_usage_error(self, all ? "give either --all or dead letter ids, not both"
                                             : "give dead letter ids, or --all for every one");

    body = json_object_new_object();
    if (!all) {
        json_object *ids = json_object_new_array();

        json_object_object_add(body, "ids", ids);
        for (int i = 1; i < count; i++) {
            char *end;
            long long id = strtoll(positionals[i], &end, 10);

            if (*end != '\0' || positionals[i][0] == '\0' || id <= 0) {
                json_object_put(body);
                return options_usage_error(self,
                                           "\"%s\" is not a dead letter id; ids are the positive "
                                           "integers 'wharfctl dead-letters' prints",
                                           positionals[i]);
            }
            json_object_array_add(ids, json_object_new_int64(id));
        }
    }
    rc = connector_path(ctl, positionals[0], "/dead-letters/resend", path, sizeof(path));
    if (rc != 0) {
        json_object_put(body);
        return rc;
    }
    rc = api_client_call(&ctl->client, "POST", path, body, &response);
    json_object_put(body);
    if (rc != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (ctl->json_output)
        wharfctl_print_json(response.body);
    else {
        int64_t requeued = json_integer_member(response.body, "requeued");
        printf("Re-queued %" PRId64 " dead letter%s.\n", requeued, requeued == 1 ? "" : "s");
    }
    api_response_cleanup(&response);
    return WHARFCTL_EXIT_OK;
}

const command command_dead_letters = {
    .name = "dead-letters",
    .summary = "list a connector's dead letters: messages that failed for good",
    .usage = "Usage: wharfctl dead-letters CONNECTOR [--limit N]\n",
    .help = "Prints the oldest dead letters of CONNECTOR (id or unique name), one per\n"
            "line: ID TYPE ENTITY ATTEMPTS CREATED_AT REASON. A message becomes a dead\n"
            "letter when its plugin reports an error, or when it still fails after the\n"
            "connector's delivery.max_attempts or delivery.max_age_seconds. Fix the\n"
            "cause (the reason says what), then 'wharfctl resend'.\n"
            "\n"
            "  --limit N      print at most N dead letters, 1 to 1000 (default 100)\n",
    .run = run_dead_letters,
};

const command command_resend = {
    .name = "resend",
    .summary = "put a connector's dead letters back on its queue",
    .usage = "Usage: wharfctl resend CONNECTOR (--all | ID...)\n",
    .help = "Re-queues the dead letters of CONNECTOR with the given ids (as\n"
            "'wharfctl dead-letters' prints them), or all of them with --all. They go\n"
            "after the messages already queued, with their attempt count reset.\n"
            "\n"
            "  --all          re-queue every dead letter of the connector\n",
    .run = run_resend,
};
