/*
 * Setting up a wharfd for bench_sync through its public interfaces only:
 * the bundled webhook plugin dropped into its plugins directory, users
 * loaded through /v1/batch, a segment and a webhook connector created
 * through the admin API.
 */
#ifndef WHARF_BENCH_SYNC_SETUP_H
#define WHARF_BENCH_SYNC_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "bench_sync_http.h"
#include "bench_ingest_server.h"

#define BENCH_SYNC_WRITE_KEY "bench-sync-write-key"
#define BENCH_SYNC_ID_SIZE 64

/* Start wharfd_path and copy webhook.so from plugins_dir into its plugins
 * directory; wait up to 30 s until the plugin is listed. Returns 0, or -1
 * with a message in error (wharfd is then stopped). */
int bench_sync_start(wharfd_process *process, const char *wharfd_path, const char *plugins_dir,
                     char *error, size_t error_size);

/* Create a user segment with query_text and wait up to 300 s until it is
 * ready with expected_size members. */
int bench_sync_create_segment(http_client *api, const char *name, const char *query_text,
                              uint64_t expected_size, char id[BENCH_SYNC_ID_SIZE], char *error,
                              size_t error_size);

/* Create a webhook connector that posts to the sink on sink_port.
 * whitelist_segment_id may be NULL (empty whitelist). */
int bench_sync_create_connector(http_client *api, int sink_port, unsigned batch_size,
                                unsigned max_connections, const char *whitelist_segment_id,
                                char id[BENCH_SYNC_ID_SIZE], char *error, size_t error_size);

double bench_sync_now_seconds(void);

#endif
