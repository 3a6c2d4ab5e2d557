#include "user_generator.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso8601.h"

/* Columns of ProspectiveBuyer.csv, counted from 0. */
enum source_column {
    COLUMN_FIRST_NAME = 2,
    COLUMN_LAST_NAME = 4,
    COLUMN_BIRTH_DATE = 5,
    COLUMN_MARITAL_STATUS = 6,
    COLUMN_GENDER = 7,
    COLUMN_EMAIL = 8,
    COLUMN_YEARLY_INCOME = 9,
    COLUMN_TOTAL_CHILDREN = 10,
    COLUMN_CHILDREN_AT_HOME = 11,
    COLUMN_EDUCATION = 12,
    COLUMN_OCCUPATION = 13,
    COLUMN_HOUSE_OWNER = 14,
    COLUMN_CARS_OWNED = 15,
    COLUMN_CITY = 18,
    COLUMN_STATE = 19,
    COLUMN_POSTAL_CODE = 20,
    COLUMN_PHONE = 21,
    COLUMN_COUNT = 24
};

#define DAY_MS INT64_C(86400000)
/* last_seen_at falls in the 180 days before this instant
 * (2024-06-01T00:00:00Z), fixed so that runs are reproducible. */
#define LAST_SEEN_REFERENCE_MS INT64_C(1717200000000)

typedef struct source_row {
    char *fields[COLUMN_COUNT];
} source_row;

struct user_generator {
    source_row *rows;
    size_t row_count;
    uint64_t state; /* splitmix64 */
};

/* splitmix64: a small, fast generator with good statistical quality,
 * enough for benchmark data. */
static uint64_t next_random(user_generator *generator)
{
    uint64_t z = (generator->state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t random_below(user_generator *generator, uint64_t bound)
{
    return next_random(generator) % bound;
}

static double random_unit(user_generator *generator)
{
    return (double)(next_random(generator) >> 11) / 9007199254740992.0;
}

static const char *pick(user_generator *generator, enum source_column column)
{
    return generator->rows[random_below(generator, generator->row_count)].fields[column];
}

static void free_rows(source_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        for (int column = 0; column < COLUMN_COUNT; column++)
            free(rows[i].fields[column]);
    }
    free(rows);
}

/* Split one line into COLUMN_COUNT fields; returns 0 or -1. */
static int parse_row(char *line, source_row *row)
{
    char *cursor = line;
    int column;

    line[strcspn(line, "\r\n")] = '\0';
    memset(row, 0, sizeof(*row));
    for (column = 0; column < COLUMN_COUNT && cursor != NULL; column++) {
        char *separator = strchr(cursor, '|');

        if (separator != NULL)
            *separator = '\0';
        row->fields[column] = strdup(cursor);
        if (row->fields[column] == NULL)
            return -1;
        cursor = separator == NULL ? NULL : separator + 1;
    }
    return column == COLUMN_COUNT && cursor == NULL ? 0 : -1;
}

user_generator *user_generator_create(const char *source_path, uint64_t seed, char *error,
                                      size_t error_size)
{
    user_generator *generator = calloc(1, sizeof(user_generator));
    FILE *source = fopen(source_path, "r");
    char line[4096];
    size_t capacity = 0;
    size_t line_number = 0;

    if (generator == NULL || source == NULL) {
        snprintf(error, error_size, "cannot open source file %s: %s", source_path,
                 strerror(source == NULL ? errno : ENOMEM));
        goto fail;
    }
    generator->state = seed;

    while (fgets(line, sizeof(line), source) != NULL) {
        line_number++;
        if (generator->row_count == capacity) {
            size_t grown = capacity == 0 ? 1024 : capacity * 2;
            source_row *rows = realloc(generator->rows, grown * sizeof(source_row));

            if (rows == NULL) {
                snprintf(error, error_size, "out of memory reading %s", source_path);
                goto fail;
            }
            generator->rows = rows;
            capacity = grown;
        }
        if (parse_row(line, &generator->rows[generator->row_count]) != 0) {
            for (int column = 0; column < COLUMN_COUNT; column++)
                free(generator->rows[generator->row_count].fields[column]);
            snprintf(error, error_size,
                     "%s line %zu: expected %d fields separated by '|' as in "
                     "ProspectiveBuyer.csv",
                     source_path, line_number, COLUMN_COUNT);
            goto fail;
        }
        generator->row_count++;
    }
    if (generator->row_count == 0) {
        snprintf(error, error_size, "%s has no rows", source_path);
        goto fail;
    }
    fclose(source);
    return generator;

fail:
    if (source != NULL)
        fclose(source);
    if (generator != NULL)
        free_rows(generator->rows, generator->row_count);
    free(generator);
    return NULL;
}

void user_generator_free(user_generator *generator)
{
    if (generator == NULL)
        return;
    free_rows(generator->rows, generator->row_count);
    free(generator);
}

size_t user_generator_source_rows(const user_generator *generator)
{
    return generator->row_count;
}

/* The file cuts education labels at 10 characters; these are the full
 * AdventureWorks labels. */
static const char *full_education(const char *label)
{
    static const char *const labels[][2] = {
        {"Partial Co", "Partial College"},
        {"High Schoo", "High School"},
        {"Graduate D", "Graduate Degree"},
        {"Partial Hi", "Partial High School"},
    };

    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (strcmp(label, labels[i][0]) == 0)
            return labels[i][1];
    }
    return label;
}

