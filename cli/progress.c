#include "progress.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "json_fields.h"

/* Characters of the bar between the brackets; the whole line stays under
 * 80 columns for counts up to a million. */
#define BAR_WIDTH 24

void progress_start(progress *p, FILE *stream)
{
    memset(p, 0, sizeof(*p));
    p->stream = stream;
    p->terminal = isatty(fileno(stream));
}

static void format_bar(const json_object *view, const char *state, char *line, size_t size)
{
    int64_t total = json_integer_member(view, "total");
    int64_t sent = json_integer_member(view, "sent");
    int64_t skipped = json_integer_member(view, "skipped");
    int64_t failed = json_integer_member(view, "failed");
    int64_t processed = sent + skipped + failed;
    char bar[BAR_WIDTH + 1];
    int filled = 0;
    int percent = 0;

    if (strcmp(state, "waiting_for_segment") == 0) {
        snprintf(line, size, "waiting for the segment to finish computing...");
        return;
    }

    if (total > 0) {
        if (processed > total)
            processed = total;
        filled = (int)(processed * BAR_WIDTH / total);
        percent = (int)(processed * 100 / total);
    }
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '-', (size_t)(BAR_WIDTH - filled));
    bar[BAR_WIDTH] = '\0';

    snprintf(line, size,
             "%s [%s] %3d%% %" PRId64 "/%" PRId64 " (sent %" PRId64 ", skipped %" PRId64
             ", failed %" PRId64 ")",
             state, bar, percent, processed, total, sent, skipped, failed);
}

static void print_state_line(progress *p, const json_object *view, const char *state)
{
    const char *id = json_string_member(view, "id");
    int64_t total = json_integer_member(view, "total");

    if (strcmp(state, "waiting_for_segment") == 0)
        fprintf(p->stream, "batch %s: waiting_for_segment (the segment is still computing)\n",
                id);
    else if (strcmp(state, "sending") == 0)
        fprintf(p->stream, "batch %s: sending %" PRId64 " message%s\n", id, total,
                total == 1 ? "" : "s");
    else
        fprintf(p->stream, "batch %s: %s\n", id, state);
    fflush(p->stream);
}

void progress_update(progress *p, const json_object *view)
{
    const char *state = json_string_member(view, "state");
    char line[sizeof(p->line)];

    if (state == NULL)
        return;

    if (!p->terminal) {
        if (strcmp(state, p->state) != 0)
            print_state_line(p, view, state);
        snprintf(p->state, sizeof(p->state), "%s", state);
        return;
    }

    format_bar(view, state, line, sizeof(line));
    snprintf(p->state, sizeof(p->state), "%s", state);
    if (p->line_drawn && strcmp(line, p->line) == 0)
        return;
    /* "\r" returns to the start of the line; ESC [ K erases what an older,
     * longer line left to the right. */
    fprintf(p->stream, "\r%s\033[K", line);
    fflush(p->stream);
    memcpy(p->line, line, sizeof(line));
    p->line_drawn = 1;
}

void progress_finish(progress *p)
{
    if (p->line_drawn) {
        fputc('\n', p->stream);
        fflush(p->stream);
    }
    p->line_drawn = 0;
}
