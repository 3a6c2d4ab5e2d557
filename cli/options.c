#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* --timeout accepts up to a day; longer waits are better left to the
 * commands that poll (send, logs --follow), which have no overall limit. */
#define TIMEOUT_MAX_SECONDS 86400.0

enum global_option { GLOBAL_URL, GLOBAL_JSON, GLOBAL_TIMEOUT, GLOBAL_TOKEN, GLOBAL_COUNT };

static const char *const global_names[GLOBAL_COUNT] = {"url", "json", "timeout", "token"};
static const int global_takes_value[GLOBAL_COUNT] = {1, 0, 1, 1};

void options_print_global_help(FILE *stream)
{
    fputs("Global options (before or after the command name):\n"
          "  --url URL          address of wharfd's HTTP API (default: the WHARF_URL\n"
          "                     environment variable, else " WHARFCTL_DEFAULT_URL ")\n"
          "  --json             print the API's JSON response instead of a table\n"
          "  --timeout SECONDS  time limit for each request to wharfd, in seconds;\n"
          "                     fractions allowed (default 30)\n"
          "  --token TOKEN      admin token that wharfd requires (default: the\n"
          "                     WHARF_ADMIN_TOKEN environment variable, which other\n"
          "                     users cannot see, unlike the command line)\n"
          "  --help, -h         print the help and exit\n",
          stream);
}

void options_print_command_help(const command *cmd)
{
    fputs(cmd->usage, stdout);
    fputc('\n', stdout);
    fputs(cmd->help, stdout);
    fputc('\n', stdout);
    options_print_global_help(stdout);
    fputs("\nExit codes: 0 success, 1 the API returned an error or delivery failed,\n"
          "2 usage error.\n",
          stdout);
}

int options_usage_error(const command *cmd, const char *format, ...)
{
    va_list arguments;

    fflush(stdout);
    fputs("wharfctl: ", stderr);
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fputc('\n', stderr);

    if (cmd != NULL) {
        fputs(cmd->usage, stderr);
        fprintf(stderr, "Run 'wharfctl %s --help' for the options.\n", cmd->name);
    } else {
        fputs("Usage: wharfctl [--url URL] [--token TOKEN] [--json] [--timeout SECONDS] "
              "COMMAND [ARGS]\n"
              "Run 'wharfctl --help' for the commands.\n",
              stderr);
    }
    return WHARFCTL_EXIT_USAGE;
}

int options_parse_integer(const command *cmd, const char *option, const char *text,
                          long minimum, long maximum, long *value)
{
    char *end;
    long parsed;

    errno = 0;
    parsed = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || parsed < minimum || parsed > maximum)
        return options_usage_error(cmd, "%s must be an integer from %ld to %ld, got \"%s\"",
                                   option, minimum, maximum, text);
    *value = parsed;
    return 0;
}

