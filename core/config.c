#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"

static const char usage_text[] =
    "Usage: wharfd [OPTION]...\n"
    "Run the Wharf connector host: load destination plugins and serve the API.\n"
    "\n"
    "  --listen HOST:PORT     address of the HTTP API (default " DEFAULT_LISTEN ");\n"
    "                         port 0 picks a free port; IPv6 as [::1]:8080\n"
    "  --data-dir DIR         directory of the SQLite store (default ./data)\n"
    "  --plugins-dir DIR      directory of connector plugins, *.so (default ./plugins)\n"
    "  --config FILE          read settings from FILE: `key = value` lines whose keys\n"
    "                         are these option names with '_' for '-'; options given\n"
    "                         on the command line win over the file\n"
    "  --log-level LEVEL      debug, info, warn or error (default info)\n"
    "  --log-retention-days N days a connector's log lines are kept (default 7)\n"
    "  --write-key KEY        key that Segment-compatible clients must send (as the\n"
    "                         Basic-auth user name) to /v1/ ingest; without one,\n"
    "                         ingest answers 401\n"
    "  --admin-token TOKEN    bearer token that /api/v1/ requests must carry; may be\n"
    "                         repeated; prefer --admin-token-file, because other\n"
    "                         users can see a command line\n"
    "  --admin-token-file FILE  file of admin tokens, one per line (mode 0600 or\n"
    "                         0640); without any admin token, wharfd listens only\n"
    "                         on a loopback address\n"
    "  --max-header-size BYTES  limit of the request line plus headers; larger\n"
    "                         requests get 431 (default 81920)\n"
    "  --max-body-size BYTES  limit of a request body; larger bodies get 413\n"
    "                         (default 8388608)\n"
    "  --max-connections N    open client connections; more are closed at once\n"
    "                         (default 1024)\n"
    "  --request-timeout-ms MS  time from a request's first byte to its last;\n"
    "                         slower requests get 408 (default 30000)\n"
    "  --idle-timeout-ms MS   time a connection may wait for a request, or for the\n"
    "                         client to read a response (default 60000)\n"
    "  --shutdown-timeout-ms MS  how long SIGTERM waits for in-flight deliveries\n"
    "                         (default 10000)\n"
    "  --help                 print this help and exit\n"
    "  --version              print the version and exit\n";

/* One setting, known both as a flag and as a config file key. */
typedef enum option_id {
    OPTION_LISTEN,
    OPTION_DATA_DIR,
    OPTION_PLUGINS_DIR,
    OPTION_LOG_LEVEL,
    OPTION_WRITE_KEY,
    OPTION_LOG_RETENTION,
    OPTION_ADMIN_TOKEN,
    OPTION_ADMIN_TOKEN_FILE,
    OPTION_MAX_HEADER_SIZE,
    OPTION_MAX_BODY_SIZE,
    OPTION_MAX_CONNECTIONS,
    OPTION_REQUEST_TIMEOUT,
    OPTION_IDLE_TIMEOUT,
    OPTION_SHUTDOWN_TIMEOUT,
    OPTION_COUNT
} option_id;

static const struct {
    const char *flag;
    const char *key;
} options[OPTION_COUNT] = {
    [OPTION_LISTEN] = {"--listen", "listen"},
    [OPTION_DATA_DIR] = {"--data-dir", "data_dir"},
    [OPTION_PLUGINS_DIR] = {"--plugins-dir", "plugins_dir"},
    [OPTION_LOG_LEVEL] = {"--log-level", "log_level"},
    [OPTION_WRITE_KEY] = {"--write-key", "write_key"},
    [OPTION_LOG_RETENTION] = {"--log-retention-days", "log_retention_days"},
    [OPTION_ADMIN_TOKEN] = {"--admin-token", "admin_token"},
    [OPTION_ADMIN_TOKEN_FILE] = {"--admin-token-file", "admin_token_file"},
    [OPTION_MAX_HEADER_SIZE] = {"--max-header-size", "max_header_size"},
    [OPTION_MAX_BODY_SIZE] = {"--max-body-size", "max_body_size"},
    [OPTION_MAX_CONNECTIONS] = {"--max-connections", "max_connections"},
    [OPTION_REQUEST_TIMEOUT] = {"--request-timeout-ms", "request_timeout_ms"},
    [OPTION_IDLE_TIMEOUT] = {"--idle-timeout-ms", "idle_timeout_ms"},
    [OPTION_SHUTDOWN_TIMEOUT] = {"--shutdown-timeout-ms", "shutdown_timeout_ms"},
};

/* Largest accepted max_body_size: 1 GiB, far above any ingest batch. */
#define MAX_BODY_SIZE_LIMIT (1024UL * 1024 * 1024)

/* Largest accepted max_connections; each one costs a file descriptor. */
#define MAX_CONNECTIONS_LIMIT 1000000UL

