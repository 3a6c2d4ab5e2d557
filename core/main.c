/*
 * wharfd: the Wharf connector host service.
 *
 * Start-up order: store, HTTP client, plugins (first scan), connectors
 * restored from the store, plugin directory watch, then the API server.
 * SIGINT or SIGTERM stops in the reverse order: the API server first, so no
 * new work arrives, then connectors (cancelling their requests in flight),
 * the HTTP client, plugins and the store.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "connector.h"
#include "data_dir.h"
#include "entities.h"
#include "http_client.h"
#include "http_server.h"
#include "log.h"
#include "plugin_registry.h"
#include "segments.h"
#include "service.h"
#include "store.h"
#include "sync.h"

/* How often the plugins directory is rescanned; with the two-scan stability
 * rule a new plugin loads within about half a second. */
#define PLUGIN_SCAN_INTERVAL_MS 250

/* How often segments on relative dates or event windows are recomputed. */
#define TIME_RELATIVE_SEGMENT_INTERVAL_MS 60000

typedef struct runtime {
    service service;
    uv_signal_t sigint;
    uv_signal_t sigterm;
} runtime;

static void on_plugin_loaded(plugin *loaded, void *user_data)
{
    service *svc = user_data;

    if (svc->connectors != NULL)
        connector_set_plugin_loaded(svc->connectors, loaded);
}

static void on_http_client_closed(void *arg)
{
    (void)arg;
    log_debug("HTTP client closed");
}

/* Deliveries in flight finished (or the shutdown timeout passed): stop the
 * rest. */
static void on_deliveries_drained(void *arg)
{
    service *svc = arg;

    api_ingest_close();

    plugin_registry_stop_watching(svc->plugins);
    segment_set_stop(svc->segments);
    /* Before connectors stop: their cancelled sends report back to it. */
    sync_engine_stop(svc->sync);
    connector_set_free(svc->connectors);
    svc->connectors = NULL;
    http_client_close(svc->http, on_http_client_closed, svc);
}

static void on_server_stopped(void *arg)
{
    service *svc = arg;

    svc->server = NULL;
    /* No new work arrives now; what is queued stays in the store. */
    sync_engine_drain(svc->sync, svc->config.shutdown_timeout_ms, on_deliveries_drained, svc);
}

static void on_signal(uv_signal_t *handle, int signal_number)
{
    runtime *rt = handle->data;
    service *svc = &rt->service;

    if (svc->stopping) {
        log_warn("received %s again while stopping; still closing connections",
                 strsignal(signal_number));
        return;
    }
    svc->stopping = 1;
    log_info("wharfd stopping (%s)", strsignal(signal_number));

    uv_close((uv_handle_t *)&rt->sigint, NULL);
    uv_close((uv_handle_t *)&rt->sigterm, NULL);
    http_server_stop(svc->server, on_server_stopped, svc);
}

static void log_open_handle(uv_handle_t *handle, void *arg)
{
    (void)arg;
    log_error("handle of type %s still open at exit", uv_handle_type_name(handle->type));
}

/* File descriptors that wharfd needs besides its client connections: the
 * stores, the plugins, outgoing connections and the event loop. An
 * estimate, not a count. */
#define RESERVED_FILE_DESCRIPTORS 256

/* Raise the soft limit on open files to the hard limit, as a server that
 * may hold max_connections clients needs, and warn when that is still too
 * low. A client over the limit would otherwise make accept() fail. */
static void raise_open_file_limit(unsigned max_connections)
{
    rlim_t needed = (rlim_t)max_connections + RESERVED_FILE_DESCRIPTORS;
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    if (limit.rlim_cur < needed && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || getrlimit(RLIMIT_NOFILE, &limit) != 0)
            return;
    }
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed)
        log_warn("the open file limit (%llu) is below max_connections (%u) plus about %d "
                 "descriptors that wharfd needs besides; raise the limit (LimitNOFILE= in "
                 "a systemd unit, ulimit -n in a shell) or lower max_connections",
                 (unsigned long long)limit.rlim_cur, max_connections,
                 RESERVED_FILE_DESCRIPTORS);
}

