/* Unit tests of the in-memory per-user event index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "event_index.h"

#define DAY_MS INT64_C(86400000)
#define NOW_MS INT64_C(1717243200000) /* 2024-06-01T12:00:00Z */

static event_index *events;

static int setup(void **state)
{
    (void)state;
    events = event_index_create();
    return events == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    event_index_free(events);
    events = NULL;
    return 0;
}

static void counts_with_windows(void **state)
{
    uint32_t order;
    uint32_t login;

    (void)state;
    assert_int_equal(event_index_add(events, 0, "Order Completed", NOW_MS - 1 * DAY_MS), 0);
    assert_int_equal(event_index_add(events, 0, "Order Completed", NOW_MS - 10 * DAY_MS), 0);
    assert_int_equal(event_index_add(events, 0, "Order Completed", NOW_MS - 40 * DAY_MS), 0);
    assert_int_equal(event_index_add(events, 0, "Logged In", NOW_MS - 2 * DAY_MS), 0);
    order = event_index_intern(events, "Order Completed");
    login = event_index_intern(events, "Logged In");

    assert_int_equal(event_index_count(events, 0, order, INT64_MIN), 3);
    assert_int_equal(event_index_count(events, 0, order, NOW_MS - 30 * DAY_MS), 2);
    assert_int_equal(event_index_count(events, 0, order, NOW_MS - 5 * DAY_MS), 1);
    assert_int_equal(event_index_count(events, 0, order, NOW_MS), 0);
    assert_int_equal(event_index_count(events, 0, login, INT64_MIN), 1);

    /* The window includes an event exactly at its start. */
    assert_int_equal(event_index_count(events, 0, order, NOW_MS - 10 * DAY_MS), 2);
    assert_int_equal(event_index_count(events, 0, order, NOW_MS - 10 * DAY_MS + 1), 1);
}

static void out_of_order_events_sorted(void **state)
{
    uint32_t view;

    (void)state;
    /* Late arrivals land in time order among the earlier ones. */
    for (int64_t day = 0; day < 50; day += 2)
        assert_int_equal(event_index_add(events, 3, "Page Viewed", NOW_MS - day * DAY_MS), 0);
    for (int64_t day = 1; day < 50; day += 2)
        assert_int_equal(event_index_add(events, 3, "Page Viewed", NOW_MS - day * DAY_MS), 0);
    view = event_index_intern(events, "Page Viewed");

    assert_int_equal(event_index_count(events, 3, view, INT64_MIN), 50);
    for (int64_t day = 0; day < 50; day++)
        assert_int_equal(event_index_count(events, 3, view, NOW_MS - day * DAY_MS), day + 1);
}

static void unknown_users_and_events(void **state)
{
    uint32_t order = event_index_intern(events, "Order Completed");
    uint32_t never = event_index_intern(events, "Never Happened");

    (void)state;
    assert_int_not_equal(order, never);
    assert_int_equal(event_index_intern(events, "Order Completed"), order);
    assert_int_equal(event_index_count(events, 0, order, INT64_MIN), 0);
    assert_int_equal(event_index_count(events, 123456, order, INT64_MIN), 0);

    assert_int_equal(event_index_add(events, 5, "Order Completed", NOW_MS), 0);
    assert_int_equal(event_index_count(events, 5, never, INT64_MIN), 0);
    assert_int_equal(event_index_count(events, 4, order, INT64_MIN), 0);
    assert_int_equal(event_index_count(events, 6, order, INT64_MIN), 0);
}