/* Parse a decimal integer from minimum to maximum into *result. Returns 0,
 * or -1 with a message naming where, the value and the range. */
static int parse_number(const char *value, unsigned long minimum, unsigned long maximum,
                        const char *unit, unsigned long *result, const char *where,
                        char *error, size_t error_size)
{
    char *end;
    unsigned long number;

    errno = 0;
    number = strtoul(value, &end, 10);
    if (errno != 0 || *end != '\0' || value[0] < '0' || value[0] > '9' ||
        number < minimum || number > maximum) {
        snprintf(error, error_size, "%s: invalid value \"%s\"; expected %lu to %lu %s",
                 where, value, minimum, maximum, unit);
        return -1;
    }
    *result = number;
    return 0;
}

int config_parse_listen(const char *text, char **host, int *port)
{
    const char *colon;
    const char *host_start = text;
    size_t host_length;
    char *end;
    long value;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        host_start = text + 1;
        host_length = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return -1;
        host_length = (size_t)(colon - text);
    }
    if (host_length == 0 || colon[1] == '\0')
        return -1;

    errno = 0;
    value = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || value < 0 || value > 65535)
        return -1;

    *host = strndup(host_start, host_length);
    *port = (int)value;
    return *host != NULL ? 0 : -1;
}

/* Apply one of the numeric limits. */
static int apply_limit(config *config, option_id id, const char *value, const char *where,
                       char *error, size_t error_size)
{
    http_server_limits *limits = &config->http_limits;
    unsigned long number;

    switch (id) {
    case OPTION_MAX_HEADER_SIZE:
        if (parse_number(value, HTTP_SERVER_MIN_HEADER_SIZE, HTTP_SERVER_MAX_HEADER_SIZE_LIMIT,
                         "bytes", &number, where, error, error_size) != 0)
            return -1;
        limits->max_header_size = number;
        return 0;
    case OPTION_MAX_BODY_SIZE:
        if (parse_number(value, 1, MAX_BODY_SIZE_LIMIT, "bytes", &number, where, error,
                         error_size) != 0)
            return -1;
        limits->max_body_size = number;
        return 0;
    case OPTION_MAX_CONNECTIONS:
        if (parse_number(value, 1, MAX_CONNECTIONS_LIMIT, "connections", &number, where,
                         error, error_size) != 0)
            return -1;
        limits->max_connections = (unsigned)number;
        return 0;
    case OPTION_REQUEST_TIMEOUT:
    case OPTION_IDLE_TIMEOUT:
        if (parse_number(value, HTTP_SERVER_MIN_TIMEOUT_MS, HTTP_SERVER_MAX_TIMEOUT_MS,
                         "milliseconds", &number, where, error, error_size) != 0)
            return -1;
        if (id == OPTION_REQUEST_TIMEOUT)
            limits->request_timeout_ms = (unsigned)number;
        else
            limits->idle_timeout_ms = (unsigned)number;
        return 0;
    case OPTION_SHUTDOWN_TIMEOUT:
        if (parse_number(value, 0, HTTP_SERVER_MAX_TIMEOUT_MS, "milliseconds", &number,
                         where, error, error_size) != 0)
            return -1;
        config->shutdown_timeout_ms = (unsigned)number;
        return 0;
    default:
        return -1;
    }
}

/* Apply one setting. where names its source for messages: "--listen" or
 * "wharfd.conf:3: key listen". */
