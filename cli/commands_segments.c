/* wharfctl segments: every segment with its type, status and size. */
#include <inttypes.h>
#include <stdio.h>

#include "command.h"
#include "json_fields.h"
#include "options.h"
#include "table.h"

static int print_segments(json_object *segments)
{
    static const char *const headers[] = {"ID", "NAME", "TYPE", "STATUS", "SIZE"};
    table *t = table_create(5, headers);
    int rc = 0;

    if (t == NULL)
        return -1;
    for (size_t i = 0; i < json_object_array_length(segments); i++) {
        json_object *segment = json_object_array_get_idx(segments, i);
        char size[32];
        const char *cells[5] = {
            json_string_member(segment, "id"),     json_string_member(segment, "name"),
            json_string_member(segment, "type"),   json_string_member(segment, "status"),
            size,
        };

        snprintf(size, sizeof(size), "%" PRId64, json_integer_member(segment, "size"));
        if (table_add_row(t, cells) != 0) {
            rc = -1;
            goto out;
        }
    }

    if (table_row_count(t) == 0)
        printf("No segments; create one with POST /api/v1/segments.\n");
    else
        table_print(t, stdout);

out:
    table_free(t);
    return rc;
}

static int run_segments(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    int count;
    api_response response;
    json_object *segments;
    int rc = options_parse(ctl, self, argc, argv, NULL, 0, positionals, &count);

    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (count > 0)
        return options_usage_error(self, "unexpected argument \"%s\"", positionals[0]);

    if (api_client_call(&ctl->client, "GET", "/api/v1/segments", NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (ctl->json_output) {
        wharfctl_print_json(response.body);
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_OK;
    }

    segments = json_array_member(response.body, "segments");
    if (segments == NULL) {
        wharfctl_error("GET /api/v1/segments returned no \"segments\" array; check that --url "
                       "points at wharfd");
        rc = WHARFCTL_EXIT_FAILURE;
    } else if (print_segments(segments) != 0) {
        wharfctl_error("cannot print the segments: out of memory");
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        rc = WHARFCTL_EXIT_OK;
    }
    api_response_cleanup(&response);
    return rc;
}

const command command_segments = {
    .name = "segments",
    .summary = "list the segments with their type, status and size",
    .usage = "Usage: wharfctl segments\n",
    .help = "Prints one row per segment: id, name, type (users or accounts), status\n"
            "(computing while wharfd recomputes its membership, else ready) and size,\n"
            "the number of members when it was last computed.\n",
    .run = run_segments,
};
