/*
 * The segment query compiler: validates a JSON query and turns it into a
 * tree of segment_node (segment_node.h). Every error names the JSON path
 * of the fault, such as "$.all[1].value".
 */
#include "segment_query.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso8601.h"
#include "segment_node.h"
#include "utf8_text.h"
#include "value_pool.h"

#define ACCOUNT_PREFIX "account."
#define MS_PER_SECOND INT64_C(1000)
/* Durations above this are surely a typo. The limit also keeps now minus
 * the duration far from overflowing. */
#define MAX_DURATION_MS (INT64_C(100) * 366 * 24 * 3600 * MS_PER_SECOND)
#define MAX_DURATION_TEXT "100 years"

enum operator_flags {
    OPERATOR_TEXT = 1,  /* case_insensitive applies */
    OPERATOR_EVENT = 2, /* event leaves, not attribute leaves */
};

static const struct {
    const char *name;
    segment_operator op;
    unsigned flags;
} operators[] = {
    {"eq", SEGMENT_OP_EQ, OPERATOR_TEXT},
    {"neq", SEGMENT_OP_NEQ, OPERATOR_TEXT},
    {"in", SEGMENT_OP_IN, OPERATOR_TEXT},
    {"nin", SEGMENT_OP_NIN, OPERATOR_TEXT},
    {"contains", SEGMENT_OP_CONTAINS, OPERATOR_TEXT},
    {"starts_with", SEGMENT_OP_STARTS_WITH, OPERATOR_TEXT},
    {"ends_with", SEGMENT_OP_ENDS_WITH, OPERATOR_TEXT},
    {"exists", SEGMENT_OP_EXISTS, 0},
    {"missing", SEGMENT_OP_MISSING, 0},
    {"gt", SEGMENT_OP_GT, OPERATOR_TEXT},
    {"gte", SEGMENT_OP_GTE, OPERATOR_TEXT},
    {"lt", SEGMENT_OP_LT, OPERATOR_TEXT},
    {"lte", SEGMENT_OP_LTE, OPERATOR_TEXT},
    {"between", SEGMENT_OP_BETWEEN, 0},
    {"before", SEGMENT_OP_BEFORE, 0},
    {"after", SEGMENT_OP_AFTER, 0},
    {"within_last", SEGMENT_OP_WITHIN_LAST, 0},
    {"count_gte", SEGMENT_OP_COUNT_GTE, OPERATOR_EVENT},
    {"count_lte", SEGMENT_OP_COUNT_LTE, OPERATOR_EVENT},
};

#define ATTRIBUTE_OPERATOR_LIST                                                              \
    "eq, neq, in, nin, contains, starts_with, ends_with, exists, missing, gt, gte, lt, lte, " \
    "between, before, after, within_last"
#define DURATION_HELP "a duration such as \"30m\", \"12h\", \"7d\" or \"2w\""
#define DATE_HELP "an ISO 8601 date such as \"2024-01-31\" or \"2024-01-31T12:00:00Z\""

typedef struct compiler {
    segment_type type;
    attr_table *table;
    attr_table *account_table;
    event_index *events;
    char *error;
    size_t error_size;
    int time_relative;
    char path[512]; /* JSON path of the node being compiled */
    size_t path_length;
} compiler;

/* Append to the path; returns the length to restore with path_pop(). A
 * path too long for the buffer is cut short, which only shortens error
 * messages. */
static size_t path_push(compiler *c, const char *format, ...)
{
    size_t saved = c->path_length;
    size_t room = sizeof(c->path) - c->path_length;
    va_list arguments;
    int written;

    va_start(arguments, format);
    written = vsnprintf(c->path + c->path_length, room, format, arguments);
    va_end(arguments);
    if (written > 0)
        c->path_length += (size_t)written < room ? (size_t)written : room - 1;
    return saved;
}

static void path_pop(compiler *c, size_t saved)
{
    c->path_length = saved;
    c->path[saved] = '\0';
}

