/*
 * The state of one running wharfd, owned by the event loop thread.
 */
#ifndef WHARF_CORE_SERVICE_H
#define WHARF_CORE_SERVICE_H

#include <uv.h>

#include "config.h"

struct store;
struct plugin_registry;
struct http_client;
struct http_server;
struct connector_set;
struct entities;
struct segment_set;
struct sync_engine;

typedef struct service {
    uv_loop_t *loop;
    config config;
    struct store *store;
    struct plugin_registry *plugins;
    struct http_client *http;
    struct http_server *server;
    struct connector_set *connectors;
    struct entities *entities;
    struct segment_set *segments;
    struct sync_engine *sync;
    int stopping;
} service;

#endif
