/*
 * The segment query evaluator: decides whether one entity matches a
 * compiled query (segment_node.h). It runs for every entity on every
 * recomputation, so it never allocates, never parses JSON and compares
 * strings by hash before comparing bytes.
 *
 * Type rules (docs/segments.md states them in full):
 *  - integers and doubles compare as numbers, exactly, even mixed;
 *  - strings compare byte by byte (code point order for valid UTF-8), or
 *    after simple case folding when the condition is case-insensitive;
 *  - ordering a date string against a date operand compares instants;
 *  - a value of another type than the operand never equals it or orders
 *    against it;
 *  - on an array attribute a condition matches when any element matches;
 *  - neq, nin and missing are the negations of eq, in and exists, so they
 *    match entities without the attribute.
 */
#include <math.h>
#include <string.h>

#include "event_index.h"
#include "segment_node.h"
#include "utf8_text.h"
#include "value_pool.h"

/* Comparison results; INCOMPARABLE when the types do not compare. */
enum { LESS = -1, EQUAL = 0, GREATER = 1, INCOMPARABLE = 2 };

static int order_of_integers(int64_t a, int64_t b)
{
    if (a < b)
        return LESS;
    if (a > b)
        return GREATER;
    return EQUAL;
}

static int compare_integer_double(int64_t integer, double number)
{
    int64_t truncated;

    if (isnan(number))
        return INCOMPARABLE;
    /* 2^63 as a double; anything at or beyond it is outside int64_t. */
    if (number >= 9223372036854775808.0)
        return LESS;
    if (number < -9223372036854775808.0)
        return GREATER;
    truncated = (int64_t)number;
    if (integer != truncated)
        return integer < truncated ? LESS : GREATER;
    /* Same integer part: the fraction decides, and number - truncated is
     * exact in this range. */
    if (number > (double)truncated)
        return LESS;
    if (number < (double)truncated)
        return GREATER;
    return EQUAL;
}

static int invert(int order)
{
    return order == INCOMPARABLE ? order : -order;
}

/* Order of a numeric attribute value relative to a numeric operand. */
static int compare_numbers(const attr_value *value, const segment_operand *operand)
{
    if (value->type == ATTR_TYPE_INTEGER && operand->type == ATTR_TYPE_INTEGER) {
        return order_of_integers(value->payload.integer, operand->number.integer);
    }
    if (value->type == ATTR_TYPE_INTEGER)
        return compare_integer_double(value->payload.integer, operand->number.number);
    if (operand->type == ATTR_TYPE_INTEGER)
        return invert(compare_integer_double(operand->number.integer, value->payload.number));
    if (isnan(value->payload.number) || isnan(operand->number.number))
        return INCOMPARABLE;
    if (value->payload.number < operand->number.number)
        return LESS;
    if (value->payload.number > operand->number.number)
        return GREATER;
    return EQUAL;
}

static int compare_bytes(const char *a, size_t a_length, const char *b, size_t b_length)
{
    int order = memcmp(a, b, a_length < b_length ? a_length : b_length);

    if (order != 0)
        return order < 0 ? LESS : GREATER;
    return order_of_integers((int64_t)a_length, (int64_t)b_length);
}

/* Order of value relative to operand for gt, gte, lt and lte. */
static int compare_ordered(const attr_value *value, const segment_operand *operand,
                           int case_insensitive)
{
    const pooled_value *text;
    int order;

    if (operand->type == ATTR_TYPE_INTEGER || operand->type == ATTR_TYPE_DOUBLE) {
        if (value->type != ATTR_TYPE_INTEGER && value->type != ATTR_TYPE_DOUBLE)
            return INCOMPARABLE;
        return compare_numbers(value, operand);
    }
    if (operand->type != ATTR_TYPE_STRING || value->type != ATTR_TYPE_STRING)
        return INCOMPARABLE;

    text = value->payload.pooled;
    if (operand->is_date && text->is_date)
        return order_of_integers(text->parsed.date_ms, operand->date_ms);
    if (!case_insensitive)
        return compare_bytes(text->text, text->length, operand->text, operand->length);
    order = utf8_fold_compare(text->text, text->length, operand->text, operand->length);
    return order_of_integers(order, 0);
}

