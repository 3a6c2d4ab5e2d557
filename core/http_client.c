/*
 * Outgoing HTTP for plugins: one libcurl multi handle driven by the libuv
 * loop, with per-connector pools that cap the requests in flight.
 *
 * Ownership: the client owns the multi handle, one uv_timer_t and one
 * http_socket (a uv_poll_t) per socket curl watches, and lists the
 * pools. A pool owns its transfers, either waiting in its FIFO or running
 * (easy handle added to the multi handle). Every uv handle is freed only in
 * its close callback, and the client itself is freed once the last of them
 * has closed. Pools are freed by http_pool_destroy, even after the client is
 * gone.
 *
 * Re-entrancy: done callbacks may queue requests, destroy their own pool or
 * close the client. Done callbacks never run inside a curl callback, because
 * curl rejects calls into the multi handle from there. A pool is freed only
 * when it is destroyed and no function on the stack still refers to it
 * (pool->references).
 */
#include "http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_transfer.h"
#include "log.h"

typedef struct http_socket {
    uv_poll_t poll;
    http_client *client;
    curl_socket_t fd;
    int events;  /* UV_READABLE and UV_WRITABLE as curl last requested */
    int closing; /* uv_close was called, so the close callback frees it */
    struct http_socket *previous;
    struct http_socket *next;
} http_socket;

typedef struct http_transfer_list {
    http_transfer *head;
    http_transfer *tail;
    unsigned count;
} http_transfer_list;

struct http_pool {
    http_client *client;
    char *label;
    unsigned max_connections;
    http_transfer_list waiting; /* FIFO: started in the order queued */
    http_transfer_list running; /* easy handles added to the multi handle */
    unsigned references;        /* functions on the stack using the pool */
    int destroyed;
    http_pool *previous;
    http_pool *next;
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    http_socket *sockets;  /* sockets curl watches, without the closing ones */
    http_pool *pools;
    unsigned handles_open; /* uv handles whose close callback has not run */
    int closing;
    void (*close_done)(void *);
    void *close_arg;
};

static uv_once_t http_client_global_once = UV_ONCE_INIT;
static CURLcode http_client_global_result;

static void http_client_socket_action(http_client *client, curl_socket_t fd,
                                      int flags);
static void http_pool_start_waiting(http_pool *pool);

/* Transfer lists: a transfer is in at most one list at a time. */

static void http_transfer_list_append(http_transfer_list *list,
                                      http_transfer *transfer)
{
    transfer->previous = list->tail;
    transfer->next = NULL;
    if (list->tail)
        list->tail->next = transfer;
    else
        list->head = transfer;
    list->tail = transfer;
    list->count++;
}

static void http_transfer_list_remove(http_transfer_list *list,
                                      http_transfer *transfer)
{
    if (transfer->previous)
        transfer->previous->next = transfer->next;
    else
        list->head = transfer->next;
    if (transfer->next)
        transfer->next->previous = transfer->previous;
    else
        list->tail = transfer->previous;
    transfer->previous = NULL;
    transfer->next = NULL;
    list->count--;
}

/* Pool lifetime. */

static void http_pool_hold(http_pool *pool)
{
    pool->references++;
}

static void http_pool_unlink(http_pool *pool)
{
    http_client *client = pool->client;

    if (pool->previous)
        pool->previous->next = pool->next;
    else
        client->pools = pool->next;
    if (pool->next)
        pool->next->previous = pool->previous;
    pool->previous = NULL;
    pool->next = NULL;
}

static void http_pool_free(http_pool *pool)
{
    if (pool->client)
        http_pool_unlink(pool);
    free(pool->label);
    free(pool);
}

/* Drop a reference. The pool may be freed, so the caller must not touch it
 * afterwards. */
static void http_pool_release(http_pool *pool)
{
    pool->references--;
    if (pool->destroyed && pool->references == 0)
        http_pool_free(pool);
}

