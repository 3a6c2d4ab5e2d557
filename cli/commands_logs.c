/* wharfctl logs CONNECTOR: read a connector's log, optionally following it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "interrupt.h"
#include "json_fields.h"
#include "log_filters.h"
#include "log_line.h"
#include "options.h"
#include "resolve.h"

/* --follow requests new lines this often, as tail -f does. */
#define FOLLOW_INTERVAL_MS 1000

/* The largest page GET /api/v1/connectors/{id}/logs returns. */
#define FOLLOW_PAGE_LIMIT 1000

#define QUERY_SIZE 4096

typedef struct logs_options {
    const char *message;
    const char *user;
    const char *account;
    const char *batch;
    const char *since;
    const char *limit;
    int follow;
} logs_options;

/* Append "&name=value" (or "?name=value" first) to query. Returns 0, or -1
 * when the query would not fit. */
static int append_param(char *query, size_t size, const char *name, const char *value)
{
    size_t used = strlen(query);
    char *escaped;
    int written;

    if (value == NULL)
        return 0;
    escaped = api_client_escape(value);
    if (escaped == NULL)
        return -1;
    written = snprintf(query + used, size - used, "%c%s=%s", used == 0 ? '?' : '&', name,
                       escaped);
    free(escaped);
    return written < 0 || (size_t)written >= size - used ? -1 : 0;
}

/* Check the filters that need no request: an empty value, an unknown
 * --message, a malformed --since. Returns 0 with the --since time in
 * since, or an exit code after printing a usage error. */
static int check_filters(const command *self, const logs_options *options, char *since,
                         size_t since_size)
{
    const char *names[] = {"--user", "--account", "--batch"};
    const char *values[] = {options->user, options->account, options->batch};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (values[i] != NULL && values[i][0] == '\0')
            return options_usage_error(self, "%s needs a non-empty value", names[i]);
    }
    if (options->message != NULL && !log_filters_message_known(options->message))
        return options_usage_error(self, "invalid --message \"%s\": expected one of %s",
                                   options->message, log_filters_message_names());

    since[0] = '\0';
    if (options->since != NULL && log_filters_since(options->since, since, since_size) != 0)
        return options_usage_error(
            self,
            "invalid --since \"%s\": give an ISO 8601 UTC time such as 2026-12-04T20:00:00Z, "
            "or an age such as 90s, 30m, 2h or 7d (at most %dd)",
            options->since, LOG_FILTERS_MAX_AGE_DAYS);
    return 0;
}

/* Turn --user and --account into ids, as resolve_log_user and
 * resolve_log_account do. Returns 0, or an exit code after an error. */
