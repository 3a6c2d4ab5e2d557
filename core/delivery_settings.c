#include "delivery_settings.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_RETRY_BASE_MS 1000
#define DEFAULT_RETRY_CAP_MS (10 * 60 * 1000)
#define DEFAULT_MAX_ATTEMPTS 50
#define DEFAULT_MAX_AGE_SECONDS (24 * 3600)
/* Upper bounds that keep the arithmetic in range, not advice. */
#define MAX_DELAY_MS (24 * 3600 * 1000)
#define MAX_ATTEMPTS_LIMIT 1000
#define MAX_AGE_LIMIT_SECONDS (30 * 24 * 3600)
#define MAX_RATE_LIMIT 100000.0
#define DEFAULT_PAUSE_AFTER_FAILURES 5
#define MAX_PAUSE_AFTER_FAILURES 1000

void delivery_settings_default(delivery_settings *settings)
{
    settings->retry_base_ms = DEFAULT_RETRY_BASE_MS;
    settings->retry_cap_ms = DEFAULT_RETRY_CAP_MS;
    settings->max_attempts = DEFAULT_MAX_ATTEMPTS;
    settings->max_age_seconds = DEFAULT_MAX_AGE_SECONDS;
    settings->rate_limit = 0;
    settings->coalesce = 0;
    settings->pause_after_failures = DEFAULT_PAUSE_AFTER_FAILURES;
}

static int read_integer(json_object *object, const char *key, int64_t min, int64_t max,
                        uint32_t *out, char *error, size_t error_size)
{
    json_object *value;
    int64_t number;

    if (!json_object_object_get_ex(object, key, &value))
        return 0;
    number = json_object_get_int64(value);
    if (!json_object_is_type(value, json_type_int) || number < min || number > max) {
        snprintf(error, error_size, "\"delivery.%s\" must be an integer from %lld to %lld, got %s",
                 key, (long long)min, (long long)max, json_object_to_json_string(value));
        return -1;
    }
    *out = (uint32_t)number;
    return 0;
}

int delivery_settings_parse(const json_object *object, delivery_settings *settings, char *error,
                            size_t error_size)
{
    static const char *const known[] = {"retry_base_ms",   "retry_cap_ms",
                                        "max_attempts",    "max_age_seconds",
                                        "rate_limit",      "coalesce",
                                        "pause_after_failures"};
    json_object *input = (json_object *)object;
    json_object *value;

    delivery_settings_default(settings);
    if (object == NULL)
        return 0;
    if (!json_object_is_type(input, json_type_object)) {
        snprintf(error, error_size,
                 "\"delivery\" must be an object with retry_base_ms, retry_cap_ms, "
                 "max_attempts, max_age_seconds, rate_limit, coalesce and "
                 "pause_after_failures");
        return -1;
    }
    json_object_object_foreach(input, key, member) {
        size_t i;

        (void)member;
        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            if (strcmp(key, known[i]) == 0)
                break;
        }
        if (i == sizeof(known) / sizeof(known[0])) {
            snprintf(error, error_size,
                     "unknown field \"delivery.%.64s\"; delivery has retry_base_ms, "
                     "retry_cap_ms, max_attempts, max_age_seconds, rate_limit, coalesce "
                     "and pause_after_failures",
                     key);
            return -1;
        }
    }
    if (read_integer(input, "retry_base_ms", 1, MAX_DELAY_MS, &settings->retry_base_ms, error,
                     error_size) != 0 ||
        read_integer(input, "retry_cap_ms", 1, MAX_DELAY_MS, &settings->retry_cap_ms, error,
                     error_size) != 0 ||
        read_integer(input, "max_attempts", 1, MAX_ATTEMPTS_LIMIT, &settings->max_attempts,
                     error, error_size) != 0 ||
        read_integer(input, "max_age_seconds", 1, MAX_AGE_LIMIT_SECONDS,
                     &settings->max_age_seconds, error, error_size) != 0 ||
        read_integer(input, "pause_after_failures", 0, MAX_PAUSE_AFTER_FAILURES,
                     &settings->pause_after_failures, error, error_size) != 0)
        return -1;
    if (settings->retry_cap_ms < settings->retry_base_ms) {
        snprintf(error, error_size,
                 "\"delivery.retry_cap_ms\" (%u) must not be below \"delivery.retry_base_ms\" (%u)",
                 settings->retry_cap_ms, settings->retry_base_ms);
        return -1;
    }
    if (json_object_object_get_ex(input, "rate_limit", &value)) {
        double rate = json_object_get_double(value);

        if ((!json_object_is_type(value, json_type_int) &&
             !json_object_is_type(value, json_type_double)) ||
            rate < 0 || rate > MAX_RATE_LIMIT) {
            snprintf(error, error_size,
                     "\"delivery.rate_limit\" must be a number of requests per second from 0 "
                     "(no limit) to %.0f, got %s",
                     MAX_RATE_LIMIT, json_object_to_json_string(value));
            return -1;
        }
        settings->rate_limit = rate;
    }
    if (json_object_object_get_ex(input, "coalesce", &value)) {
        if (!json_object_is_type(value, json_type_boolean)) {
            snprintf(error, error_size, "\"delivery.coalesce\" must be true or false, got %s",
                     json_object_to_json_string(value));
            return -1;
        }
        settings->coalesce = json_object_get_boolean(value);
    }
    return 0;
}

json_object *delivery_settings_to_json(const delivery_settings *settings)
{
    json_object *object = json_object_new_object();

    json_object_object_add(object, "retry_base_ms", json_object_new_int64(settings->retry_base_ms));
    json_object_object_add(object, "retry_cap_ms", json_object_new_int64(settings->retry_cap_ms));
    json_object_object_add(object, "max_attempts", json_object_new_int64(settings->max_attempts));
    json_object_object_add(object, "max_age_seconds",
                           json_object_new_int64(settings->max_age_seconds));
    /* A whole rate as an integer, like the other fields (json-c writes the
     * double 0 as 0.0). The range check above keeps it far below 2^53. */
    if (settings->rate_limit == (double)(int64_t)settings->rate_limit)
        json_object_object_add(object, "rate_limit",
                               json_object_new_int64((int64_t)settings->rate_limit));
    else
        json_object_object_add(object, "rate_limit",
                               json_object_new_double(settings->rate_limit));
    json_object_object_add(object, "coalesce", json_object_new_boolean(settings->coalesce));
    json_object_object_add(object, "pause_after_failures",
                           json_object_new_int64(settings->pause_after_failures));
    return object;
}
