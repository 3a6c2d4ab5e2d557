/*
 * A connector's delivery settings: how failed messages are retried, when
 * they become dead letters, how fast requests may go out, whether a
 * queued message may be replaced by a newer one for the same entity, and
 * when a failing destination makes the connector pause. The
 * API and the store carry them as the connector's "delivery" object.
 */
#ifndef WHARF_CORE_DELIVERY_SETTINGS_H
#define WHARF_CORE_DELIVERY_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

typedef struct delivery_settings {
    uint32_t retry_base_ms;     /* first backoff ceiling */
    uint32_t retry_cap_ms;      /* largest backoff ceiling */
    uint32_t max_attempts;      /* sends before a message is a dead letter */
    uint32_t max_age_seconds;   /* age after which a failing message is a dead letter */
    double rate_limit;          /* requests per second; 0 for no limit */
    int coalesce;               /* replace a queued message by a newer one */
    /* Requests in a row in which every message asked for a retry before
     * the connector pauses its sends; 0 never pauses. */
    uint32_t pause_after_failures;
} delivery_settings;

void delivery_settings_default(delivery_settings *settings);

/* Read a "delivery" object over the defaults. Fields left out keep their
 * default. Returns 0, or -1 with a message naming the field in error. */
int delivery_settings_parse(const struct json_object *object, delivery_settings *settings,
                            char *error, size_t error_size);

/* The settings as a new JSON object, every field present. */
struct json_object *delivery_settings_to_json(const delivery_settings *settings);

#endif
