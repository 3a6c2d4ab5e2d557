/* wharfctl connectors: list, create from a JSON file, delete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "json_fields.h"
#include "options.h"
#include "resolve.h"
#include "table.h"

/* A connector definition is a few settings; anything larger is most likely
 * the wrong file. */
#define DEFINITION_MAX_BYTES (1024L * 1024)

/* Read all of path ("-" for standard input) into a NUL-terminated buffer.
 * Returns 0, or -errno (-EFBIG when larger than DEFINITION_MAX_BYTES). */
static int read_definition(const char *path, char **text, size_t *length)
{
    FILE *file = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buffer = NULL;
    size_t used = 0;
    size_t capacity = 0;
    int rc = 0;

    *text = NULL;
    if (file == NULL)
        return -errno;

    for (;;) {
        size_t got;

        if (used + 4096 + 1 > capacity) {
            char *grown;

            capacity = capacity == 0 ? 8192 : capacity * 2;
            grown = realloc(buffer, capacity);
            if (grown == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            buffer = grown;
        }
        got = fread(buffer + used, 1, capacity - used - 1, file);
        used += got;
        if (used > (size_t)DEFINITION_MAX_BYTES) {
            rc = -EFBIG;
            goto out;
        }
        if (got == 0) {
            if (ferror(file))
                rc = -EIO;
            break;
        }
    }

out:
    if (file != stdin)
        fclose(file);
    if (rc != 0) {
        free(buffer);
        return rc;
    }
    buffer[used] = '\0';
    *text = buffer;
    *length = used;
    return 0;
}

static int only_whitespace(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
            return 0;
    }
    return 1;
}

/* Whether the first length bytes of text are standard JSON in UTF-8 (no
 * trailing commas or single quotes, which json-c otherwise accepts and
 * wharfd does not); if not, say where. */
static int strict_json(const char *path, const char *text, size_t length)
{
    json_tokener *tokener = json_tokener_new();
    json_object *value;
    enum json_tokener_error error;

    if (tokener == NULL)
        return 1; /* the API checks it again */
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    value = json_tokener_parse_ex(tokener, text, (int)length);
    error = json_tokener_get_error(tokener);
    if (error != json_tokener_success)
        wharfctl_error("%s is not valid JSON: %s at byte %zu; fix the file and try again", path,
                       json_tokener_error_desc(error), json_tokener_get_parse_end(tokener));
    json_object_put(value);
    json_tokener_free(tokener);
    return error == json_tokener_success;
}

/* Parse the definition; on a syntax error print where it is and return NULL. */
static json_object *parse_definition(const char *path, const char *text, size_t length)
{
    json_tokener *tokener = json_tokener_new();
    json_object *definition;
    enum json_tokener_error error;
    size_t end;

    if (tokener == NULL) {
        wharfctl_error("cannot parse %s: out of memory", path);
        return NULL;
    }
    definition = json_tokener_parse_ex(tokener, text, (int)length);
    error = json_tokener_get_error(tokener);
    end = json_tokener_get_parse_end(tokener);
    /* The tokener cannot tell that a bare number or literal at the end of the
     * file is complete, so it returns "continue" until it reads the NUL. */
    if (error == json_tokener_continue) {
        definition = json_tokener_parse_ex(tokener, "", 1);
        error = json_tokener_get_error(tokener);
        end = length;
    }
    if (error != json_tokener_success) {
        wharfctl_error("%s is not valid JSON: %s at byte %zu; fix the file and try again", path,
                       json_tokener_error_desc(error), end);
        json_object_put(definition);
        definition = NULL;
    } else if (!only_whitespace(text + end, length - end)) {
        wharfctl_error("%s contains more than one JSON value: text follows at byte %zu; keep one "
                       "object in the file",
                       path, end);
        json_object_put(definition);
        definition = NULL;
    } else if (!json_object_is_type(definition, json_type_object)) {
        wharfctl_error("%s must contain one JSON object such as {\"name\": \"...\", \"plugin\": "
                       "\"webhook\", \"settings\": {...}}, got a JSON %s",
                       path, json_type_to_name(json_object_get_type(definition)));
        json_object_put(definition);
        definition = NULL;
    } else if (!strict_json(path, text, end)) {
        json_object_put(definition);
        definition = NULL;
    }
    json_tokener_free(tokener);
    return definition;
}