static int string_equals(const pooled_value *text, const segment_operand *operand,
                         int case_insensitive)
{
    if (case_insensitive)
        return text->folded_hash == operand->hash &&
               utf8_fold_compare(text->text, text->length, operand->text, operand->length) ==
                   0;
    return text->hash == operand->hash && text->length == operand->length &&
           memcmp(text->text, operand->text, text->length) == 0;
}

/* Whether value equals one of the operands (eq has one, in several). */
static int equals_any(const segment_node *node, const attr_value *value)
{
    const segment_operand *operands = node->operands;
    size_t count = node->operand_count;

    if (value->type == ATTR_TYPE_STRING) {
        const pooled_value *text = value->payload.pooled;
        uint32_t hash = node->case_insensitive ? text->folded_hash : text->hash;
        size_t low = 0;
        size_t high = count;

        /* Operands are sorted by (type, hash): find the first string with
         * this hash, then check the run of equal hashes. */
        while (low < high) {
            size_t middle = low + (high - low) / 2;
            const segment_operand *probe = &operands[middle];

            if (probe->type < ATTR_TYPE_STRING ||
                (probe->type == ATTR_TYPE_STRING && probe->hash < hash))
                low = middle + 1;
            else
                high = middle;
        }
        for (; low < count && operands[low].type == ATTR_TYPE_STRING &&
               operands[low].hash == hash;
             low++) {
            if (string_equals(text, &operands[low], node->case_insensitive))
                return 1;
        }
        return 0;
    }

    for (size_t i = 0; i < count; i++) {
        const segment_operand *operand = &operands[i];

        if (value->type == ATTR_TYPE_BOOLEAN && operand->type == ATTR_TYPE_BOOLEAN &&
            value->payload.boolean == operand->number.boolean)
            return 1;
        if ((value->type == ATTR_TYPE_INTEGER || value->type == ATTR_TYPE_DOUBLE) &&
            (operand->type == ATTR_TYPE_INTEGER || operand->type == ATTR_TYPE_DOUBLE) &&
            compare_numbers(value, operand) == EQUAL)
            return 1;
    }
    return 0;
}

static int text_matches(const segment_node *node, const attr_value *value)
{
    const segment_operand *operand = &node->operands[0];
    const pooled_value *text;

    if (value->type != ATTR_TYPE_STRING)
        return 0;
    text = value->payload.pooled;

    if (node->case_insensitive) {
        switch (node->op) {
        case SEGMENT_OP_CONTAINS:
            return utf8_fold_contains(text->text, text->length, operand->text,
                                      operand->length);
        case SEGMENT_OP_STARTS_WITH:
            return utf8_fold_starts_with(text->text, text->length, operand->text,
                                         operand->length);
        default:
            return utf8_fold_ends_with(text->text, text->length, operand->text,
                                       operand->length);
        }
    }

    if (operand->length > text->length)
        return 0;
    switch (node->op) {
    case SEGMENT_OP_CONTAINS:
        return operand->length == 0 ||
               memmem(text->text, text->length, operand->text, operand->length) != NULL;
    case SEGMENT_OP_STARTS_WITH:
        return memcmp(text->text, operand->text, operand->length) == 0;
    default:
        return memcmp(text->text + text->length - operand->length, operand->text,
                      operand->length) == 0;
    }
}

static int date_of(const attr_value *value, int64_t *date_ms)
{
    if (value->type != ATTR_TYPE_STRING || !value->payload.pooled->is_date)
        return 0;
    *date_ms = value->payload.pooled->parsed.date_ms;
    return 1;
}

/* Whether one scalar value satisfies the leaf's positive form (eq for
 * neq, in for nin). */