static int apply_global(wharfctl *ctl, const command *cmd, enum global_option option,
                        const char *value)
{
    char *end;
    double seconds;

    switch (option) {
    case GLOBAL_URL:
        ctl->url = value;
        ctl->url_source = "--url";
        return 0;
    case GLOBAL_JSON:
        ctl->json_output = 1;
        return 0;
    case GLOBAL_TIMEOUT:
        errno = 0;
        seconds = strtod(value, &end);
        if (value[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(seconds) ||
            seconds <= 0 || seconds > TIMEOUT_MAX_SECONDS)
            return options_usage_error(cmd,
                                       "--timeout must be a number of seconds above 0 and up "
                                       "to %.0f, got \"%s\"",
                                       TIMEOUT_MAX_SECONDS, value);
        /* curl takes milliseconds; a fraction below 1 ms still waits 1 ms. */
        ctl->client.timeout_ms = seconds * 1000.0 < 1.0 ? 1L : (long)(seconds * 1000.0);
        return 0;
    case GLOBAL_TOKEN:
        ctl->client.token = value;
        ctl->client.token_source = "--token";
        return 0;
    case GLOBAL_COUNT:
        break;
    }
    return 0;
}

/* Check the URL once every option is known, so that a bad WHARF_URL does
 * not matter when --url replaces it. */
static int apply_url(wharfctl *ctl, const command *cmd)
{
    int rc = api_client_set_url(&ctl->client, ctl->url);

    /* The token itself is never printed, only where it came from. */
    if (ctl->client.token != NULL && !api_client_token_valid(ctl->client.token))
        return options_usage_error(cmd,
                                   "the admin token from %s is empty or contains a space, "
                                   "a control character or a non-ASCII byte; copy it again "
                                   "from wharfd's admin_token_file",
                                   ctl->client.token_source);
    if (rc == -EINVAL)
        return options_usage_error(cmd, "%s must start with http:// or https://, got \"%s\"",
                                   ctl->url_source, ctl->url);
    if (rc != 0) {
        wharfctl_error("cannot store the URL %s: out of memory", ctl->url);
        return WHARFCTL_EXIT_FAILURE;
    }
    return 0;
}

/* Match "--name" or "--name=value" against one option name. */
static int name_matches(const char *argument, const char *name)
{
    size_t length = strlen(name);

    return strncmp(argument + 2, name, length) == 0 &&
           (argument[2 + length] == '\0' || argument[2 + length] == '=');
}

/* Take the value of the option at argv[*index]: after "=", else the next
 * argument. Returns NULL when there is none. */
static const char *option_value(int argc, char **argv, int *index)
{
    const char *equals = strchr(argv[*index], '=');

    if (equals != NULL)
        return equals + 1;
    if (*index + 1 >= argc)
        return NULL;
    (*index)++;
    return argv[*index];
}

/* Parse the option at argv[*index] (which starts with "--"). Returns
 * OPTIONS_CONTINUE or an exit code. */
static int parse_one(wharfctl *ctl, const command *cmd, int argc, char **argv, int *index,
                     const option_spec *specs, size_t count)
{
    const char *argument = argv[*index];
    int has_inline_value = strchr(argument, '=') != NULL;
    const char *value;
    int rc;

    for (size_t i = 0; i < count; i++) {
        if (!name_matches(argument, specs[i].name))
            continue;
        if (specs[i].value == NULL) {
            if (has_inline_value)
                return options_usage_error(cmd, "option --%s takes no value, got \"%s\"",
                                           specs[i].name, argument);
            *specs[i].flag = 1;
            return OPTIONS_CONTINUE;
        }
        value = option_value(argc, argv, index);
        if (value == NULL)
            return options_usage_error(cmd, "option --%s needs a value", specs[i].name);
        *specs[i].value = value;
        return OPTIONS_CONTINUE;
    }

    for (int option = 0; option < GLOBAL_COUNT; option++) {
        if (!name_matches(argument, global_names[option]))
            continue;
        if (!global_takes_value[option]) {
            if (has_inline_value)
                return options_usage_error(cmd, "option --%s takes no value, got \"%s\"",
                                           global_names[option], argument);
            value = NULL;
        } else {
            value = option_value(argc, argv, index);
            if (value == NULL)
                return options_usage_error(cmd, "option --%s needs a value",
                                           global_names[option]);
        }
        rc = apply_global(ctl, cmd, (enum global_option)option, value);
        return rc == 0 ? OPTIONS_CONTINUE : rc;
    }

    if (cmd != NULL)
        return options_usage_error(cmd, "unknown option %s for wharfctl %s", argument, cmd->name);
    return options_usage_error(NULL, "unknown option %s", argument);
}

int options_parse(wharfctl *ctl, const command *cmd, int argc, char **argv,
                  const option_spec *specs, size_t count, char **positionals,
                  int *positional_count)
{
    int options_ended = 0;
    int rc;

    *positional_count = 0;
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];

        /* A lone "-" is a positional argument: standard input. */
        if (options_ended || argument[0] != '-' || strcmp(argument, "-") == 0) {
            if (*positional_count >= OPTIONS_MAX_POSITIONALS)
                return options_usage_error(cmd, "too many arguments, starting at \"%s\"",
                                           argument);
            positionals[(*positional_count)++] = argv[index];
            continue;
        }
        if (strcmp(argument, "--") == 0) {
            options_ended = 1;
            continue;
        }
        if (strcmp(argument, "-h") == 0 || strcmp(argument, "--help") == 0) {
            options_print_command_help(cmd);
            return WHARFCTL_EXIT_OK;
        }
        if (argument[1] != '-')
            return options_usage_error(cmd, "unknown option %s for wharfctl %s", argument,
                                       cmd->name);

        rc = parse_one(ctl, cmd, argc, argv, &index, specs, count);
        if (rc != OPTIONS_CONTINUE)
            return rc;
    }

    rc = apply_url(ctl, cmd);
    return rc == 0 ? OPTIONS_CONTINUE : rc;
}

int options_parse_global(wharfctl *ctl, int argc, char **argv, int *command_index)
{
    int index;
    int rc;

    for (index = 1; index < argc; index++) {
        const char *argument = argv[index];

        if (argument[0] != '-')
            break;
        if (strcmp(argument, "-h") == 0 || strcmp(argument, "--help") == 0) {
            command_print_main_help(stdout);
            return WHARFCTL_EXIT_OK;
        }
        if (strcmp(argument, "--version") == 0) {
            printf("wharfctl %s\n", WHARFCTL_VERSION);
            return WHARFCTL_EXIT_OK;
        }
        if (argument[1] != '-' || argument[2] == '\0')
            return options_usage_error(NULL, "unknown option %s", argument);

        rc = parse_one(ctl, NULL, argc, argv, &index, NULL, 0);
        if (rc != OPTIONS_CONTINUE)
            return rc;
    }

    *command_index = index;
    return OPTIONS_CONTINUE;
}
