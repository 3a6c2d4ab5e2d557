#include "wharf/sdk/batch_json.h"

#include <errno.h>
#include <stdlib.h>

#include "wharf/sdk/json_writer.h"

int wharf_batch_pending_indexes(const wharf_host *host, const wharf_batch *batch,
                                size_t **indexes, size_t *count)
{
    size_t total = host->batch_count(batch);
    size_t *pending;
    size_t found = 0;
    size_t i;

    *indexes = NULL;
    *count = 0;
    if (total == 0)
        return 0;

    pending = malloc(total * sizeof(*pending));
    if (pending == NULL)
        return -ENOMEM;

    for (i = 0; i < total; i++) {
        if (!host->batch_has_result(batch, i))
            pending[found++] = i;
    }

    if (found == 0) {
        free(pending);
        return 0;
    }
    *indexes = pending;
    *count = found;
    return 0;
}

/* Append the message at index as the next array element. Returns 1 when it
 * was written, 0 when it was left out, or -ENOMEM. */
static int append_message(const wharf_host *host, wharf_batch *batch, size_t index,
                          int first, wharf_buffer *out)
{
    const struct json_object *message;
    size_t element_start = out->length;
    int rc;

    if (host->batch_has_result(batch, index))
        return 0;
    message = host->batch_message(batch, index);
    if (message == NULL)
        return 0;

    if (!first) {
        rc = wharf_buffer_append_char(out, ',');
        if (rc != 0)
            return rc;
    }

    rc = wharf_json_append(out, message);
    if (rc == 0)
        return 1;

    out->length = element_start;
    out->data[element_start] = '\0';
    if (rc == -ENOMEM)
        return rc;

    host->batch_set_result(batch, index, WHARF_RESULT_ERROR, 0, -1,
                           "message could not be encoded as JSON: nesting too deep");
    return 0;
}

int wharf_batch_append_json_array(const wharf_host *host, wharf_batch *batch,
                                  const size_t *indexes, size_t index_count,
                                  wharf_buffer *out, size_t *written)
{
    size_t start = out->length;
    size_t count = 0;
    size_t i;
    int rc;

    rc = wharf_buffer_append_char(out, '[');
    for (i = 0; rc == 0 && i < index_count; i++) {
        rc = append_message(host, batch, indexes[i], count == 0, out);
        if (rc == 1) {
            count++;
            rc = 0;
        }
    }
    if (rc == 0)
        rc = wharf_buffer_append_char(out, ']');

    if (rc != 0) {
        out->length = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        return rc;
    }

    if (written != NULL)
        *written = count;
    return 0;
}

int wharf_batch_append_pending_json(const wharf_host *host, wharf_batch *batch,
                                    wharf_buffer *out, size_t *written)
{
    size_t total = host->batch_count(batch);
    size_t start = out->length;
    size_t count = 0;
    size_t i;
    int rc;

    rc = wharf_buffer_append_char(out, '[');
    for (i = 0; rc == 0 && i < total; i++) {
        rc = append_message(host, batch, i, count == 0, out);
        if (rc == 1) {
            count++;
            rc = 0;
        }
    }
    if (rc == 0)
        rc = wharf_buffer_append_char(out, ']');

    if (rc != 0) {
        out->length = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        return rc;
    }

    if (written != NULL)
        *written = count;
    return 0;
}
