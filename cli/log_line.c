#include "log_line.h"

#include <string.h>

#include "json_fields.h"

/* Width of the longest message wharfd writes, "outgoing.account.success",
 * so that the columns after it line up. */
#define MESSAGE_WIDTH 24

/* Print text with control characters replaced by '?', because claims come
 * from client applications and must not move the terminal's cursor. */
static void print_field(const char *text, FILE *stream)
{
    if (text == NULL || text[0] == '\0') {
        fputc('-', stream);
        return;
    }
    for (const unsigned char *byte = (const unsigned char *)text; *byte != '\0'; byte++)
        fputc(*byte < 0x20 || *byte == 0x7F ? '?' : *byte, stream);
}

static const char *identity_of(const json_object *line)
{
    static const char *const claims[] = {"external_id", "email", "domain"};
    json_object *claims_object = json_object_member(line, "claims");
    json_object *anonymous_ids;

    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        const char *value = json_string_member(claims_object, claims[i]);

        if (value != NULL && value[0] != '\0')
            return value;
    }
    anonymous_ids = json_array_member(claims_object, "anonymous_ids");
    if (anonymous_ids != NULL && json_object_array_length(anonymous_ids) > 0)
        return json_object_get_string(json_object_array_get_idx(anonymous_ids, 0));
    return NULL;
}

void log_line_print(const json_object *line, FILE *stream)
{
    const char *message = json_string_member(line, "message");
    const char *entity_id = json_string_member(line, "user_id");
    json_object *data = json_object_member(line, "data");

    if (entity_id == NULL)
        entity_id = json_string_member(line, "account_id");

    print_field(json_string_member(line, "time"), stream);
    fputc(' ', stream);
    print_field(message, stream);
    for (size_t width = message != NULL ? strlen(message) : 1; width < MESSAGE_WIDTH; width++)
        fputc(' ', stream);
    fputc(' ', stream);
    print_field(identity_of(line), stream);
    fputc(' ', stream);
    print_field(entity_id, stream);
    fputc(' ', stream);
    print_field(json_string_member(line, "batch_id"), stream);
    fputc(' ', stream);
    if (data == NULL || json_object_object_length(data) == 0)
        fputc('-', stream);
    else
        fputs(json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE),
              stream);
    fputc('\n', stream);
}

int64_t log_line_sequence(const json_object *line)
{
    return json_integer_member(line, "sequence");
}

static int compare_sequences(const void *left, const void *right)
{
    int64_t a = log_line_sequence(*(json_object *const *)left);
    int64_t b = log_line_sequence(*(json_object *const *)right);

    return (a > b) - (a < b);
}

void log_line_sort(json_object *lines)
{
    json_object_array_sort(lines, compare_sequences);
}