static int create_connector(wharfctl *ctl, const char *path)
{
    api_response response;
    json_object *definition;
    const char *id;
    char *text;
    size_t length = 0;
    int rc = read_definition(path, &text, &length);

    if (rc == -EFBIG) {
        wharfctl_error("%s is larger than %ld KiB, too large for a connector definition", path,
                       DEFINITION_MAX_BYTES / 1024);
        return WHARFCTL_EXIT_USAGE;
    }
    if (rc != 0) {
        wharfctl_error("cannot read %s: %s", path, strerror(-rc));
        return WHARFCTL_EXIT_USAGE;
    }
    definition = parse_definition(path, text, length);
    free(text);
    if (definition == NULL)
        return WHARFCTL_EXIT_USAGE;

    rc = api_client_call(&ctl->client, "POST", "/api/v1/connectors", definition, &response);
    json_object_put(definition);
    if (rc != 0)
        return WHARFCTL_EXIT_FAILURE;

    id = json_string_member(response.body, "id");
    if (ctl->json_output) {
        wharfctl_print_json(response.body);
        rc = WHARFCTL_EXIT_OK;
    } else if (id == NULL) {
        wharfctl_error("POST /api/v1/connectors returned no connector id; check that --url "
                       "points at wharfd");
        rc = WHARFCTL_EXIT_FAILURE;
    } else {
        /* Only the id, so that scripts can write ID=$(wharfctl connectors create f.json). */
        printf("%s\n", id);
        rc = WHARFCTL_EXIT_OK;
    }
    api_response_cleanup(&response);
    return rc;
}