static int start(runtime *rt, char *error, size_t error_size)
{
    service *svc = &rt->service;
    int rc;

    rc = data_dir_secure(svc->config.data_dir, error, error_size);
    if (rc != 0)
        return rc;
    rc = store_open_sqlite(svc->config.data_dir, &svc->store, error, error_size);
    if (rc != 0)
        return rc;
    log_info("store: sqlite at %s/wharf.db", svc->config.data_dir);

    rc = http_client_init(&svc->http, svc->loop);
    if (rc != 0) {
        snprintf(error, error_size, "cannot start the HTTP client: %s", strerror(-rc));
        return rc;
    }

    svc->plugins = plugin_registry_create(svc->loop, svc->config.plugins_dir,
                                          on_plugin_loaded, svc);
    svc->connectors = connector_set_create(svc);
    svc->entities = entities_create(svc);
    svc->segments = svc->entities != NULL ? segment_set_create(svc, svc->entities) : NULL;
    if (svc->plugins == NULL || svc->connectors == NULL || svc->segments == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    svc->entities->segments = svc->segments;
    if (entities_restore(svc->entities, error, error_size) != 0 ||
        segment_set_restore(svc->segments, error, error_size) != 0)
        return -1;
    svc->sync = sync_engine_create(svc, svc->config.log_retention_days, error, error_size);
    if (svc->sync == NULL)
        return -1;
    entities_set_prepare_hook(svc->entities, sync_prepare_updates, svc->sync);
    entities_set_update_hook(svc->entities, sync_on_updates, svc->sync);
    segment_set_on_ready(svc->segments, sync_on_segment_ready, svc->sync);
    rc = sync_engine_start(svc->sync);
    if (rc != 0) {
        snprintf(error, error_size, "cannot start the sync engine: %s", uv_strerror(rc));
        return rc;
    }
    rc = segment_set_start_timer(svc->segments, TIME_RELATIVE_SEGMENT_INTERVAL_MS);
    if (rc != 0) {
        snprintf(error, error_size, "cannot start the segment timer: %s", uv_strerror(rc));
        return rc;
    }
    plugin_registry_scan(svc->plugins, 1);
    connector_set_restore(svc->connectors);
    rc = plugin_registry_watch(svc->plugins, PLUGIN_SCAN_INTERVAL_MS);
    if (rc != 0) {
        snprintf(error, error_size, "cannot watch the plugins directory: %s", uv_strerror(rc));
        return rc;
    }

    raise_open_file_limit(svc->config.http_limits.max_connections);
    rc = http_server_start(&svc->server, svc->loop, svc->config.listen_host,
                           svc->config.listen_port, &svc->config.http_limits, api_handle,
                           svc, error, error_size);
    if (rc != 0)
        return rc;
    if (admin_token_required(&svc->config.admin_tokens))
        log_info("admin API: requests to /api/v1/ need one of %zu admin token(s)",
                 svc->config.admin_tokens.count);
    else
        log_info("admin API: no admin token configured, so /api/v1/ is open to every "
                 "client that reaches the loopback address");

    /* Handlers go in before the "listening" line, which tells supervisors
     * and tests that wharfd is ready and may be stopped. */
    uv_signal_init(svc->loop, &rt->sigint);
    uv_signal_init(svc->loop, &rt->sigterm);
    rt->sigint.data = rt;
    rt->sigterm.data = rt;
    uv_signal_start(&rt->sigint, on_signal, SIGINT);
    uv_signal_start(&rt->sigterm, on_signal, SIGTERM);

    log_info(strchr(svc->config.listen_host, ':') != NULL
                 ? "wharfd listening on http://[%s]:%d"
                 : "wharfd listening on http://%s:%d",
             svc->config.listen_host, http_server_port(svc->server));

    return 0;
}

/* Release what start() set up when it failed part-way. */
static void abandon_start(runtime *rt)
{
    service *svc = &rt->service;

    if (svc->plugins != NULL)
        plugin_registry_stop_watching(svc->plugins);
    segment_set_stop(svc->segments);
    sync_engine_stop(svc->sync);
    connector_set_free(svc->connectors);
    svc->connectors = NULL;
    if (svc->http != NULL)
        http_client_close(svc->http, NULL, NULL);
}

int main(int argc, char **argv)
{
    runtime rt;
    service *svc = &rt.service;
    uv_loop_t loop;
    char error[1024] = "";
    int exit_code = 0;

    memset(&rt, 0, sizeof(rt));
    switch (config_load(&svc->config, argc, argv, error, sizeof(error))) {
    case CONFIG_RUN:
        config_scrub_secret_arguments(argc, argv);
        break;
    case CONFIG_EXIT:
        config_free(&svc->config);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "wharfd: %s\n", error);
        config_free(&svc->config);
        return 2;
    }
    log_set_level(svc->config.log_level);

    /* A destination closing its socket must not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_init(&loop);
    svc->loop = &loop;
    log_info("wharfd %s starting (plugin ABI %d.%d, data dir %s, plugins dir %s)",
             WHARF_VERSION, WHARF_ABI_MAJOR, WHARF_ABI_MINOR, svc->config.data_dir,
             svc->config.plugins_dir);

    if (start(&rt, error, sizeof(error)) != 0) {
        log_error("wharfd cannot start: %s", error);
        abandon_start(&rt);
        exit_code = 1;
    }

    uv_run(&loop, UV_RUN_DEFAULT);

    /* Every connector instance is gone, so no plugin code can run any more,
     * and every segment recomputation has reported back. */
    sync_engine_flush(svc->sync);
    sync_engine_free(svc->sync);
    segment_set_free(svc->segments);
    entities_free(svc->entities);
    plugin_registry_free(svc->plugins);
    store_close(svc->store);
    if (uv_loop_close(&loop) != 0) {
        uv_walk(&loop, log_open_handle, NULL);
        exit_code = exit_code != 0 ? exit_code : 1;
    }
    config_free(&svc->config);
    if (exit_code == 0)
        log_info("wharfd stopped");
    return exit_code;
}
