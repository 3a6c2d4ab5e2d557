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

#include "admin_token.h"
#include "http_server.h"
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

    /* Admin API credentials from --admin-token, admin_token and the file
     * that admin_token_file names. Never logged. */
    admin_token_set admin_tokens;
    char *admin_token_file; /* NULL when none was given */

    http_server_limits http_limits;
    unsigned shutdown_timeout_ms; /* how long SIGTERM waits for in-flight deliveries */
} config;

typedef enum config_outcome {
    CONFIG_RUN = 0,  /* start the service */
    CONFIG_EXIT = 1, /* --help or --version was printed; exit 0 */
    CONFIG_ERROR = 2 /* message written to error; exit 2 */
} config_outcome;

/* Fill config from defaults, then the config file (if --config names one),
 * then the flags; then add the tokens of admin_token_file and check the
 * listen address with config_check_listen_policy(). On CONFIG_ERROR, error
 * holds a message naming the flag, or the file, line and key, and how to
 * fix it. */
config_outcome config_load(config *config, int argc, char **argv, char *error,
                           size_t error_size);

/* Reject a listen address other than loopback when tokens is empty, since
 * the admin API would then be open to the network. Returns 0, or -1 with a
 * message that names the address and the fix. */
int config_check_listen_policy(const char *host, int port, const admin_token_set *tokens,
                               char *error, size_t error_size);

/* Overwrite the values of --admin-token and --write-key in argv, so that
 * ps and /proc/PID/cmdline no longer show them. Call after config_load().
 * NOTE: other users can read the command line until this runs. */
void config_scrub_secret_arguments(int argc, char **argv);

/* Split "HOST:PORT" or "[V6]:PORT". Returns 0, or -1 when malformed. */
int config_parse_listen(const char *text, char **host, int *port);

void config_free(config *config);

#endif