static int delete_connector(wharfctl *ctl, const char *reference)
{
    char id[RESOLVE_ID_SIZE];
    char path[512];
    api_response response;
    int rc = resolve_connector(ctl, reference, id, sizeof(id));

    if (rc != 0)
        return rc;
    if (api_client_path(path, sizeof(path), "/api/v1/connectors/", id, "") != 0) {
        wharfctl_error("connector id \"%s\" is too long", id);
        return WHARFCTL_EXIT_FAILURE;
    }
    if (api_client_call(&ctl->client, "DELETE", path, NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    api_response_cleanup(&response);

    /* DELETE returns 204 without a body, so --json has nothing to print. */
    if (!ctl->json_output)
        printf("deleted connector %s\n", id);
    return WHARFCTL_EXIT_OK;
}

/* A whitelist as the operator thinks of it: segment names, "ALL", or "none". */
static char *whitelist_text(json_object *whitelist, json_object *segments)
{
    json_object *names = json_object_new_array();
    char *text;

    if (names == NULL)
        return NULL;
    for (size_t i = 0; whitelist != NULL && i < json_object_array_length(whitelist); i++) {
        json_object *entry = json_object_array_get_idx(whitelist, i);
        const char *segment_id = json_object_get_string(entry);
        const char *name = segment_id;

        for (size_t j = 0; segments != NULL && j < json_object_array_length(segments); j++) {
            json_object *segment = json_object_array_get_idx(segments, j);
            const char *candidate = json_string_member(segment, "id");

            if (candidate != NULL && segment_id != NULL && strcmp(candidate, segment_id) == 0) {
                name = json_string_member(segment, "name");
                break;
            }
        }
        json_object_array_add(names, json_object_new_string(name != NULL ? name : "?"));
    }

    text = json_object_array_length(names) == 0 ? strdup("none") : json_join_strings(names, ", ");
    json_object_put(names);
    return text;
}

static int print_connectors(json_object *connectors, json_object *segments)
{
    static const char *const headers[] = {"ID",     "NAME",           "PLUGIN",
                                          "STATUS", "USER WHITELIST", "ACCOUNT WHITELIST"};
    table *t = table_create(6, headers);
    int rc = 0;

    if (t == NULL)
        return -1;
    for (size_t i = 0; i < json_object_array_length(connectors); i++) {
        json_object *connector = json_object_array_get_idx(connectors, i);
        char *users = whitelist_text(
            json_array_member(connector, "synchronized_user_segments"), segments);
        char *accounts = whitelist_text(
            json_array_member(connector, "synchronized_account_segments"), segments);
        const char *cells[6] = {
            json_string_member(connector, "id"),     json_string_member(connector, "name"),
            json_string_member(connector, "plugin"), json_string_member(connector, "status"),
            users,                                   accounts,
        };

        if (users == NULL || accounts == NULL || table_add_row(t, cells) != 0)
            rc = -1;
        free(users);
        free(accounts);
        if (rc != 0)
            goto out;
    }

    if (table_row_count(t) == 0) {
        printf("No connectors; create one with 'wharfctl connectors create FILE.json'.\n");
        goto out;
    }
    table_print(t, stdout);

    /* The reason a connector does not run is too long for a column. */
    for (size_t i = 0; i < json_object_array_length(connectors); i++) {
        json_object *connector = json_object_array_get_idx(connectors, i);
        const char *error = json_string_member(connector, "error");

        if (error != NULL)
            printf("\n%s (%s): %s\n", json_string_member(connector, "name"),
                   json_string_member(connector, "id"), error);
    }

out:
    table_free(t);
    return rc;
}

static int list_connectors(wharfctl *ctl)
{
    api_response response;
    api_response segments_response;
    json_object *connectors;
    int rc;

    if (api_client_call(&ctl->client, "GET", "/api/v1/connectors", NULL, &response) != 0)
        return WHARFCTL_EXIT_FAILURE;
    if (ctl->json_output) {
        wharfctl_print_json(response.body);
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_OK;
    }

    connectors = json_array_member(response.body, "connectors");
    if (connectors == NULL) {
        wharfctl_error("GET /api/v1/connectors returned no \"connectors\" array; check that "
                       "--url points at wharfd");
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_FAILURE;
    }

    /* Segment names make the whitelists readable. */
    if (api_client_call(&ctl->client, "GET", "/api/v1/segments", NULL, &segments_response) != 0) {
        api_response_cleanup(&response);
        return WHARFCTL_EXIT_FAILURE;
    }

    rc = WHARFCTL_EXIT_OK;
    if (print_connectors(connectors, json_array_member(segments_response.body, "segments")) !=
        0) {
        wharfctl_error("cannot print the connectors: out of memory");
        rc = WHARFCTL_EXIT_FAILURE;
    }
    api_response_cleanup(&segments_response);
    api_response_cleanup(&response);
    return rc;
}

static int run_connectors(wharfctl *ctl, const command *self, int argc, char **argv)
{
    char *positionals[OPTIONS_MAX_POSITIONALS];
    int count;
    int rc = options_parse(ctl, self, argc, argv, NULL, 0, positionals, &count);
    const char *action;

    if (rc != OPTIONS_CONTINUE)
        return rc;

    action = count > 0 ? positionals[0] : "list";
    if (strcmp(action, "list") == 0) {
        if (count > 1)
            return options_usage_error(self, "unexpected argument \"%s\"", positionals[1]);
        return list_connectors(ctl);
    }
    if (strcmp(action, "create") == 0) {
        if (count != 2)
            return options_usage_error(self, "connectors create takes one FILE.json, got %d "
                                             "arguments",
                                       count - 1);
        return create_connector(ctl, positionals[1]);
    }
    if (strcmp(action, "delete") == 0) {
        if (count != 2)
            return options_usage_error(self, "connectors delete takes one connector id or name, "
                                             "got %d arguments",
                                       count - 1);
        return delete_connector(ctl, positionals[1]);
    }
    return options_usage_error(self, "unknown action \"%s\"; use list, create or delete", action);
}

const command command_connectors = {
    .name = "connectors",
    .summary = "list, create or delete connectors",
    .usage = "Usage: wharfctl connectors [list]\n"
             "       wharfctl connectors create FILE.json\n"
             "       wharfctl connectors delete CONNECTOR\n",
    .help = "list (the default) prints one row per connector: id, name, plugin, status\n"
            "(active, error or plugin_missing), and the segments of its user and account\n"
            "whitelists by name (ALL for every entity, none when empty). A connector\n"
            "that does not run is followed by the reason.\n"
            "\n"
            "create sends the JSON object in FILE.json (\"-\" reads standard input) as\n"
            "the new connector and prints its id, for example:\n"
            "  {\"name\": \"CRM hook\", \"plugin\": \"webhook\",\n"
            "   \"settings\": {\"url\": \"https://hooks.example.com/wharf\"},\n"
            "   \"synchronized_user_segments\": [\"ALL\"]}\n"
            "A file that cannot be read or is not a JSON object is a usage error (exit 2).\n"
            "\n"
            "delete stops and removes CONNECTOR, named by id or by a unique name; its\n"
            "running batches fail.\n",
    .run = run_connectors,
};
