#include "batch_view.h"

#include <inttypes.h>
#include <string.h>

#include "json_fields.h"

static const char *text_or_dash(const char *text)
{
    return text != NULL ? text : "-";
}

int batch_view_is_final(const char *state)
{
    return state != NULL && (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
                             strcmp(state, "rejected") == 0);
}

void batch_view_target(const json_object *view, char *text, size_t size)
{
    static const char *const kinds[] = {"segment", "user", "account"};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char member[16];
        const char *id;

        snprintf(member, sizeof(member), "%s_id", kinds[i]);
        id = json_string_member(view, member);
        if (id != NULL) {
            snprintf(text, size, "%s %s", kinds[i], id);
            return;
        }
    }
    snprintf(text, size, "-");
}

void batch_view_print_summary(const json_object *view, FILE *stream)
{
    fprintf(stream,
            "batch %s %s: total %" PRId64 ", sent %" PRId64 ", skipped %" PRId64
            ", failed %" PRId64 "\n",
            text_or_dash(json_string_member(view, "id")),
            text_or_dash(json_string_member(view, "state")), json_integer_member(view, "total"),
            json_integer_member(view, "sent"), json_integer_member(view, "skipped"),
            json_integer_member(view, "failed"));
}

void batch_view_print_details(const json_object *view, FILE *stream)
{
    char target[256];

    batch_view_target(view, target, sizeof(target));
    fprintf(stream, "id:         %s\n", text_or_dash(json_string_member(view, "id")));
    fprintf(stream, "connector:  %s\n", text_or_dash(json_string_member(view, "connector_id")));
    fprintf(stream, "target:     %s\n", target);
    fprintf(stream, "state:      %s\n", text_or_dash(json_string_member(view, "state")));
    fprintf(stream, "total:      %" PRId64 "\n", json_integer_member(view, "total"));
    fprintf(stream, "sent:       %" PRId64 "\n", json_integer_member(view, "sent"));
    fprintf(stream, "skipped:    %" PRId64 "\n", json_integer_member(view, "skipped"));
    fprintf(stream, "failed:     %" PRId64 "\n", json_integer_member(view, "failed"));
    fprintf(stream, "error:      %s\n", text_or_dash(json_string_member(view, "error")));
    fprintf(stream, "created at: %s\n", text_or_dash(json_string_member(view, "created_at")));
    fprintf(stream, "updated at: %s\n", text_or_dash(json_string_member(view, "updated_at")));
}
