/*
 * wharfctl: the operator's command-line client for wharfd.
 *
 * It talks to wharfd only over the HTTP API (/api/v1/...), never through
 * the core's code, so it works against any wharfd it can reach.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "options.h"
#include "wharfctl.h"

/* "wharfctl help [COMMAND]", for those who type it instead of --help. */
static int print_help(int argc, char **argv)
{
    const command *cmd;

    if (argc < 2) {
        command_print_main_help(stdout);
        return WHARFCTL_EXIT_OK;
    }
    cmd = command_find(argv[1]);
    if (cmd == NULL)
        return options_usage_error(NULL, "unknown command \"%s\"", argv[1]);
    options_print_command_help(cmd);
    return WHARFCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    wharfctl ctl = {
        .client = {.timeout_ms = WHARFCTL_DEFAULT_TIMEOUT_MS},
        .url = WHARFCTL_DEFAULT_URL,
        .url_source = "the default URL",
    };
    const char *environment_url = getenv("WHARF_URL");
    const char *environment_token = getenv("WHARF_ADMIN_TOKEN");
    const command *cmd;
    int command_index = 0;
    int rc;

    if (environment_url != NULL && environment_url[0] != '\0') {
        ctl.url = environment_url;
        ctl.url_source = "WHARF_URL";
    }
    if (environment_token != NULL && environment_token[0] != '\0') {
        ctl.client.token = environment_token;
        ctl.client.token_source = "WHARF_ADMIN_TOKEN";
    }

    rc = options_parse_global(&ctl, argc, argv, &command_index);
    if (rc != OPTIONS_CONTINUE)
        return rc;
    if (command_index >= argc)
        return options_usage_error(NULL, "missing the command");
    if (strcmp(argv[command_index], "help") == 0)
        return print_help(argc - command_index, argv + command_index);
    cmd = command_find(argv[command_index]);
    if (cmd == NULL)
        return options_usage_error(NULL, "unknown command \"%s\"", argv[command_index]);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        wharfctl_error("cannot initialize libcurl");
        return WHARFCTL_EXIT_FAILURE;
    }
    rc = cmd->run(&ctl, cmd, argc - command_index, argv + command_index);
    api_client_cleanup(&ctl.client);
    curl_global_cleanup();

    /* A failed write to stdout (a full disk, a closed pipe) is a failure too. */
    if (fflush(stdout) != 0 && rc == WHARFCTL_EXIT_OK) {
        wharfctl_error("cannot write the output");
        rc = WHARFCTL_EXIT_FAILURE;
    }
    return rc;
}
