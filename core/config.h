/*
 * wharfd settings from the command line and an optional config file.
 *
 * The file holds `key = value` lines, `#` comments and blank lines; its keys
 * are the long flag names with '-' written as '_'. Flags given on the command
 * line win over the file.
 */
#ifndef WHARF_CORE_CONFIG_H
#define WHARF_CORE_CONFIG_H

#include <stddef.h>

#include "wharf/host.h"

typedef struct config {
    char *listen_host; /* "127.0.0.1", "::1", ... */
    int listen_port;
    char *data_dir;
    char *plugins_dir;
    char *config_file; /* NULL when none was given */
    char *write_key;   /* ingest credential, NULL when none; never logged */
    wharf_log_level log_level;
    unsigned log_retention_days; /* connector log lines older than this are purged */
} config;

typedef enum config_outcome {
    CONFIG_RUN = 0,  /* start the service */
    CONFIG_EXIT = 1, /* --help or --version was printed; exit 0 */
    CONFIG_ERROR = 2 /* message written to error; exit 2 */
} config_outcome;

/* Fill config from defaults, then the config file (if --config names one),
 * then the flags. On CONFIG_ERROR, error holds a message naming the flag, or
 * the file, line and key, and how to fix it. */
config_outcome config_load(config *config, int argc, char **argv, char *error,
                           size_t error_size);

/* Split "HOST:PORT" or "[V6]:PORT". Returns 0, or -1 when malformed. */
int config_parse_listen(const char *text, char **host, int *port);

void config_free(config *config);

#endif
