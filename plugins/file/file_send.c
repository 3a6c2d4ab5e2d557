/*
 * send() for the file connector, run on a worker thread
 * (WHARF_PLUGIN_SEND_BLOCKING). It writes one line per message, fsyncs,
 * and reports a message as delivered only once its line is on disk.
 */
#include "file_plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "wharf/sdk/batch_json.h"
#include "wharf/sdk/buffer.h"
#include "wharf/sdk/json_writer.h"

/* One message's line inside the send's line buffer. */
typedef struct file_line {
    size_t index;
    size_t offset;
    size_t length;
} file_line;

typedef struct file_send_state {
    file_plugin *plugin;
    wharf_batch *batch;
    wharf_buffer text;
    file_line *lines;
    size_t line_count;
    /* lines[synced .. written) are in the open file but not yet fsynced. */
    size_t synced;
    size_t written;
} file_send_state;

/* Errors that an operator must fix get ERROR; the rest (disk full, I/O
 * errors) may pass, so the message is retried. */
static wharf_result_kind kind_for(int rc)
{
    switch (-rc) {
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case EPERM:
    case EROFS:
    case ENAMETOOLONG:
    case ELOOP:
        return WHARF_RESULT_ERROR;
    default:
        return WHARF_RESULT_RETRY;
    }
}

static void set_pending(const wharf_host *host, wharf_batch *batch, wharf_result_kind kind,
                        const char *reason)
{
    size_t count = host->batch_count(batch);

    for (size_t i = 0; i < count; i++) {
        if (!host->batch_has_result(batch, i))
            host->batch_set_result(batch, i, kind, 0, -1, reason);
    }
}

static int is_test_message(const struct json_object *message)
{
    struct json_object *flag = NULL;

    return json_object_object_get_ex(message, "is_test", &flag) &&
           json_object_get_boolean(flag);
}

/* The connector test writes a probe file instead of a line, so that
 * testing a connector leaves no sample user in the exported data. */
static void answer_test_message(file_send_state *state, size_t index)
{
    const wharf_host *host = state->plugin->host;
    char reason[1024];
    int rc = file_directory_probe(&state->plugin->config, reason, sizeof(reason));

    if (rc == 0)
        host->batch_set_result(state->batch, index, WHARF_RESULT_SUCCESS, 0, -1, NULL);
    else
        host->batch_set_result(state->batch, index, kind_for(rc), 0, -1, reason);
}

/* Serialise every pending message into state->text, one line each. */
static int encode_lines(file_send_state *state)
{
    const wharf_host *host = state->plugin->host;
    uint64_t max_record = state->plugin->config.max_record_bytes;
    size_t count = host->batch_count(state->batch);
    char reason[256];

    state->lines = calloc(count > 0 ? count : 1, sizeof(*state->lines));
    if (state->lines == NULL)
        return -ENOMEM;

    for (size_t index = 0; index < count; index++) {
        const struct json_object *message;
        file_line *line = &state->lines[state->line_count];
        int rc;

        if (host->batch_has_result(state->batch, index))
            continue;
        message = host->batch_message(state->batch, index);
        if (is_test_message(message)) {
            answer_test_message(state, index);
            continue;
        }

        line->index = index;
        line->offset = state->text.length;
        rc = wharf_json_append(&state->text, message);
        if (rc == 0)
            rc = wharf_buffer_append_char(&state->text, '\n');
        if (rc == -ENOMEM)
            return rc;
        if (rc != 0) {
            state->text.length = line->offset;
            host->batch_set_result(state->batch, index, WHARF_RESULT_ERROR, 0, -1,
                                   "message could not be encoded as JSON: nesting too deep");
            continue;
        }

        line->length = state->text.length - line->offset;
        if (line->length > max_record) {
            snprintf(reason, sizeof(reason),
                     "message is %zu bytes as a line, more than setting \"max_record_bytes\" "
                     "(%llu); raise the setting or remove large attributes",
                     line->length, (unsigned long long)max_record);
            state->text.length = line->offset;
            host->batch_set_result(state->batch, index, WHARF_RESULT_ERROR, 0, -1, reason);
            continue;
        }
        state->line_count++;
    }
    return 0;
}