/* Size curl's connection cache to the sum of the live pools' limits. Left at
 * its default, curl 7.88 keeps 4 connections per easy handle currently added, so
 * with one request running it closes idle connections that other pools would
 * reuse a moment later. The cache counts connections in use too, and the pool
 * limits already cap those. */
static void http_client_update_cache_size(http_client *client)
{
    long total = 0;

    if (client->closing)
        return;

    for (http_pool *pool = client->pools; pool; pool = pool->next) {
        if (!pool->destroyed)
            total += pool->max_connections;
    }
    if (total < 1)
        total = 1;

    curl_multi_setopt(client->multi, CURLMOPT_MAXCONNECTS, total);
}

/* Sockets: one uv_poll_t per socket curl watches. */

static void http_socket_on_close(uv_handle_t *handle);

/* Unlink the socket and start closing its poll handle. Its memory is freed in
 * the close callback, so curl must no longer point at it: either curl is
 * removing the socket, or the caller has cleared curl's assignment. */
static void http_socket_close(http_socket *watched)
{
    http_client *client = watched->client;

    if (watched->previous)
        watched->previous->next = watched->next;
    else
        client->sockets = watched->next;
    if (watched->next)
        watched->next->previous = watched->previous;
    watched->previous = NULL;
    watched->next = NULL;

    watched->closing = 1;
    uv_poll_stop(&watched->poll);
    uv_close((uv_handle_t *)&watched->poll, http_socket_on_close);
}

static void http_socket_on_poll(uv_poll_t *poll, int status, int events)
{
    http_socket *watched = poll->data;
    int flags = 0;

    if (status < 0) {
        /* Let libcurl read or write the socket too: that is how it learns
         * the cause (a reset connection, say) and reports it, instead of
         * a bare "select/poll returned error". */
        flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }

    http_client_socket_action(watched->client, watched->fd, flags);

    /* libuv stops the handle when it reports an error. curl usually fails
     * the transfer and removes the socket. If curl keeps the socket with the
     * same events, it will not call http_client_on_socket again, so polling
     * restarts here. The http_socket is still allocated, because it is freed
     * only in its close callback. */
    if (status < 0 && !watched->closing)
        uv_poll_start(&watched->poll, watched->events, http_socket_on_poll);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int http_client_on_socket(CURL *easy, curl_socket_t fd, int what,
                                 void *client_pointer, void *socket_pointer)
{
    http_client *client = client_pointer;
    http_socket *watched = socket_pointer;
    int events = 0;
    int rc;

    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        /* curl drops its assignment after this call, so a new socket with
         * the same descriptor number gets a fresh http_socket. */
        if (watched)
            http_socket_close(watched);
        return 0;
    }

    /* During close every poll is closed or closing, and curl only tidies up. */
    if (client->closing)
        return 0;

    if (!watched) {
        watched = calloc(1, sizeof(*watched));
        if (!watched) {
            log_warn("http client: out of memory watching socket %d", (int)fd);
            return -1;
        }

        rc = uv_poll_init_socket(client->loop, &watched->poll, fd);
        if (rc < 0) {
            log_warn("http client: uv_poll_init_socket failed on socket %d: %s",
                     (int)fd, uv_strerror(rc));
            free(watched);
            return -1;
        }

        watched->poll.data = watched;
        watched->client = client;
        watched->fd = fd;
        watched->next = client->sockets;
        if (client->sockets)
            client->sockets->previous = watched;
        client->sockets = watched;
        client->handles_open++;
        curl_multi_assign(client->multi, fd, watched);
    }

    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    watched->events = events;

    rc = uv_poll_start(&watched->poll, events, http_socket_on_poll);
    if (rc < 0) {
        log_warn("http client: uv_poll_start failed on socket %d: %s",
                 (int)fd, uv_strerror(rc));
        return -1;
    }
    return 0;
}

/* Timer: curl requests one timeout at a time. */