static int apply_option(config *config, option_id id, const char *value,
                        const char *where, char *error, size_t error_size)
{
    switch (id) {
    case OPTION_LISTEN: {
        char *host;
        int port;
        if (config_parse_listen(value, &host, &port) != 0) {
            snprintf(error, error_size,
                     "%s: invalid address \"%s\"; expected HOST:PORT such as "
                     "127.0.0.1:8080 or [::1]:8080",
                     where, value);
            return -1;
        }
        free(config->listen_host);
        config->listen_host = host;
        config->listen_port = port;
        return 0;
    }
    case OPTION_DATA_DIR:
        free(config->data_dir);
        config->data_dir = strdup(value);
        return 0;
    case OPTION_PLUGINS_DIR:
        free(config->plugins_dir);
        config->plugins_dir = strdup(value);
        return 0;
    case OPTION_LOG_LEVEL:
        if (log_parse_level(value, &config->log_level) != 0) {
            snprintf(error, error_size,
                     "%s: invalid log level \"%s\"; use debug, info, warn or error",
                     where, value);
            return -1;
        }
        return 0;
    case OPTION_WRITE_KEY:
        if (value[0] == '\0') {
            snprintf(error, error_size, "%s: the write key must not be empty", where);
            return -1;
        }
        free(config->write_key);
        config->write_key = strdup(value);
        return 0;
    case OPTION_LOG_RETENTION: {
        char *end;
        unsigned long days;

        errno = 0;
        days = strtoul(value, &end, 10);
        if (errno != 0 || *end != '\0' || value[0] == '\0' || value[0] == '-' || days < 1 ||
            days > 3650) {
            snprintf(error, error_size,
                     "%s: invalid retention \"%s\"; expected a number of days from 1 to 3650",
                     where, value);
            return -1;
        }
        config->log_retention_days = (unsigned)days;
        return 0;
    }
    case OPTION_ADMIN_TOKEN:
        /* admin_token_add() never puts the token into its message. */
        return admin_token_add(&config->admin_tokens, value, where, error, error_size) == 0
                   ? 0
                   : -1;
    case OPTION_ADMIN_TOKEN_FILE:
        if (value[0] == '\0') {
            snprintf(error, error_size, "%s: the admin token file name must not be empty",
                     where);
            return -1;
        }
        free(config->admin_token_file);
        config->admin_token_file = strdup(value);
        return 0;
    case OPTION_MAX_HEADER_SIZE:
    case OPTION_MAX_BODY_SIZE:
    case OPTION_MAX_CONNECTIONS:
    case OPTION_REQUEST_TIMEOUT:
    case OPTION_IDLE_TIMEOUT:
    case OPTION_SHUTDOWN_TIMEOUT:
        return apply_limit(config, id, value, where, error, error_size);
    case OPTION_COUNT:
        break;
    }
    return -1;
}

static char *trim(char *text)
{
    char *end;

    while (*text == ' ' || *text == '\t')
        text++;
    end = text + strlen(text);
    while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                          end[-1] == '\r'))
        *--end = '\0';
    return text;
}

/* Write the config file keys, comma-separated, into known. */
static void list_keys(char *known, size_t size)
{
    size_t used = 0;

    known[0] = '\0';
    for (int id = 0; id < OPTION_COUNT && used < size; id++) {
        int written = snprintf(known + used, size - used, "%s%s", id > 0 ? ", " : "",
                               options[id].key);

        if (written < 0)
            break;
        used += (size_t)written;
    }
}

/* Read the config file; a key also given as a flag (given[id]) is skipped so
 * that the flag wins. A repeatable key (admin_token) may appear on several
 * lines, and each adds a value. */
static int load_file(config *config, const char *path, const int *given,
                     char *error, size_t error_size)
{
    FILE *file;
    char line[4096];
    unsigned line_number = 0;
    bool holds_secret = false;
    struct stat st;
    int rc = 0;

    file = fopen(path, "r");
    if (file == NULL) {
        snprintf(error, error_size, "cannot read config file %s: %s", path,
                 strerror(errno));
        return -1;
    }

    while (fgets(line, sizeof(line), file) != NULL) {
        char *text = trim(line);
        char *equals;
        char *key;
        char *value;
        char where[600];
        int id;

        line_number++;
        if (text[0] == '\0' || text[0] == '#')
            continue;

        equals = strchr(text, '=');
        if (equals == NULL) {
            snprintf(error, error_size,
                     "%s:%u: expected `key = value`, got \"%.80s\"", path,
                     line_number, text);
            rc = -1;
            break;
        }
        *equals = '\0';
        key = trim(text);
        value = trim(equals + 1);
        if (value[0] == '"' && strlen(value) >= 2 && value[strlen(value) - 1] == '"') {
            value[strlen(value) - 1] = '\0';
            value++;
        }

        for (id = 0; id < OPTION_COUNT; id++) {
            if (strcmp(key, options[id].key) == 0)
                break;
        }
        if (id == OPTION_COUNT) {
            char known[1024];

            list_keys(known, sizeof(known));
            snprintf(error, error_size, "%s:%u: unknown key \"%.80s\"; known keys are %s",
                     path, line_number, key, known);
            rc = -1;
            break;
        }
        if (given[id])
            continue;

        snprintf(where, sizeof(where), "%s:%u: key %s", path, line_number, key);
        if (apply_option(config, (option_id)id, value, where, error, error_size) != 0) {
            rc = -1;
            break;
        }
        if (id == OPTION_WRITE_KEY || id == OPTION_ADMIN_TOKEN)
            holds_secret = true;
    }

    if (rc == 0 && holds_secret && fstat(fileno(file), &st) == 0 &&
        (st.st_mode & S_IROTH) != 0)
        log_warn("config file %s contains a write_key or admin_token and is readable by every "
                 "user (mode %04o); run chmod o-r %s, or move the tokens to "
                 "admin_token_file",
                 path, (unsigned)(st.st_mode & 07777), path);
    explicit_bzero(line, sizeof(line));
    fclose(file);
    return rc;
}