static int scalar_matches(const segment_node *node, const attr_value *value, int64_t now_ms)
{
    int64_t date_ms;
    int order;

    switch (node->op) {
    case SEGMENT_OP_EQ:
    case SEGMENT_OP_NEQ:
    case SEGMENT_OP_IN:
    case SEGMENT_OP_NIN:
        return equals_any(node, value);
    case SEGMENT_OP_CONTAINS:
    case SEGMENT_OP_STARTS_WITH:
    case SEGMENT_OP_ENDS_WITH:
        return text_matches(node, value);
    case SEGMENT_OP_GT:
        order = compare_ordered(value, &node->operands[0], node->case_insensitive);
        return order == GREATER;
    case SEGMENT_OP_GTE:
        order = compare_ordered(value, &node->operands[0], node->case_insensitive);
        return order == GREATER || order == EQUAL;
    case SEGMENT_OP_LT:
        order = compare_ordered(value, &node->operands[0], node->case_insensitive);
        return order == LESS;
    case SEGMENT_OP_LTE:
        order = compare_ordered(value, &node->operands[0], node->case_insensitive);
        return order == LESS || order == EQUAL;
    case SEGMENT_OP_BETWEEN:
        order = compare_ordered(value, &node->operands[0], 0);
        if (order != GREATER && order != EQUAL)
            return 0;
        order = compare_ordered(value, &node->operands[1], 0);
        return order == LESS || order == EQUAL;
    case SEGMENT_OP_BEFORE:
        return date_of(value, &date_ms) && date_ms < node->operands[0].date_ms;
    case SEGMENT_OP_AFTER:
        return date_of(value, &date_ms) && date_ms > node->operands[0].date_ms;
    case SEGMENT_OP_WITHIN_LAST:
        return date_of(value, &date_ms) && date_ms <= now_ms &&
               date_ms >= now_ms - node->duration_ms;
    default:
        return 0;
    }
}

static int value_matches(const segment_node *node, const attr_value *value, int64_t now_ms)
{
    const pooled_value *array;

    if (value->type != ATTR_TYPE_ARRAY)
        return scalar_matches(node, value, now_ms);

    array = value->payload.pooled;
    for (uint32_t i = 0; i < array->element_count; i++) {
        if (array->parsed.elements[i].type != ATTR_TYPE_NONE &&
            scalar_matches(node, &array->parsed.elements[i], now_ms))
            return 1;
    }
    return 0;
}

static int attribute_matches(const segment_node *node, const segment_subject *subject)
{
    const attr_table *table = node->on_account ? subject->account_table : subject->table;
    uint32_t index = node->on_account ? subject->account_index : subject->index;
    attr_value value;
    int found = table != NULL && index != ATTR_NO_ENTITY &&
                attr_table_find(table, index, node->name_id, &value);

    switch (node->op) {
    case SEGMENT_OP_EXISTS:
        return found;
    case SEGMENT_OP_MISSING:
        return !found;
    case SEGMENT_OP_NEQ:
    case SEGMENT_OP_NIN:
        return !found || !value_matches(node, &value, subject->now_ms);
    default:
        return found && value_matches(node, &value, subject->now_ms);
    }
}

static int event_matches(const segment_node *node, const segment_subject *subject)
{
    int64_t since_ms = INT64_MIN;
    uint32_t count = 0;

    if (node->duration_ms > 0)
        since_ms = subject->now_ms - node->duration_ms;
    if (subject->events != NULL)
        count = event_index_count(subject->events, subject->index, node->name_id, since_ms);
    if (node->op == SEGMENT_OP_COUNT_GTE)
        return count >= node->count;
    return count <= node->count;
}

int segment_node_matches(const segment_node *node, const segment_subject *subject)
{
    switch (node->kind) {
    case SEGMENT_NODE_ALL:
        for (size_t i = 0; i < node->child_count; i++) {
            if (!segment_node_matches(node->children[i], subject))
                return 0;
        }
        return 1;
    case SEGMENT_NODE_ANY:
        for (size_t i = 0; i < node->child_count; i++) {
            if (segment_node_matches(node->children[i], subject))
                return 1;
        }
        return 0;
    case SEGMENT_NODE_NOT:
        return !segment_node_matches(node->children[0], subject);
    case SEGMENT_NODE_ATTRIBUTE:
        return attribute_matches(node, subject);
    case SEGMENT_NODE_EVENT:
        return event_matches(node, subject);
    }
    return 0;
}

int segment_query_matches(const segment_query *query, const segment_subject *subject)
{
    return segment_node_matches(query->root, subject);
}
