/* The wharfctl commands: each commands_*.c file defines one or two of these
 * and main.c dispatches on the name. */
#ifndef WHARFCTL_COMMAND_H
#define WHARFCTL_COMMAND_H

#include <stdio.h>

#include "wharfctl.h"

typedef struct command {
    const char *name;
    const char *summary; /* one line for wharfctl --help */
    const char *usage;   /* "Usage: wharfctl NAME ..." lines, each ending in a newline */
    const char *help;    /* the rest of NAME --help: arguments, options, output */
    /* argv[0] is the command name. Returns a WHARFCTL_EXIT_* code. */
    int (*run)(wharfctl *ctl, const struct command *self, int argc, char **argv);
} command;

/* Every command in the order wharfctl --help lists them, NULL-terminated. */
extern const command *const command_list[];

/* The command named name, or NULL. */
const command *command_find(const char *name);

/* Print the help of wharfctl itself: what it is, the commands, the global
 * options. */
void command_print_main_help(FILE *stream);

extern const command command_plugins;
extern const command command_connectors;
extern const command command_segments;
extern const command command_send;
extern const command command_batches;
extern const command command_batch;
extern const command command_logs;
extern const command command_dead_letters;
extern const command command_resend;

#endif