config_outcome config_load(config *config, int argc, char **argv, char *error,
                           size_t error_size)
{
    int given[OPTION_COUNT] = {0};
    const char *config_path = NULL;

    memset(config, 0, sizeof(*config));
    config_parse_listen(DEFAULT_LISTEN, &config->listen_host, &config->listen_port);
    config->data_dir = strdup("./data");
    config->plugins_dir = strdup("./plugins");
    config->log_level = WHARF_LOG_INFO;
    config->log_retention_days = 7;
    http_server_limits_default(&config->http_limits);
    config->shutdown_timeout_ms = 10000;

    /* Flags first, so that they win over the file read afterwards. */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value;
        char flag[64];
        const char *equals;
        int id;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return CONFIG_EXIT;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("wharfd %s (plugin ABI %d.%d)\n", WHARF_VERSION,
                   WHARF_ABI_MAJOR, WHARF_ABI_MINOR);
            return CONFIG_EXIT;
        }

        /* Accept both "--flag value" and "--flag=value". */
        equals = strchr(arg, '=');
        if (equals != NULL && (size_t)(equals - arg) < sizeof(flag)) {
            memcpy(flag, arg, (size_t)(equals - arg));
            flag[equals - arg] = '\0';
            value = equals + 1;
        } else {
            snprintf(flag, sizeof(flag), "%s", arg);
            value = NULL;
        }

        if (strcmp(flag, "--config") == 0) {
            if (value == NULL && i + 1 < argc)
                value = argv[++i];
            if (value == NULL) {
                snprintf(error, error_size,
                         "option --config needs a file name; see wharfd --help");
                return CONFIG_ERROR;
            }
            config_path = value;
            continue;
        }

        for (id = 0; id < OPTION_COUNT; id++) {
            if (strcmp(flag, options[id].flag) == 0)
                break;
        }
        if (id == OPTION_COUNT) {
            snprintf(error, error_size, "unknown option \"%s\"; see wharfd --help",
                     arg);
            return CONFIG_ERROR;
        }
        if (value == NULL && i + 1 < argc)
            value = argv[++i];
        if (value == NULL) {
            snprintf(error, error_size, "option %s needs a value; see wharfd --help",
                     flag);
            return CONFIG_ERROR;
        }
        if (apply_option(config, (option_id)id, value, flag, error, error_size) != 0)
            return CONFIG_ERROR;
        given[id] = 1;
    }

    if (config_path != NULL) {
        config->config_file = strdup(config_path);
        if (load_file(config, config_path, given, error, error_size) != 0)
            return CONFIG_ERROR;
    }

    if (config->admin_token_file != NULL &&
        admin_token_load_file(&config->admin_tokens, config->admin_token_file, error,
                              error_size) != 0)
        return CONFIG_ERROR;
    if (config_check_listen_policy(config->listen_host, config->listen_port,
                                   &config->admin_tokens, error, error_size) != 0)
        return CONFIG_ERROR;
    return CONFIG_RUN;
}

int config_check_listen_policy(const char *host, int port, const admin_token_set *tokens,
                               char *error, size_t error_size)
{
    if (http_server_host_is_loopback(host) || admin_token_required(tokens))
        return 0;

    snprintf(error, error_size,
             strchr(host, ':') != NULL
                 ? "refusing to listen on [%s]:%d without an admin token, because anyone "
                   "who reaches that address could use the admin API; configure one with "
                   "--admin-token-file FILE (admin_token_file in the config file), or "
                   "listen on 127.0.0.1 or [::1]"
                 : "refusing to listen on %s:%d without an admin token, because anyone "
                   "who reaches that address could use the admin API; configure one with "
                   "--admin-token-file FILE (admin_token_file in the config file), or "
                   "listen on 127.0.0.1 or [::1]",
             host, port);
    return -1;
}

/* Overwrite the value of one secret flag in argv with 'x' characters. */
static void scrub_value(char *value)
{
    for (; *value != '\0'; value++)
        *value = 'x';
}

void config_scrub_secret_arguments(int argc, char **argv)
{
    static const char *const secret_flags[] = {"--admin-token", "--write-key"};

    for (int i = 1; i < argc; i++) {
        for (size_t f = 0; f < sizeof(secret_flags) / sizeof(secret_flags[0]); f++) {
            size_t length = strlen(secret_flags[f]);

            if (strncmp(argv[i], secret_flags[f], length) != 0)
                continue;
            if (argv[i][length] == '=')
                scrub_value(argv[i] + length + 1);
            else if (argv[i][length] == '\0' && i + 1 < argc)
                scrub_value(argv[++i]);
            break;
        }
    }
}

void config_free(config *config)
{
    free(config->listen_host);
    free(config->data_dir);
    free(config->plugins_dir);
    free(config->config_file);
    free(config->write_key);
    admin_token_set_free(&config->admin_tokens);
    free(config->admin_token_file);
    memset(config, 0, sizeof(*config));
}