static void format_date(int64_t epoch_ms, int with_time, char *text, size_t size)
{
    time_t seconds = (time_t)(epoch_ms / 1000);
    struct tm utc;

    gmtime_r(&seconds, &utc);
    strftime(text, size, with_time ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d", &utc);
}

/* A birth date near a source row's, moved by up to half a year either way
 * so that the users do not share only the source's two thousand dates. */
static void birth_date(user_generator *generator, char *text, size_t size)
{
    const char *source = pick(generator, COLUMN_BIRTH_DATE);
    int64_t epoch_ms = 0;
    int64_t shift_days = (int64_t)random_below(generator, 361) - 180;

    if (iso8601_parse(source, strlen(source), &epoch_ms) != 0)
        epoch_ms = 0;
    format_date(epoch_ms + shift_days * DAY_MS, 0, text, size);
}

static void email_address(user_generator *generator, const char *first, const char *last,
                          uint64_t number, char *text, size_t size)
{
    const char *source = pick(generator, COLUMN_EMAIL);
    const char *domain = strchr(source, '@');
    size_t used;

    used = (size_t)snprintf(text, size, "%s.%s%llu@%s", first, last, (unsigned long long)number,
                            domain == NULL ? "example.com" : domain + 1);
    for (size_t i = 0; i < used && i < size && text[i] != '@'; i++)
        text[i] = (char)tolower((unsigned char)text[i]);
}

static int add(json_object *user, const char *name, json_object *value)
{
    if (value == NULL)
        return -1;
    return json_object_object_add(user, name, value);
}

static json_object *tags(user_generator *generator)
{
    static const struct {
        const char *tag;
        double probability;
    } choices[] = {
        {"newsletter", 0.6}, {"mobile", 0.35}, {"churn_risk", 0.15}, {"beta", 0.1}, {"vip", 0.05},
    };
    json_object *array = json_object_new_array();

    for (size_t i = 0; array != NULL && i < sizeof(choices) / sizeof(choices[0]); i++) {
        if (random_unit(generator) < choices[i].probability)
            json_object_array_add(array, json_object_new_string(choices[i].tag));
    }
    return array;
}

json_object *user_generator_next(user_generator *generator, uint64_t number)
{
    json_object *user = json_object_new_object();
    const source_row *address = &generator->rows[random_below(generator, generator->row_count)];
    const char *first = pick(generator, COLUMN_FIRST_NAME);
    const char *last = pick(generator, COLUMN_LAST_NAME);
    int64_t income = atoll(pick(generator, COLUMN_YEARLY_INCOME));
    int64_t last_seen_ms =
        LAST_SEEN_REFERENCE_MS - (int64_t)random_below(generator, (uint64_t)(180 * DAY_MS));
    char email[256];
    char born[16];
    char seen[32];
    int failed = 0;

    if (user == NULL)
        return NULL;
    email_address(generator, first, last, number, email, sizeof(email));
    birth_date(generator, born, sizeof(born));
    format_date(last_seen_ms, 1, seen, sizeof(seen));

    failed |= add(user, "first_name", json_object_new_string(first));
    failed |= add(user, "last_name", json_object_new_string(last));
    failed |= add(user, "email", json_object_new_string(email));
    failed |= add(user, "birth_date", json_object_new_string(born));
    failed |= add(user, "gender", json_object_new_string(pick(generator, COLUMN_GENDER)));
    failed |= add(user, "marital_status",
                  json_object_new_string(pick(generator, COLUMN_MARITAL_STATUS)));
    failed |= add(user, "yearly_income", json_object_new_int64(income));
    failed |= add(user, "total_children",
                  json_object_new_int(atoi(pick(generator, COLUMN_TOTAL_CHILDREN))));
    failed |= add(user, "children_at_home",
                  json_object_new_int(atoi(pick(generator, COLUMN_CHILDREN_AT_HOME))));
    failed |= add(user, "education",
                  json_object_new_string(full_education(pick(generator, COLUMN_EDUCATION))));
    failed |= add(user, "occupation", json_object_new_string(pick(generator, COLUMN_OCCUPATION)));
    failed |= add(user, "house_owner",
                  json_object_new_boolean(strcmp(pick(generator, COLUMN_HOUSE_OWNER), "1") == 0));
    failed |= add(user, "cars_owned",
                  json_object_new_int(atoi(pick(generator, COLUMN_CARS_OWNED))));
    failed |= add(user, "city", json_object_new_string(address->fields[COLUMN_CITY]));
    failed |= add(user, "state", json_object_new_string(address->fields[COLUMN_STATE]));
    failed |= add(user, "postal_code", json_object_new_string(address->fields[COLUMN_POSTAL_CODE]));
    failed |= add(user, "phone", json_object_new_string(pick(generator, COLUMN_PHONE)));
    /* Spend in cents, from 0.1% to 5% of the yearly income. */
    failed |= add(user, "lifetime_value",
                  json_object_new_double(
                      (double)(int64_t)(income * (0.001 + 0.049 * random_unit(generator)) * 100) /
                      100.0));
    failed |= add(user, "tags", tags(generator));
    failed |= add(user, "last_seen_at", json_object_new_string(seen));

    if (failed) {
        json_object_put(user);
        return NULL;
    }
    return user;
}
