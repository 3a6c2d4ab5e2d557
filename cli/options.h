/* Command-line options of one command, declared as a table.
 *
 * Every command also accepts the global options (--url, --json, --timeout)
 * and --help, before or after its name, and "--" ends the options. A value
 * is given as "--name VALUE" or "--name=VALUE". */
#ifndef WHARFCTL_OPTIONS_H
#define WHARFCTL_OPTIONS_H

#include <stdio.h>

#include "command.h"

typedef struct option_spec {
    const char *name;   /* without the leading "--" */
    const char **value; /* receives the value; NULL for a flag */
    int *flag;          /* set to 1 when a flag is present; NULL for a value */
} option_spec;

/* Returned by options_parse when the command should go on running. */
#define OPTIONS_CONTINUE (-1)

/* The maximum number of positional arguments of any command. */
#define OPTIONS_MAX_POSITIONALS 8

/* Parse argv[1..argc-1] of cmd: options in specs (count of them), the global
 * options, --help, and positional arguments, which are stored in
 * positionals (at most OPTIONS_MAX_POSITIONALS) with their number in
 * positional_count. Returns OPTIONS_CONTINUE, or the exit code to return
 * at once: WHARFCTL_EXIT_OK after printing --help, WHARFCTL_EXIT_USAGE after
 * printing what is wrong and the usage. */
int options_parse(wharfctl *ctl, const command *cmd, int argc, char **argv,
                  const option_spec *specs, size_t count, char **positionals,
                  int *positional_count);

/* Parse the global options in front of the command name and store the
 * index of the name in *command_index (argc when there is none). Returns
 * OPTIONS_CONTINUE, or the exit code after --help, --version or a usage
 * error. */
int options_parse_global(wharfctl *ctl, int argc, char **argv, int *command_index);

/* Print "wharfctl: MESSAGE", then cmd's usage and a pointer to its --help,
 * to stderr. Returns WHARFCTL_EXIT_USAGE. cmd NULL means wharfctl itself. */
int options_usage_error(const command *cmd, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Print the global options and what they set, for the help texts. */
void options_print_global_help(FILE *stream);

/* Print the full help of cmd (usage, help, global options) to stdout. */
void options_print_command_help(const command *cmd);

/* Parse a decimal integer option value in [minimum, maximum]. Returns 0 or
 * prints a usage error naming the option and returns WHARFCTL_EXIT_USAGE. */
int options_parse_integer(const command *cmd, const char *option, const char *text,
                          long minimum, long maximum, long *value);

#endif
