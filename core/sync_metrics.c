/*
 * Delivery metrics in the Prometheus text exposition format (version
 * 0.0.4), one series per connector.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "service.h"
#include "sync.h"
#include "sync_internal.h"

typedef struct text_buffer {
    char *data;
    size_t length;
    size_t capacity;
    int failed;
} text_buffer;

static void appendf(text_buffer *text, const char *format, ...)
{
    va_list args;
    int needed;

    if (text->failed)
        return;
    for (;;) {
        size_t room = text->capacity - text->length;

        va_start(args, format);
        needed = vsnprintf(text->data != NULL ? text->data + text->length : NULL, room, format,
                           args);
        va_end(args);
        if (needed < 0) {
            text->failed = 1;
            return;
        }
        if ((size_t)needed < room) {
            text->length += (size_t)needed;
            return;
        }
        size_t capacity = text->capacity == 0 ? 4096 : text->capacity * 2;
        while (capacity < text->length + (size_t)needed + 1)
            capacity *= 2;
        char *grown = realloc(text->data, capacity);
        if (grown == NULL) {
            text->failed = 1;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
}

/* Connector ids are generated UUIDs, so they need no label escaping. */
static void family(text_buffer *text, const char *name, const char *type, const char *help)
{
    appendf(text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef struct queue_view {
    const char *id;
    int64_t queued;
    int64_t dead;
    size_t in_flight;
    int paused;
    const sync_counters *counters;
} queue_view;

char *sync_metrics_text(sync_engine *engine)
{
    static const sync_counters none = {0};
    service *svc = engine->service;
    text_buffer text = {0};
    queue_view *views = NULL;
    size_t count = 0;
    const double *bounds = sync_latency_bounds();

    for (connector *c = svc->connectors != NULL ? connector_first(svc->connectors) : NULL;
         c != NULL; c = c->next)
        count++;
    views = calloc(count > 0 ? count : 1, sizeof(*views));
    if (views == NULL)
        return NULL;
    count = 0;
    for (connector *c = svc->connectors != NULL ? connector_first(svc->connectors) : NULL;
         c != NULL; c = c->next) {
        sync_queue *q = sync_queue_of(engine, c->id);
        queue_view *view = &views[count++];

        view->id = c->id;
        view->counters = q != NULL ? &q->counters : &none;
        view->in_flight = q != NULL ? q->in_flight_messages : 0;
        view->paused = q != NULL && q->pauses > 0;
        /* Rows of messages in flight are still in the store. */
        view->queued = q != NULL ? q->stored_queued : 0;
        view->dead = q != NULL ? q->stored_dead : 0;
        if (q != NULL) {
            for (outgoing *item = q->head; item != NULL; item = item->next) {
                if (item->sequence == 0)
                    view->queued++;
            }
        }
        for (manual_batch *b = engine->batches; b != NULL; b = b->next_batch) {
            if (strcmp(b->connector_id, c->id) == 0 && b->member_count > b->next &&
                strcmp(b->state, "sending") == 0)
                view->queued += b->member_count - b->next;
        }
    }

    family(&text, "wharf_delivery_queue_depth", "gauge",
           "Messages waiting for delivery, in flight included (durable queue and running "
           "manual batches).");
    for (size_t i = 0; i < count; i++)
        appendf(&text, "wharf_delivery_queue_depth{connector=\"%s\"} %lld\n", views[i].id,
                (long long)views[i].queued);
    family(&text, "wharf_delivery_in_flight", "gauge", "Messages handed to the plugin, without a result yet.");
    for (size_t i = 0; i < count; i++)
        appendf(&text, "wharf_delivery_in_flight{connector=\"%s\"} %zu\n", views[i].id,
                views[i].in_flight);
    family(&text, "wharf_delivery_paused", "gauge",
           "1 while the connector pauses its sends because its destination keeps failing "
           "(delivery.pause_after_failures), else 0.");
    for (size_t i = 0; i < count; i++)
        appendf(&text, "wharf_delivery_paused{connector=\"%s\"} %d\n", views[i].id,
                views[i].paused);
    family(&text, "wharf_delivery_dead_letters", "gauge", "Messages kept as dead letters.");
    for (size_t i = 0; i < count; i++)
        appendf(&text, "wharf_delivery_dead_letters{connector=\"%s\"} %lld\n", views[i].id,
                (long long)views[i].dead);

    struct {
        const char *name;
        const char *help;
        size_t offset;
    } totals[] = {
        {"wharf_delivery_sent_total", "Messages delivered since start.",
         offsetof(sync_counters, sent)},
        {"wharf_delivery_skipped_total", "Messages the plugin or coalescing skipped since start.",
         offsetof(sync_counters, skipped)},
        {"wharf_delivery_failed_total", "Messages that failed for good since start.",
         offsetof(sync_counters, failed)},
        {"wharf_delivery_retries_total", "Retries scheduled since start.",
         offsetof(sync_counters, retries)},
        {"wharf_delivery_dead_lettered_total", "Messages made dead letters since start.",
         offsetof(sync_counters, dead_letters)},
    };
    for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
        family(&text, totals[t].name, "counter", totals[t].help);
        for (size_t i = 0; i < count; i++) {
            const uint64_t *value =
                (const uint64_t *)((const char *)views[i].counters + totals[t].offset);
            appendf(&text, "%s{connector=\"%s\"} %llu\n", totals[t].name, views[i].id,
                    (unsigned long long)*value);
        }
    }

    family(&text, "wharf_delivery_request_duration_seconds", "histogram",
           "Time from handing a request to the plugin to its last result.");
    for (size_t i = 0; i < count; i++) {
        const sync_counters *counters = views[i].counters;
        uint64_t cumulative = 0;

        for (size_t b = 0; b < SYNC_LATENCY_BUCKETS; b++) {
            cumulative += counters->latency_buckets[b];
            appendf(&text,
                    "wharf_delivery_request_duration_seconds_bucket{connector=\"%s\",le=\"%g\"} "
                    "%llu\n",
                    views[i].id, bounds[b], (unsigned long long)cumulative);
        }
        appendf(&text,
                "wharf_delivery_request_duration_seconds_bucket{connector=\"%s\",le=\"+Inf\"} "
                "%llu\n",
                views[i].id, (unsigned long long)counters->requests);
        appendf(&text, "wharf_delivery_request_duration_seconds_sum{connector=\"%s\"} %.6f\n",
                views[i].id, counters->latency_sum_seconds);
        appendf(&text, "wharf_delivery_request_duration_seconds_count{connector=\"%s\"} %llu\n",
                views[i].id, (unsigned long long)counters->requests);
    }
    free(views);
    if (text.failed) {
        free(text.data);
        return NULL;
    }
    if (text.data == NULL)
        return strdup("");
    return text.data;
}