static void http_client_on_timeout(uv_timer_t *timer)
{
    http_client_socket_action(timer->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: timeout_ms is -1 to stop the timer. A timeout of 0
 * also goes through the uv timer, because calling curl_multi_socket_action
 * from inside this callback is not allowed. */
static int http_client_on_timer_update(CURLM *multi, long timeout_ms,
                                       void *client_pointer)
{
    http_client *client = client_pointer;

    (void)multi;

    if (client->closing)
        return 0;

    if (timeout_ms < 0)
        uv_timer_stop(&client->timer);
    else
        uv_timer_start(&client->timer, http_client_on_timeout,
                       (uint64_t)timeout_ms, 0);
    return 0;
}

/* Completing and cancelling transfers. */

/* Call the transfer's done callback and free the transfer. The callback may
 * re-enter this module, so the pool is held across it. */
static void http_pool_finish_transfer(http_transfer *transfer)
{
    http_pool *pool = transfer->pool;

    http_pool_hold(pool);
    transfer->done(transfer->user_data, &transfer->response);
    http_transfer_free(transfer);
    http_pool_release(pool);
}

/* Remove a running transfer from its pool and the multi handle. curl keeps
 * its connection in the cache for reuse. */
static void http_pool_detach_transfer(http_transfer *transfer)
{
    http_pool *pool = transfer->pool;

    http_transfer_list_remove(&pool->running, transfer);
    curl_multi_remove_handle(pool->client->multi, transfer->easy);
    curl_easy_cleanup(transfer->easy);
    transfer->easy = NULL;
    transfer->running = 0;
}

static void http_pool_complete_transfer(http_transfer *transfer, CURLcode result)
{
    http_pool *pool = transfer->pool;

    http_transfer_record_result(transfer, result);

    http_pool_hold(pool);
    http_pool_detach_transfer(transfer);

    if (transfer->response.error == WHARF_HTTP_OK)
        log_debug("http pool %s: %s %s returned %ld, %zu bytes in %.3f s",
                  pool->label, transfer->method, transfer->target,
                  transfer->response.status, transfer->response.body_size,
                  transfer->response.total_seconds);
    else
        log_debug("http pool %s: %s %s failed: %s", pool->label,
                  transfer->method, transfer->target,
                  transfer->response.error_message);

    /* Start the next waiting request before calling done, so a request that
     * done queues lines up behind the ones already waiting. */
    http_pool_start_waiting(pool);
    http_pool_finish_transfer(transfer);
    http_pool_release(pool);
}

static void http_pool_cancel_transfer(http_transfer *transfer, const char *reason)
{
    http_pool *pool = transfer->pool;

    if (transfer->running) {
        curl_easy_getinfo(transfer->easy, CURLINFO_TOTAL_TIME,
                          &transfer->response.total_seconds);
        http_pool_detach_transfer(transfer);
    } else {
        http_transfer_list_remove(&pool->waiting, transfer);
    }

    http_transfer_record_cancel(transfer, reason);
    log_debug("http pool %s: %s %s cancelled: %s", pool->label,
              transfer->method, transfer->target, reason);
    http_pool_finish_transfer(transfer);
}

/* Read every finished transfer out of curl. A done callback may add or
 * remove handles or close the client, which curl allows between calls to
 * curl_multi_info_read. The multi handle itself lives until the client's
 * last uv handle has closed. */
static void http_client_read_messages(http_client *client)
{
    CURLMsg *message;
    int pending;

    while ((message = curl_multi_info_read(client->multi, &pending)) != NULL) {
        char *private_data = NULL;
        CURLcode result = message->data.result;

        if (message->msg != CURLMSG_DONE)
            continue;

        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &private_data);
        if (!private_data) {
            log_warn("http client: finished easy handle has no transfer");
            continue;
        }
        http_pool_complete_transfer((http_transfer *)private_data, result);
    }
}

static void http_client_socket_action(http_client *client, curl_socket_t fd,
                                      int flags)
{
    int running = 0;
    CURLMcode rc;

    rc = curl_multi_socket_action(client->multi, fd, flags, &running);
    if (rc != CURLM_OK)
        log_warn("http client: curl_multi_socket_action failed on socket %d: %s",
                 (int)fd, curl_multi_strerror(rc));

    http_client_read_messages(client);
}

/* Starting transfers. */

static int http_pool_start_transfer(http_transfer *transfer)
{
    http_pool *pool = transfer->pool;
    CURLMcode rc;

    rc = curl_multi_add_handle(pool->client->multi, transfer->easy);
    if (rc != CURLM_OK) {
        log_warn("http pool %s: curl_multi_add_handle failed for %s %s: %s",
                 pool->label, transfer->method, transfer->target,
                 curl_multi_strerror(rc));
        return rc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
    }

    transfer->running = 1;
    http_transfer_list_append(&pool->running, transfer);
    log_debug("http pool %s: %s %s started (%u in flight, %u waiting)",
              pool->label, transfer->method, transfer->target,
              pool->running.count, pool->waiting.count);
    return 0;
}

/* Start waiting transfers while the pool has free slots. A transfer that
 * curl does not accept (in practice only on out of memory) finishes with an error at
 * once, since leaving it queued could stall the pool for good. */
static void http_pool_start_waiting(http_pool *pool)
{
    http_pool_hold(pool);

    while (!pool->destroyed && !pool->client->closing &&
           pool->running.count < pool->max_connections && pool->waiting.head) {
        http_transfer *transfer = pool->waiting.head;
        int rc;

        http_transfer_list_remove(&pool->waiting, transfer);
        rc = http_pool_start_transfer(transfer);
        if (rc < 0) {
            http_transfer_record_start_failure(transfer, rc);
            http_pool_finish_transfer(transfer);
        }
    }

    http_pool_release(pool);
}

/* Client lifetime. */

static void http_client_global_init(void)
{
    http_client_global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_client_init(http_client **client_out, uv_loop_t *loop)
{
    http_client *client = NULL;
    int rc;

    if (!client_out || !loop)
        return -EINVAL;
    *client_out = NULL;

    uv_once(&http_client_global_once, http_client_global_init);
    if (http_client_global_result != CURLE_OK) {
        log_error("http client: curl_global_init failed: %s",
                  curl_easy_strerror(http_client_global_result));
        return -EIO;
    }

    client = calloc(1, sizeof(*client));
    if (!client)
        return -ENOMEM;
    client->loop = loop;

    client->multi = curl_multi_init();
    if (!client->multi) {
        rc = -ENOMEM;
        goto fail;
    }

    rc = uv_timer_init(loop, &client->timer);
    if (rc < 0)
        goto fail;
    client->timer.data = client;
    client->handles_open = 1;

    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, http_client_on_socket);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, http_client_on_timer_update);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    http_client_update_cache_size(client);

    *client_out = client;
    return 0;

fail:
    if (client->multi)
        curl_multi_cleanup(client->multi);
    free(client);
    return rc;
}

