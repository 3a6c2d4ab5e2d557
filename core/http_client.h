/*
 * Outgoing HTTP for plugins: one libcurl multi handle driven by the libuv
 * loop (uv_poll_t per socket, one uv_timer_t for curl's timeout).
 *
 * Each connector owns a pool: a limit on the requests (and so connections)
 * it has in flight at once, and a FIFO of requests waiting for a slot.
 * Connections are kept alive and reused through the multi handle's shared
 * connection cache.
 */
#ifndef WHARF_CORE_HTTP_CLIENT_H
#define WHARF_CORE_HTTP_CLIENT_H

#include <uv.h>

#include "wharf/host.h"

typedef struct http_client http_client;
typedef struct http_pool http_pool;

/* Create the shared client on loop. Returns 0 or a negative errno code. */
int http_client_init(http_client **client, uv_loop_t *loop);

/* Cancel every queued and running request (their callbacks run with
 * WHARF_HTTP_ERR_CANCELLED), close all handles, and call done (may be NULL)
 * once the last close callback has run and the client is freed. Pools not
 * yet destroyed stay allocated and empty until http_pool_destroy() frees
 * them; meanwhile they reject requests with -ECANCELED. */
void http_client_close(http_client *client, void (*done)(void *), void *arg);

/* A pool allowing max_connections requests in flight (at least 1).
 * label (copied) names the pool in log lines, such as a connector id. */
http_pool *http_pool_create(http_client *client, const char *label,
                            unsigned max_connections);
void http_pool_set_limit(http_pool *pool, unsigned max_connections);

/* Cancel the pool's queued and running requests (callbacks run with
 * WHARF_HTTP_ERR_CANCELLED, possibly before this returns) and free the pool
 * once nothing refers to it. */
void http_pool_destroy(http_pool *pool);

/* Number of requests in flight and waiting. */
unsigned http_pool_in_flight(const http_pool *pool);
unsigned http_pool_waiting(const http_pool *pool);

/* Queue a request. Everything request points to is copied. Returns 0 and
 * calls done exactly once later on the loop thread, or returns -EINVAL
 * (missing or non-http(s) URL) or -ECANCELED (client closing) and never
 * calls done. */
int http_pool_request(http_pool *pool, const wharf_http_request *request,
                      wharf_http_done_fn done, void *user_data);

/* Header lookup on a response passed to a done callback. */
const char *http_response_header(const wharf_http_response *response,
                                 const char *name);

#endif