/* Give lines[first .. end) one result. */
static void set_lines(file_send_state *state, size_t first, size_t end, wharf_result_kind kind,
                      const char *reason)
{
    const wharf_host *host = state->plugin->host;

    for (size_t i = first; i < end; i++)
        host->batch_set_result(state->batch, state->lines[i].index, kind, 0, -1,
                               kind == WHARF_RESULT_SUCCESS ? NULL : reason);
}

/* Lines written since the last fsync are on disk now, or lost with rc. */
static void settle_unsynced(file_send_state *state, int rc, const char *reason)
{
    if (rc == 0)
        set_lines(state, state->synced, state->written, WHARF_RESULT_SUCCESS, NULL);
    else
        set_lines(state, state->synced, state->written, WHARF_RESULT_RETRY, reason);
    state->synced = state->written;
}

/* Number of lines from first on that fit into room bytes (at least one). */
static size_t lines_that_fit(const file_send_state *state, size_t first, uint64_t room)
{
    uint64_t total = state->lines[first].length;
    size_t end = first + 1;

    while (end < state->line_count && total + state->lines[end].length <= room) {
        total += state->lines[end].length;
        end++;
    }
    return end;
}

static void write_lines(file_send_state *state)
{
    file_plugin *plugin = state->plugin;
    char reason[1024];
    int rc;

    while (state->written < state->line_count) {
        const file_line *first = &state->lines[state->written];
        size_t end;

        if (file_output_is_due(plugin, first->length)) {
            /* The rotation's fsync decides the lines written so far. */
            rc = file_output_rotate(plugin, reason, sizeof(reason));
            settle_unsynced(state, rc, reason);
        }
        rc = file_output_open(plugin, reason, sizeof(reason));
        if (rc != 0) {
            set_lines(state, state->written, state->line_count, kind_for(rc), reason);
            state->line_count = state->written;
            break;
        }

        end = lines_that_fit(state, state->written,
                             plugin->config.max_file_bytes - plugin->output.size);
        rc = file_output_append(plugin, state->text.data + first->offset,
                                state->lines[end - 1].offset + state->lines[end - 1].length -
                                    first->offset,
                                reason, sizeof(reason));
        if (rc != 0) {
            /* These lines are not in the file; earlier ones of this send
             * are, and get the fsync below. */
            set_lines(state, state->written, end, kind_for(rc), reason);
            memmove(&state->lines[state->written], &state->lines[end],
                    (state->line_count - end) * sizeof(*state->lines));
            state->line_count -= end - state->written;
            continue;
        }
        state->written = end;
    }

    rc = file_output_sync(plugin, reason, sizeof(reason));
    settle_unsynced(state, rc, reason);
}

void file_send(void *instance, wharf_batch *batch)
{
    file_plugin *plugin = instance;
    const wharf_host *host = plugin->host;
    file_send_state state = {plugin, batch, WHARF_BUFFER_INIT, NULL, 0, 0, 0};
    char reason[1024];
    int rc;

    pthread_mutex_lock(&plugin->lock);

    rc = file_directory_check(&plugin->config, reason, sizeof(reason));
    if (rc != 0) {
        host->log(plugin->connector, WHARF_LOG_ERROR, "%s", reason);
        set_pending(host, batch, kind_for(rc), reason);
        goto out;
    }
    if (!plugin->leftovers_done && file_output_finish_leftovers(plugin, reason,
                                                                sizeof(reason)) != 0)
        host->log(plugin->connector, WHARF_LOG_WARN, "%s", reason);
    file_output_drop_if_gone(plugin);

    rc = encode_lines(&state);
    if (rc != 0) {
        host->log(plugin->connector, WHARF_LOG_ERROR,
                  "out of memory while encoding a batch of %zu messages; they will be retried",
                  host->batch_count(batch));
        set_pending(host, batch, WHARF_RESULT_RETRY, "out of memory while encoding the lines");
        goto out;
    }
    if (state.line_count > 0)
        write_lines(&state);

out:
    pthread_mutex_unlock(&plugin->lock);
    wharf_buffer_free(&state.text);
    free(state.lines);
}
