/* The list of wharfctl commands and the top-level help. */
#include "command.h"

#include <string.h>

#include "options.h"

const command *const command_list[] = {
    &command_plugins, &command_connectors, &command_segments, &command_send,
    &command_batches, &command_batch,      &command_logs,     &command_dead_letters,
    &command_resend,  NULL,
};

const command *command_find(const char *name)
{
    for (size_t i = 0; command_list[i] != NULL; i++) {
        if (strcmp(command_list[i]->name, name) == 0)
            return command_list[i];
    }
    return NULL;
}

void command_print_main_help(FILE *stream)
{
    fputs("Usage: wharfctl [--url URL] [--token TOKEN] [--json] [--timeout SECONDS]\n"
          "                COMMAND [ARGS]\n"
          "Operate a running wharfd over its HTTP API: list plugins, connectors and\n"
          "segments, send a segment or a user to a connector, and read the\n"
          "connector's log.\n"
          "\n"
          "Commands:\n",
          stream);
    for (size_t i = 0; command_list[i] != NULL; i++)
        fprintf(stream, "  %-11s %s\n", command_list[i]->name, command_list[i]->summary);
    fputs("\n"
          "Connectors and segments may be named by id or by a unique name.\n"
          "Run 'wharfctl COMMAND --help' for the arguments of a command.\n"
          "\n",
          stream);
    options_print_global_help(stream);
    fputs("  --version          print the version and exit\n"
          "\n"
          "Exit codes: 0 success, 1 the API returned an error or delivery failed,\n"
          "2 usage error.\n",
          stream);
}