static int resolve_entities(wharfctl *ctl, const logs_options *options,
                            char user_id[RESOLVE_ID_SIZE], char account_id[RESOLVE_ID_SIZE])
{
    int rc;

    user_id[0] = '\0';
    account_id[0] = '\0';
    if (options->user != NULL) {
        rc = resolve_log_user(ctl, options->user, user_id, RESOLVE_ID_SIZE);
        if (rc != 0)
            return rc;
    }
    if (options->account != NULL) {
        rc = resolve_log_account(ctl, options->account, account_id, RESOLVE_ID_SIZE);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Build "?message=...&user_id=..." from the filters; empty values are left
 * out. Returns 0, or an exit code after printing a usage error. */
static int build_query(const command *self, const logs_options *options, const char *user_id,
                       const char *account_id, const char *since, char *query, size_t size)
{
    query[0] = '\0';
    if (append_param(query, size, "message", options->message) != 0 ||
        append_param(query, size, "user_id", user_id[0] != '\0' ? user_id : NULL) != 0 ||
        append_param(query, size, "account_id", account_id[0] != '\0' ? account_id : NULL) !=
            0 ||
        append_param(query, size, "batch_id", options->batch) != 0 ||
        append_param(query, size, "since", since[0] != '\0' ? since : NULL) != 0)
        return options_usage_error(self, "the filters are too long for one request");
    return 0;
}

/* GET the log lines for path + query + extra; *lines is the "lines" array
 * of the response, to be released with it. */
static int read_lines(wharfctl *ctl, const char *path, const char *query, const char *extra,
                      api_response *response, json_object **lines)
{
    char target[QUERY_SIZE + 1024];

    snprintf(target, sizeof(target), "%s%s%s%s", path, query, query[0] == '\0' ? "?" : "&",
             extra);
    if (api_client_call(&ctl->client, "GET", target, NULL, response) != 0)
        return -1;
    *lines = json_array_member(response->body, "lines");
    if (*lines == NULL) {
        wharfctl_error("GET %s returned no \"lines\" array; check that --url points at wharfd",
                       target);
        api_response_cleanup(response);
        return -1;
    }
    return 0;
}

/* Print lines with a sequence above *last, oldest first, and raise *last. */
static void print_new_lines(wharfctl *ctl, json_object *lines, int64_t *last)
{
    log_line_sort(lines);
    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *line = json_object_array_get_idx(lines, i);
        int64_t sequence = log_line_sequence(line);

        if (sequence <= *last)
            continue;
        if (ctl->json_output)
            puts(json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        else
            log_line_print(line, stdout);
        *last = sequence;
    }
    fflush(stdout);
}

/* The sequence of the connector's newest line, whatever the filters, so
 * that following starts after everything already written. 0 when the log
 * is empty; -1 after an error. */
static int64_t newest_sequence(wharfctl *ctl, const char *path)
{
    api_response response;
    json_object *lines;
    int64_t sequence = 0;

    if (read_lines(ctl, path, "", "limit=1", &response, &lines) != 0)
        return -1;
    if (json_object_array_length(lines) > 0)
        sequence = log_line_sequence(json_object_array_get_idx(lines, 0));
    api_response_cleanup(&response);
    return sequence;
}

/* Poll for lines after *last until Ctrl-C. Returns an exit code. */
static int follow(wharfctl *ctl, const char *path, const char *query, int64_t last)
{
    if (interrupt_catch() != 0)
        wharfctl_error("cannot catch Ctrl-C; it will end wharfctl at once");

    while (!interrupt_requested()) {
        char after[64];
        api_response response;
        json_object *lines;
        size_t count;

        snprintf(after, sizeof(after), "after=%" PRId64 "&limit=%d", last, FOLLOW_PAGE_LIMIT);
        if (read_lines(ctl, path, query, after, &response, &lines) != 0)
            return interrupt_requested() ? WHARFCTL_EXIT_OK : WHARFCTL_EXIT_FAILURE;
        /* NOTE: while the log is empty, after=0 reads the newest page instead
         * of the oldest, so a burst of more than a page in the first second
         * shows only its newest lines. */
        count = json_object_array_length(lines);
        print_new_lines(ctl, lines, &last);
        api_response_cleanup(&response);

        /* A full page means more lines are waiting: read on at once. */
        if (count < FOLLOW_PAGE_LIMIT)
            interrupt_sleep_ms(FOLLOW_INTERVAL_MS);
    }
    return WHARFCTL_EXIT_OK;
}

static int run_logs(wharfctl *ctl, const command *self, int argc, char **argv)
{
    logs_options options = {0};
    const option_spec specs[] = {
        {"message", &options.message, NULL}, {"user", &options.user, NULL},
        {"account", &options.account, NULL}, {"batch", &options.batch, NULL},
        {"since", &options.since, NULL},     {"limit", &options.limit, NULL},
        {"follow", NULL, &options.follow},
    };
    char *positionals[OPTIONS_MAX_POSITIONALS];
    char connector_id[RESOLVE_ID_SIZE];
    char user_id[RESOLVE_ID_SIZE];
    char account_id[RESOLVE_ID_SIZE];
    char since[64];
    char path[512];
    char query[QUERY_SIZE];
    char limit[32] = "limit=100";
    api_response response;
    json_object *lines;
    int64_t last = 0;
    long limit_value;
    int count;
    int rc = options_parse(ctl, self, argc, argv, specs, sizeof(specs) / sizeof(specs[0]),
                           positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count != 1)
        return options_usage_error(self, "logs takes one connector id or name, got %d arguments",
                                   count);
    if (options.limit != NULL) {
        rc = options_parse_integer(self, "--limit", options.limit, 1, FOLLOW_PAGE_LIMIT,
                                   &limit_value);
        if (rc != 0)
            return rc;
        snprintf(limit, sizeof(limit), "limit=%ld", limit_value);
    }
    rc = check_filters(self, &options, since, sizeof(since));
    if (rc != 0)
        return rc;

    rc = resolve_connector(ctl, positionals[0], connector_id, sizeof(connector_id));
    if (rc == 0)
        rc = resolve_entities(ctl, &options, user_id, account_id);
    if (rc == 0)
        rc = build_query(self, &options, user_id, account_id, since, query, sizeof(query));
    if (rc != 0)
        return rc;
    if (api_client_path(path, sizeof(path), "/api/v1/connectors/", connector_id, "/logs") != 0) {
        wharfctl_error("connector id \"%s\" is too long", connector_id);
        return WHARFCTL_EXIT_FAILURE;
    }

    /* Read the newest sequence before the first page, so that a line
     * written in between is either on that page or comes after it. */
    if (options.follow) {
        last = newest_sequence(ctl, path);
        if (last < 0)
            return WHARFCTL_EXIT_FAILURE;
    }

    if (read_lines(ctl, path, query, limit, &response, &lines) != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (ctl->json_output && !options.follow) {
        wharfctl_print_json(response.body);
    } else {
        int64_t printed = 0;

        print_new_lines(ctl, lines, &printed);
        if (printed > last)
            last = printed;
    }
    api_response_cleanup(&response);

    return options.follow ? follow(ctl, path, query, last) : WHARFCTL_EXIT_OK;
}

const command command_logs = {
    .name = "logs",
    .summary = "read a connector's log: what was sent, skipped or failed, and why",
    .usage = "Usage: wharfctl logs CONNECTOR [--message M] [--user U] [--account A]\n"
             "                     [--batch B] [--since TIME] [--limit N] [--follow]\n",
    .help = "Prints the newest log lines of CONNECTOR (id or unique name) that match\n"
            "every filter given, oldest first, one per line:\n"
            "  TIME MESSAGE IDENTITY ENTITY_ID BATCH_ID DATA\n"
            "IDENTITY is the external_id, else the email (users) or domain (accounts);\n"
            "ENTITY_ID the user or account id; DATA the line's data as JSON (reason,\n"
            "status_code, attempt). A missing field prints as \"-\".\n"
            "\n"
            "  --message M    only lines with this message: outgoing.user.start, .success,\n"
            "                 .skip, .retry or .error, or the same for outgoing.account\n"
            "  --user U       only lines about user U: an id, external_id or email\n"
            "  --account A    only lines about account A: an id, external_id or domain\n"
            "  --batch B      only lines of the manual batch with id B\n"
            "  --since TIME   only lines from TIME on: an ISO 8601 UTC time such as\n"
            "                 2026-12-04T20:00:00Z, or an age such as 90s, 30m, 2h, 7d\n"
            "                 (at most 3650d)\n"
            "  --limit N      print at most the newest N lines, 1 to 1000 (default 100)\n"
            "  --follow       keep running and print new lines as they are written,\n"
            "                 checking every second, until Ctrl-C (which exits with 0)\n"
            "\n"
            "--user and --account look the value up as send does: an id first, then an\n"
            "external_id, then an email or domain. A UUID that matches no user or\n"
            "account is used as the id, so lines about one that was merged away can\n"
            "still be read.\n"
            "\n"
            "With --json the API's response is printed as it came (newest line first);\n"
            "with --json --follow, each line is printed as one JSON object per line.\n",
    .run = run_logs,
};