/* Write "PATH.member: message" to the error buffer; member may be "". */
static void fail(compiler *c, const char *member, const char *format, ...)
{
    size_t used;
    va_list arguments;
    int written;

    if (c->error == NULL || c->error_size == 0)
        return;
    written = snprintf(c->error, c->error_size, "%s%s: ", c->path, member);
    used = written < 0 ? 0 : (size_t)written;
    if (used >= c->error_size)
        return;
    va_start(arguments, format);
    vsnprintf(c->error + used, c->error_size - used, format, arguments);
    va_end(arguments);
}

static void fail_out_of_memory(compiler *c)
{
    fail(c, "", "out of memory while compiling the query; retry when memory is available");
}

static const char *json_type_name(const json_object *value)
{
    switch (json_object_get_type((json_object *)value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "an unknown type";
}

static void free_node(segment_node *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->child_count; i++)
        free_node(node->children[i]);
    free(node->children);
    for (size_t i = 0; i < node->operand_count; i++)
        free(node->operands[i].text);
    free(node->operands);
    free(node);
}

static int parse_duration(const char *text, int64_t *duration_ms)
{
    int64_t amount = 0;
    int64_t unit_ms;
    size_t length = strlen(text);

    /* A whole number without sign or leading zero, then one unit letter. */
    if (length < 2 || length > 12 || text[0] < '1' || text[0] > '9')
        return -EINVAL;
    for (size_t i = 0; i + 1 < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -EINVAL;
        amount = amount * 10 + (text[i] - '0');
    }
    switch (text[length - 1]) {
    case 's':
        unit_ms = MS_PER_SECOND;
        break;
    case 'm':
        unit_ms = 60 * MS_PER_SECOND;
        break;
    case 'h':
        unit_ms = 3600 * MS_PER_SECOND;
        break;
    case 'd':
        unit_ms = 24 * 3600 * MS_PER_SECOND;
        break;
    case 'w':
        unit_ms = 7 * 24 * 3600 * MS_PER_SECOND;
        break;
    default:
        return -EINVAL;
    }
    if (amount > MAX_DURATION_MS / unit_ms)
        return -ERANGE;
    *duration_ms = amount * unit_ms;
    return 0;
}

/* Read a duration member (within_last's value, an event's within). */
static int compile_duration(compiler *c, const char *member, const char *op_name,
                            const json_object *json, int64_t *duration_ms)
{
    const char *text;
    int result;

    if (!json_object_is_type((json_object *)json, json_type_string)) {
        fail(c, member, "%s needs " DURATION_HELP ", got %s", op_name, json_type_name(json));
        return -1;
    }
    text = json_object_get_string((json_object *)json);
    result = parse_duration(text, duration_ms);
    if (result == -ERANGE) {
        fail(c, member, "%s duration \"%.64s\" is longer than " MAX_DURATION_TEXT, op_name,
             text);
        return -1;
    }
    if (result != 0) {
        fail(c, member,
             "%s needs " DURATION_HELP " (a whole number then s, m, h, d or w), got \"%.64s\"",
             op_name, text);
        return -1;
    }
    c->time_relative = 1;
    return 0;
}

/* Fill operand from a JSON string, number or boolean; returns 0, -EINVAL
 * for another JSON type, or -ENOMEM. */
static int make_operand(const json_object *json, int case_insensitive, segment_operand *operand)
{
    attr_value scalar;
    const char *text;
    size_t length;

    memset(operand, 0, sizeof(*operand));
    if (value_pool_scalar_from_json(json, &scalar)) {
        operand->type = scalar.type;
        operand->number = scalar.payload;
        return 0;
    }
    if (!json_object_is_type((json_object *)json, json_type_string))
        return -EINVAL;

    text = json_object_get_string((json_object *)json);
    length = (size_t)json_object_get_string_len((json_object *)json);
    operand->type = ATTR_TYPE_STRING;
    if (case_insensitive) {
        operand->text = utf8_fold_copy(text, length, &operand->length);
        operand->hash = utf8_folded_hash(text, length);
    } else {
        operand->text = malloc(length + 1);
        if (operand->text != NULL) {
            memcpy(operand->text, text, length + 1);
            operand->length = length;
        }
        operand->hash = utf8_hash(text, length);
    }
    if (operand->text == NULL)
        return -ENOMEM;
    operand->is_date = iso8601_parse(text, length, &operand->date_ms) == 0;
    return 0;
}

static int compare_operands(const void *a, const void *b)
{
    const segment_operand *left = a;
    const segment_operand *right = b;

    if (left->type != right->type)
        return left->type < right->type ? -1 : 1;
    if (left->hash != right->hash)
        return left->hash < right->hash ? -1 : 1;
    return 0;
}

static int reserve_operands(compiler *c, segment_node *node, size_t count)
{
    node->operands = calloc(count, sizeof(segment_operand));
    if (node->operands == NULL) {
        fail_out_of_memory(c);
        return -1;
    }
    return 0;
}

/* Add one operand from json, which must be a string, number or boolean. */
static int add_scalar_operand(compiler *c, segment_node *node, const char *member,
                              const char *op_name, const json_object *json)
{
    int result = make_operand(json, node->case_insensitive, &node->operands[node->operand_count]);

    if (result == -ENOMEM) {
        fail_out_of_memory(c);
        return -1;
    }
    if (result != 0) {
        fail(c, member,
             "%s needs a string, number or boolean, got %s%s", op_name, json_type_name(json),
             json == NULL ? "; use missing to match an unset attribute" : "");
        return -1;
    }
    node->operand_count++;
    return 0;
}

static int compile_list_value(compiler *c, segment_node *node, const char *op_name,
                              const json_object *json)
{
    json_object *array = (json_object *)json;
    size_t length;

    if (!json_object_is_type(array, json_type_array) || json_object_array_length(array) == 0) {
        fail(c, ".value", "%s needs a non-empty array of strings, numbers or booleans, got %s",
             op_name,
             json_object_is_type(array, json_type_array) ? "an empty array"
                                                         : json_type_name(array));
        return -1;
    }
    length = json_object_array_length(array);
    if (reserve_operands(c, node, length) != 0)
        return -1;
    for (size_t i = 0; i < length; i++) {
        char member[48];

        snprintf(member, sizeof(member), ".value[%zu]", i);
        if (add_scalar_operand(c, node, member, op_name, json_object_array_get_idx(array, i)) !=
            0)
            return -1;
    }
    qsort(node->operands, node->operand_count, sizeof(segment_operand), compare_operands);
    return 0;
}

static int is_number(const segment_operand *operand)
{
    return operand->type == ATTR_TYPE_INTEGER || operand->type == ATTR_TYPE_DOUBLE;
}

/* Whether a <= b for two numeric operands, integers and doubles mixed. */
static int number_at_most(const segment_operand *a, const segment_operand *b)
{
    if (a->type == ATTR_TYPE_INTEGER && b->type == ATTR_TYPE_INTEGER)
        return a->number.integer <= b->number.integer;
    return (a->type == ATTR_TYPE_INTEGER ? (double)a->number.integer : a->number.number) <=
           (b->type == ATTR_TYPE_INTEGER ? (double)b->number.integer : b->number.number);
}

static int compile_between_value(compiler *c, segment_node *node, const json_object *json)
{
    json_object *array = (json_object *)json;
    const segment_operand *low;
    const segment_operand *high;
    int numbers;
    int dates;

    if (!json_object_is_type(array, json_type_array) || json_object_array_length(array) != 2)
        goto wrong_shape;
    if (reserve_operands(c, node, 2) != 0)
        return -1;
    /* Both count from the start, so free_node() frees whichever was made. */
    node->operand_count = 2;
    for (size_t i = 0; i < 2; i++) {
        int result = make_operand(json_object_array_get_idx(array, i), 0, &node->operands[i]);

        if (result == -ENOMEM) {
            fail_out_of_memory(c);
            return -1;
        }
        if (result != 0)
            goto wrong_shape;
    }

    low = &node->operands[0];
    high = &node->operands[1];
    numbers = is_number(low) && is_number(high);
    dates = low->type == ATTR_TYPE_STRING && low->is_date && high->type == ATTR_TYPE_STRING &&
            high->is_date;
    if (!numbers && !dates)
        goto wrong_shape;
    if ((numbers && !number_at_most(low, high)) || (dates && low->date_ms > high->date_ms)) {
        fail(c, ".value", "between needs the lower bound first, got %s above %s",
             json_object_to_json_string(json_object_array_get_idx(array, 0)),
             json_object_to_json_string(json_object_array_get_idx(array, 1)));
        return -1;
    }
    return 0;

wrong_shape:
    fail(c, ".value",
         "between needs an array of two numbers or two dates, such as [18, 65] or "
         "[\"2024-01-01\", \"2024-12-31\"]");
    return -1;
}

static int compile_date_value(compiler *c, segment_node *node, const char *op_name,
                              const json_object *json)
{
    int result;

    if (reserve_operands(c, node, 1) != 0)
        return -1;
    node->operand_count = 1;
    result = make_operand(json, 0, &node->operands[0]);
    if (result == -ENOMEM) {
        fail_out_of_memory(c);
        return -1;
    }
    if (result != 0 || node->operands[0].type != ATTR_TYPE_STRING || !node->operands[0].is_date) {
        if (json_object_is_type((json_object *)json, json_type_string))
            fail(c, ".value", "%s needs " DATE_HELP ", got \"%.64s\"", op_name,
                 json_object_get_string((json_object *)json));
        else
            fail(c, ".value", "%s needs " DATE_HELP ", got %s", op_name, json_type_name(json));
        return -1;
    }
    return 0;
}

/* Check and prepare the value of an attribute leaf for its operator. */
static int compile_attribute_value(compiler *c, segment_node *node, const char *op_name,
                                   int has_value, const json_object *value)
{
    if (node->op == SEGMENT_OP_EXISTS || node->op == SEGMENT_OP_MISSING) {
        if (has_value) {
            fail(c, ".value", "%s takes no value; remove \"value\"", op_name);
            return -1;
        }
        return 0;
    }
    if (!has_value) {
        fail(c, "", "%s needs a \"value\"", op_name);
        return -1;
    }

    switch (node->op) {
    case SEGMENT_OP_EQ:
    case SEGMENT_OP_NEQ:
        if (reserve_operands(c, node, 1) != 0)
            return -1;
        return add_scalar_operand(c, node, ".value", op_name, value);
    case SEGMENT_OP_IN:
    case SEGMENT_OP_NIN:
        return compile_list_value(c, node, op_name, value);
    case SEGMENT_OP_CONTAINS:
    case SEGMENT_OP_STARTS_WITH:
    case SEGMENT_OP_ENDS_WITH:
        if (!json_object_is_type((json_object *)value, json_type_string)) {
            fail(c, ".value", "%s needs a string, got %s", op_name, json_type_name(value));
            return -1;
        }
        if (reserve_operands(c, node, 1) != 0)
            return -1;
        return add_scalar_operand(c, node, ".value", op_name, value);
    case SEGMENT_OP_GT:
    case SEGMENT_OP_GTE:
    case SEGMENT_OP_LT:
    case SEGMENT_OP_LTE:
        if (!json_object_is_type((json_object *)value, json_type_string) &&
            !json_object_is_type((json_object *)value, json_type_int) &&
            !json_object_is_type((json_object *)value, json_type_double)) {
            fail(c, ".value", "%s needs a number or a string, got %s", op_name,
                 json_type_name(value));
            return -1;
        }
        if (reserve_operands(c, node, 1) != 0)
            return -1;
        return add_scalar_operand(c, node, ".value", op_name, value);
    case SEGMENT_OP_BETWEEN:
        return compile_between_value(c, node, value);
    case SEGMENT_OP_BEFORE:
    case SEGMENT_OP_AFTER:
        return compile_date_value(c, node, op_name, value);
    case SEGMENT_OP_WITHIN_LAST:
        return compile_duration(c, ".value", op_name, value, &node->duration_ms);
    default:
        break;
    }
    fail(c, ".op", "%s is not an attribute operator", op_name);
    return -1;
}

static int find_operator(const char *name)
{
    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
        if (strcmp(operators[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* Read "op" of a leaf; returns the operators[] entry or -1. */
static int compile_op(compiler *c, const json_object *leaf, int event_leaf)
{
    json_object *op;
    const char *name;
    int found;

    if (!json_object_object_get_ex((json_object *)leaf, "op", &op)) {
        fail(c, "", "a condition needs an \"op\", one of %s",
             event_leaf ? "count_gte, count_lte" : ATTRIBUTE_OPERATOR_LIST);
        return -1;
    }
    if (!json_object_is_type(op, json_type_string)) {
        fail(c, ".op", "op needs a string, got %s", json_type_name(op));
        return -1;
    }
    name = json_object_get_string(op);
    found = find_operator(name);
    if (found < 0) {
        fail(c, ".op", "unknown operator \"%.64s\"; use one of %s", name,
             event_leaf ? "count_gte, count_lte" : ATTRIBUTE_OPERATOR_LIST);
        return -1;
    }
    if (event_leaf && !(operators[found].flags & OPERATOR_EVENT)) {
        fail(c, ".op", "%s applies to attributes; an event condition takes count_gte or "
                       "count_lte", name);
        return -1;
    }
    if (!event_leaf && (operators[found].flags & OPERATOR_EVENT)) {
        fail(c, ".op", "%s applies to events; write {\"event\": NAME, \"op\": \"%s\", "
                       "\"value\": N}", name, name);
        return -1;
    }
    return found;
}

/* Reject members other than the allowed ones. */
static int check_keys(compiler *c, const json_object *object, const char *const *allowed,
                      const char *allowed_text)
{
    json_object_object_foreach((json_object *)object, key, member) {
        int known = 0;

        (void)member;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known) {
            size_t saved = path_push(c, ".%s", key);

            fail(c, "", "unknown key \"%.64s\"; %s", key, allowed_text);
            path_pop(c, saved);
            return -1;
        }
    }
    return 0;
}

static segment_node *compile_attribute(compiler *c, const json_object *leaf)
{
    static const char *const keys[] = {"attribute", "op", "value", "case_insensitive", NULL};
    json_object *object = (json_object *)leaf;
    json_object *attribute = NULL;
    json_object *flag = NULL;
    json_object *value = NULL;
    int has_value;
    segment_node *node = NULL;
    attr_table *table = c->table;
    const char *name;
    int op;

    if (check_keys(c, leaf, keys,
                   "an attribute condition takes attribute, op, value and case_insensitive") != 0)
        return NULL;

    json_object_object_get_ex(object, "attribute", &attribute);
    if (!json_object_is_type(attribute, json_type_string) ||
        json_object_get_string_len(attribute) == 0) {
        fail(c, ".attribute", "attribute needs a non-empty string (the attribute name), got %s",
             json_type_name(attribute));
        return NULL;
    }
    name = json_object_get_string(attribute);

    op = compile_op(c, leaf, 0);
    if (op < 0)
        return NULL;

    node = calloc(1, sizeof(segment_node));
    if (node == NULL) {
        fail_out_of_memory(c);
        return NULL;
    }
    node->kind = SEGMENT_NODE_ATTRIBUTE;
    node->op = operators[op].op;

    if (strncmp(name, ACCOUNT_PREFIX, strlen(ACCOUNT_PREFIX)) == 0) {
        if (c->type == SEGMENT_ACCOUNTS) {
            fail(c, ".attribute",
                 "\"%.64s\": account attributes are only available in user segments; in an "
                 "account segment write \"%.64s\"",
                 name, name + strlen(ACCOUNT_PREFIX));
            goto error;
        }
        if (name[strlen(ACCOUNT_PREFIX)] == '\0') {
            fail(c, ".attribute", "\"account.\" needs an attribute name after the dot");
            goto error;
        }
        if (c->account_table == NULL) {
            fail(c, ".attribute", "account attributes cannot be read here: no accounts table");
            goto error;
        }
        name += strlen(ACCOUNT_PREFIX);
        table = c->account_table;
        node->on_account = 1;
    }

    if (json_object_object_get_ex(object, "case_insensitive", &flag)) {
        if (!json_object_is_type(flag, json_type_boolean)) {
            fail(c, ".case_insensitive", "case_insensitive needs true or false, got %s",
                 json_type_name(flag));
            goto error;
        }
        node->case_insensitive = json_object_get_boolean(flag);
        if (node->case_insensitive && !(operators[op].flags & OPERATOR_TEXT)) {
            fail(c, ".case_insensitive",
                 "%s does not compare text; case_insensitive applies to eq, neq, in, nin, "
                 "contains, starts_with, ends_with, gt, gte, lt and lte",
                 operators[op].name);
            goto error;
        }
    }

    has_value = json_object_object_get_ex(object, "value", &value);
    if (compile_attribute_value(c, node, operators[op].name, has_value, value) != 0)
        goto error;

    node->name_id = attr_table_intern_name(table, name);
    if (node->name_id == ATTR_NO_ENTITY) {
        fail_out_of_memory(c);
        goto error;
    }
    return node;

error:
    free_node(node);
    return NULL;
}

static segment_node *compile_event(compiler *c, const json_object *leaf)
{
    static const char *const keys[] = {"event", "op", "value", "within", NULL};
    json_object *object = (json_object *)leaf;
    json_object *event = NULL;
    json_object *value = NULL;
    json_object *within = NULL;
    segment_node *node;
    int64_t count;
    int op;

    if (c->type == SEGMENT_ACCOUNTS) {
        fail(c, ".event", "event conditions are only available in user segments");
        return NULL;
    }
    if (check_keys(c, leaf, keys, "an event condition takes event, op, value and within") != 0)
        return NULL;

    json_object_object_get_ex(object, "event", &event);
    if (!json_object_is_type(event, json_type_string) ||
        json_object_get_string_len(event) == 0) {
        fail(c, ".event", "event needs a non-empty string (the event name), got %s",
             json_type_name(event));
        return NULL;
    }
    if (c->events == NULL) {
        fail(c, ".event", "event conditions cannot be read here: no event index");
        return NULL;
    }

    op = compile_op(c, leaf, 1);
    if (op < 0)
        return NULL;

    if (!json_object_object_get_ex(object, "value", &value)) {
        fail(c, "", "%s needs a \"value\", the number of events", operators[op].name);
        return NULL;
    }
    count = json_object_get_int64(value);
    if (!json_object_is_type(value, json_type_int) || count < 0 || count > UINT32_MAX) {
        fail(c, ".value", "%s needs a whole number of events from 0 to %u, got %s",
             operators[op].name, UINT32_MAX, json_object_to_json_string(value));
        return NULL;
    }

    node = calloc(1, sizeof(segment_node));
    if (node == NULL) {
        fail_out_of_memory(c);
        return NULL;
    }
    node->kind = SEGMENT_NODE_EVENT;
    node->op = operators[op].op;
    node->count = count;

    if (json_object_object_get_ex(object, "within", &within) &&
        compile_duration(c, ".within", "within", within, &node->duration_ms) != 0)
        goto error;

    node->name_id = event_index_intern(c->events, json_object_get_string(event));
    if (node->name_id == UINT32_MAX) {
        fail_out_of_memory(c);
        goto error;
    }
    return node;

error:
    free_node(node);
    return NULL;
}

static segment_node *compile_node(compiler *c, const json_object *query, int depth);

static segment_node *compile_group(compiler *c, const char *group, const json_object *members,
                                   int depth)
{
    json_object *array = (json_object *)members;
    segment_node *node = calloc(1, sizeof(segment_node));
    size_t count;
    size_t saved;

    if (node == NULL) {
        fail_out_of_memory(c);
        return NULL;
    }
    saved = path_push(c, ".%s", group);

    if (strcmp(group, "not") == 0) {
        node->kind = SEGMENT_NODE_NOT;
        node->children = calloc(1, sizeof(segment_node *));
        if (node->children == NULL) {
            fail_out_of_memory(c);
            goto error;
        }
        node->children[0] = compile_node(c, members, depth + 1);
        if (node->children[0] == NULL)
            goto error;
        node->child_count = 1;
        path_pop(c, saved);
        return node;
    }

    node->kind = strcmp(group, "all") == 0 ? SEGMENT_NODE_ALL : SEGMENT_NODE_ANY;
    if (!json_object_is_type(array, json_type_array)) {
        fail(c, "", "%s needs an array of conditions, got %s", group, json_type_name(array));
        goto error;
    }
    count = json_object_array_length(array);
    /* An empty all is true, which is how a segment of everyone is written.
     * An empty any could never match, so it is surely a mistake. */
    if (count == 0 && node->kind == SEGMENT_NODE_ANY) {
        fail(c, "", "any needs at least one condition; an empty any never matches");
        goto error;
    }
    node->children = calloc(count == 0 ? 1 : count, sizeof(segment_node *));
    if (node->children == NULL) {
        fail_out_of_memory(c);
        goto error;
    }
    for (size_t i = 0; i < count; i++) {
        size_t item = path_push(c, "[%zu]", i);

        node->children[i] = compile_node(c, json_object_array_get_idx(array, i), depth + 1);
        if (node->children[i] == NULL)
            goto error;
        node->child_count++;
        path_pop(c, item);
    }
    path_pop(c, saved);
    return node;

error:
    free_node(node);
    return NULL;
}

static segment_node *compile_node(compiler *c, const json_object *query, int depth)
{
    static const char *const groups[] = {"all", "any", "not"};
    json_object *object = (json_object *)query;
    json_object *member;

    if (!json_object_is_type(object, json_type_object)) {
        fail(c, "", "a condition must be an object, got %s", json_type_name(object));
        return NULL;
    }
    if (depth > SEGMENT_MAX_DEPTH) {
        fail(c, "", "the query nests deeper than %d levels; flatten it", SEGMENT_MAX_DEPTH);
        return NULL;
    }

    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (!json_object_object_get_ex(object, groups[i], &member))
            continue;
        json_object_object_foreach(object, key, other) {
            (void)other;
            if (strcmp(key, groups[i]) != 0) {
                size_t saved = path_push(c, ".%s", key);

                fail(c, "", "unknown key \"%.64s\" next to \"%s\"; put each condition in "
                            "its own object",
                     key, groups[i]);
                path_pop(c, saved);
                return NULL;
            }
        }
        return compile_group(c, groups[i], member, depth);
    }

    if (json_object_object_get_ex(object, "attribute", NULL))
        return compile_attribute(c, query);
    if (json_object_object_get_ex(object, "event", NULL))
        return compile_event(c, query);
    if (json_object_object_length(object) == 0) {
        fail(c, "", "empty condition; a condition needs one of all, any, not, attribute or "
                    "event");
        return NULL;
    }
    json_object_object_foreach(object, key, value) {
        size_t saved = path_push(c, ".%s", key);

        (void)value;
        fail(c, "", "unknown key \"%.64s\"; a condition needs one of all, any, not, "
                    "attribute or event",
             key);
        path_pop(c, saved);
        break;
    }
    return NULL;
}

int segment_query_compile(const struct json_object *query, segment_type type,
                          attr_table *table, attr_table *account_table,
                          event_index *events, segment_query **compiled,
                          char *error, size_t error_size)
{
    compiler c;
    segment_node *root;

    *compiled = NULL;
    memset(&c, 0, sizeof(c));
    c.type = type;
    c.table = table;
    c.account_table = type == SEGMENT_USERS ? account_table : NULL;
    c.events = type == SEGMENT_USERS ? events : NULL;
    c.error = error;
    c.error_size = error_size;
    path_push(&c, "$");

    if (type != SEGMENT_USERS && type != SEGMENT_ACCOUNTS) {
        fail(&c, "", "unknown segment type %d; use users or accounts", (int)type);
        return -1;
    }
    if (table == NULL) {
        fail(&c, "", "no attribute table to compile against");
        return -1;
    }
    if (query == NULL) {
        fail(&c, "", "a query must be an object, got null");
        return -1;
    }

    root = compile_node(&c, query, 1);
    if (root == NULL)
        return -1;
    *compiled = calloc(1, sizeof(segment_query));
    if (*compiled == NULL) {
        free_node(root);
        fail_out_of_memory(&c);
        return -1;
    }
    (*compiled)->root = root;
    (*compiled)->type = type;
    (*compiled)->time_relative = c.time_relative;
    return 0;
}

int segment_query_is_time_relative(const segment_query *query)
{
    return query->time_relative;
}

void segment_query_free(segment_query *query)
{
    if (query == NULL)
        return;
    free_node(query->root);
    free(query);
}