/* Runs in each uv handle's close callback. The last one frees everything:
 * by then no function of this module is on the stack. */
static void http_client_handle_closed(http_client *client)
{
    void (*done)(void *) = client->close_done;
    void *arg = client->close_arg;

    client->handles_open--;
    if (!client->closing || client->handles_open > 0)
        return;

    /* Closes the cached connections. curl may report their sockets as
     * removed, which http_client_on_socket ignores since every assignment
     * has been cleared. */
    curl_multi_cleanup(client->multi);

    /* Pools not yet destroyed outlive the client, empty and detached, because
     * their owners (connector instances) may be released later and then call
     * http_pool_destroy, which frees them. */
    while (client->pools) {
        http_pool *pool = client->pools;

        http_pool_unlink(pool);
        pool->client = NULL;
    }
    free(client);

    log_debug("http client: closed");
    if (done)
        done(arg);
}

static void http_socket_on_close(uv_handle_t *handle)
{
    http_socket *watched = handle->data;
    http_client *client = watched->client;

    free(watched);
    http_client_handle_closed(client);
}

static void http_client_on_timer_close(uv_handle_t *handle)
{
    http_client_handle_closed(handle->data);
}

void http_client_close(http_client *client, void (*done)(void *), void *arg)
{
    if (!client)
        return;
    if (client->closing) {
        log_warn("http client: close requested twice; ignoring the second call");
        return;
    }
    client->closing = 1;
    client->close_done = done;
    client->close_arg = arg;

    /* Cancel one transfer at a time and rescan from the first pool, because
     * a done callback may destroy any pool, even one not yet scanned. No new
     * transfer can start since the client is closing. */
    for (;;) {
        http_transfer *transfer = NULL;

        for (http_pool *pool = client->pools; pool && !transfer; pool = pool->next)
            transfer = pool->running.head ? pool->running.head : pool->waiting.head;
        if (!transfer)
            break;
        http_pool_cancel_transfer(transfer, "wharfd is stopping");
    }

    while (client->sockets) {
        curl_multi_assign(client->multi, client->sockets->fd, NULL);
        http_socket_close(client->sockets);
    }

    uv_timer_stop(&client->timer);
    uv_close((uv_handle_t *)&client->timer, http_client_on_timer_close);
}