static void merge_combines_users(void **state)
{
    uint32_t order;

    (void)state;
    assert_int_equal(event_index_add(events, 1, "Order Completed", NOW_MS - 1 * DAY_MS), 0);
    assert_int_equal(event_index_add(events, 1, "Order Completed", NOW_MS - 20 * DAY_MS), 0);
    assert_int_equal(event_index_add(events, 2, "Order Completed", NOW_MS - 5 * DAY_MS), 0);
    assert_int_equal(event_index_add(events, 2, "Order Completed", NOW_MS - 50 * DAY_MS), 0);
    order = event_index_intern(events, "Order Completed");

    assert_int_equal(event_index_merge(events, 1, 2), 0);
    assert_int_equal(event_index_count(events, 1, order, INT64_MIN), 0);
    assert_int_equal(event_index_count(events, 2, order, INT64_MIN), 4);
    assert_int_equal(event_index_count(events, 2, order, NOW_MS - 30 * DAY_MS), 3);
    assert_int_equal(event_index_count(events, 2, order, NOW_MS - 3 * DAY_MS), 1);

    /* Events added after a merge still go in time order. */
    assert_int_equal(event_index_add(events, 2, "Order Completed", NOW_MS - 4 * DAY_MS), 0);
    assert_int_equal(event_index_count(events, 2, order, NOW_MS - 4 * DAY_MS), 2);
}

static void merge_edge_cases(void **state)
{
    uint32_t order;

    (void)state;
    assert_int_equal(event_index_add(events, 1, "Order Completed", NOW_MS), 0);
    order = event_index_intern(events, "Order Completed");

    /* Into a user without events, and far beyond the users seen so far. */
    assert_int_equal(event_index_merge(events, 1, 50000), 0);
    assert_int_equal(event_index_count(events, 50000, order, INT64_MIN), 1);
    assert_int_equal(event_index_count(events, 1, order, INT64_MIN), 0);

    /* From a user without events, and onto itself: nothing changes. */
    assert_int_equal(event_index_merge(events, 7, 50000), 0);
    assert_int_equal(event_index_merge(events, 900000, 50000), 0);
    assert_int_equal(event_index_merge(events, 50000, 50000), 0);
    assert_int_equal(event_index_count(events, 50000, order, INT64_MIN), 1);
}

static void remove_forgets_user(void **state)
{
    uint32_t order;

    (void)state;
    assert_int_equal(event_index_add(events, 9, "Order Completed", NOW_MS), 0);
    order = event_index_intern(events, "Order Completed");
    event_index_remove(events, 9);
    assert_int_equal(event_index_count(events, 9, order, INT64_MIN), 0);

    /* The index may be handed to a new user, who starts without events. */
    assert_int_equal(event_index_add(events, 9, "Order Completed", NOW_MS - DAY_MS), 0);
    assert_int_equal(event_index_count(events, 9, order, INT64_MIN), 1);

    event_index_remove(events, 12345);
    event_index_remove(events, 9);
    event_index_remove(events, 9);
    assert_int_equal(event_index_count(events, 9, order, INT64_MIN), 0);
}

static void many_events_one_user(void **state)
{
    uint32_t click;

    (void)state;
    for (int i = 0; i < 10000; i++)
        assert_int_equal(event_index_add(events, 0, i % 2 ? "Click" : "View", NOW_MS - i), 0);
    click = event_index_intern(events, "Click");
    assert_int_equal(event_index_count(events, 0, click, INT64_MIN), 5000);
    assert_int_equal(event_index_count(events, 0, click, NOW_MS - 99), 50);
}

static void read_lock_round_trip(void **state)
{
    uint32_t order;

    (void)state;
    assert_int_equal(event_index_add(events, 0, "Order Completed", NOW_MS), 0);
    order = event_index_intern(events, "Order Completed");
    event_index_read_lock(events);
    event_index_read_lock(events);
    assert_int_equal(event_index_count(events, 0, order, INT64_MIN), 1);
    event_index_read_unlock(events);
    event_index_read_unlock(events);
    assert_int_equal(event_index_add(events, 0, "Order Completed", NOW_MS), 0);
    assert_int_equal(event_index_count(events, 0, order, INT64_MIN), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(counts_with_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_order_events_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_users_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(merge_combines_users, setup, teardown),
        cmocka_unit_test_setup_teardown(merge_edge_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(remove_forgets_user, setup, teardown),
        cmocka_unit_test_setup_teardown(many_events_one_user, setup, teardown),
        cmocka_unit_test_setup_teardown(read_lock_round_trip, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
