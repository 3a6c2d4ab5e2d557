/*
 * The compiled form of a segment query, shared by the compiler
 * (segment_query.c) and the evaluator (segment_eval.c). Everything a
 * condition needs at evaluation time is prepared here once: interned name
 * ids, string hashes, folded text for case-insensitive conditions, parsed
 * dates and durations.
 */
#ifndef WHARF_CORE_SEGMENT_NODE_H
#define WHARF_CORE_SEGMENT_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "attr_value.h"
#include "segment_query.h"

/* Queries nest all, any and not at most this deep; the evaluator recurses
 * once per level. */
#define SEGMENT_MAX_DEPTH 32

typedef enum segment_node_kind {
    SEGMENT_NODE_ALL = 1,
    SEGMENT_NODE_ANY,
    SEGMENT_NODE_NOT,
    SEGMENT_NODE_ATTRIBUTE,
    SEGMENT_NODE_EVENT
} segment_node_kind;

typedef enum segment_operator {
    SEGMENT_OP_EQ = 1,
    SEGMENT_OP_NEQ,
    SEGMENT_OP_IN,
    SEGMENT_OP_NIN,
    SEGMENT_OP_CONTAINS,
    SEGMENT_OP_STARTS_WITH,
    SEGMENT_OP_ENDS_WITH,
    SEGMENT_OP_EXISTS,
    SEGMENT_OP_MISSING,
    SEGMENT_OP_GT,
    SEGMENT_OP_GTE,
    SEGMENT_OP_LT,
    SEGMENT_OP_LTE,
    SEGMENT_OP_BETWEEN,
    SEGMENT_OP_BEFORE,
    SEGMENT_OP_AFTER,
    SEGMENT_OP_WITHIN_LAST,
    SEGMENT_OP_COUNT_GTE,
    SEGMENT_OP_COUNT_LTE
} segment_operator;

/* One value from a condition, ready to compare with attribute values. */
typedef struct segment_operand {
    attr_type type; /* ATTR_TYPE_BOOLEAN, _INTEGER, _DOUBLE or _STRING */
    attr_payload number; /* boolean, integer or number */
    /* Strings: the text, case-folded when the condition is case-insensitive,
     * and its hash as pooled values carry it (pooled_value.hash, or
     * folded_hash when case-insensitive). */
    char *text;
    size_t length;
    uint32_t hash;
    int is_date; /* strings: text is ISO 8601, parsed into date_ms */
    int64_t date_ms;
} segment_operand;

typedef struct segment_node {
    segment_node_kind kind;
    segment_operator op; /* leaves */

    /* all, any, not */
    struct segment_node **children;
    size_t child_count;

    /* The attribute name id in the segment's table, or in the accounts
     * table when on_account is set. Event leaves keep the event name id. */
    uint32_t name_id;
    int on_account;
    int case_insensitive;

    /* Sorted by (type, hash) so that in and nin find a string by binary
     * search. */
    segment_operand *operands;
    size_t operand_count;

    int64_t duration_ms; /* within_last, or an event leaf's window; 0 for none */
    int64_t count;       /* event leaves: the bound of count_gte or count_lte */
} segment_node;

struct segment_query {
    segment_node *root;
    segment_type type;
    int time_relative;
};

/* 1 when node matches the subject (segment_eval.c). */
int segment_node_matches(const segment_node *node, const segment_subject *subject);

#endif