/* Pools. */

http_pool *http_pool_create(http_client *client, const char *label,
                            unsigned max_connections)
{
    http_pool *pool;

    if (!client || client->closing)
        return NULL;

    pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->label = strdup(label ? label : "(unnamed)");
    if (!pool->label) {
        free(pool);
        return NULL;
    }
    pool->client = client;
    pool->max_connections = max_connections > 0 ? max_connections : 1;

    pool->next = client->pools;
    if (client->pools)
        client->pools->previous = pool;
    client->pools = pool;

    http_client_update_cache_size(client);
    return pool;
}

void http_pool_set_limit(http_pool *pool, unsigned max_connections)
{
    if (!pool || pool->destroyed)
        return;

    /* Lowering the limit does not stop running transfers. It only holds back
     * the waiting ones. */
    pool->max_connections = max_connections > 0 ? max_connections : 1;
    if (!pool->client)
        return;
    http_client_update_cache_size(pool->client);
    http_pool_start_waiting(pool);
}

void http_pool_destroy(http_pool *pool)
{
    char reason[200];

    if (!pool || pool->destroyed)
        return;
    if (!pool->client) {
        http_pool_free(pool);
        return;
    }
    pool->destroyed = 1;
    http_pool_hold(pool);

    snprintf(reason, sizeof(reason), "pool %s was destroyed", pool->label);
    while (pool->running.head)
        http_pool_cancel_transfer(pool->running.head, reason);
    while (pool->waiting.head)
        http_pool_cancel_transfer(pool->waiting.head, reason);

    http_client_update_cache_size(pool->client);
    http_pool_release(pool);
}

unsigned http_pool_in_flight(const http_pool *pool)
{
    return pool ? pool->running.count : 0;
}

unsigned http_pool_waiting(const http_pool *pool)
{
    return pool ? pool->waiting.count : 0;
}

int http_pool_request(http_pool *pool, const wharf_http_request *request,
                      wharf_http_done_fn done, void *user_data)
{
    http_transfer *transfer = NULL;
    int rc;

    if (!pool || !request || !done)
        return -EINVAL;
    if (pool->destroyed || !pool->client || pool->client->closing)
        return -ECANCELED;

    rc = http_transfer_create(&transfer, pool->label, request);
    if (rc < 0)
        return rc;
    transfer->pool = pool;
    transfer->done = done;
    transfer->user_data = user_data;

    /* Waiting transfers go first, so a free slot goes to a new request only
     * when nothing waits. Starting it now rather than later keeps done from
     * running before this function returns. */
    if (pool->waiting.count > 0 || pool->running.count >= pool->max_connections) {
        http_transfer_list_append(&pool->waiting, transfer);
        log_debug("http pool %s: %s %s queued (%u in flight, %u waiting)",
                  pool->label, transfer->method, transfer->target,
                  pool->running.count, pool->waiting.count);
        return 0;
    }

    rc = http_pool_start_transfer(transfer);
    if (rc < 0) {
        http_transfer_free(transfer);
        return rc;
    }
    return 0;
}
