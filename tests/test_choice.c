/*
 * test_choice.c: choice sets (base/choice.h) against a plain reference.
 *
 * - find and name are inverse on a set whose display order differs from its values' order, and
 *   miss (NULL) on unknown names, on NULL, on prefixes and on values outside the set.
 * - list joins the names with `|`, and for every buffer size from 1 to past the full length
 *   gives the full text's prefix of that size minus one, NUL-terminated.
 * (The schema's own sets are checked in test_cfg.c: every_choice_round_trips.)
 */
#include "choice.h"
#include "test.h"

enum colour { RED = 0, GREEN, BLUE };

static const struct sim_choice colours[] = {
    {"blue", BLUE, "the sky"},
    {"red", RED, "a rose"},
    {"green", GREEN, "grass"},
    {NULL, 0, NULL},
};

TEST(find_and_name_are_inverse)
{
    for (const struct sim_choice *c = colours; c->name; c++) {
        ASSERT_TRUE(sim_choice_find(colours, c->name) == c);
        ASSERT_TRUE(!strcmp(sim_choice_name(colours, c->value), c->name));
    }
    ASSERT_TRUE(sim_choice_find(colours, "Red") == NULL);
    ASSERT_TRUE(sim_choice_find(colours, "gree") == NULL);
    ASSERT_TRUE(sim_choice_find(colours, "") == NULL);
    ASSERT_TRUE(sim_choice_find(colours, NULL) == NULL);
    ASSERT_TRUE(sim_choice_name(colours, 3) == NULL);
    ASSERT_TRUE(sim_choice_name(colours, -1) == NULL);
}

TEST(list_joins_and_truncates)
{
    static const char full[] = "blue|red|green";
    char              buf[32];
    ASSERT_TRUE(!strcmp(sim_choice_list(colours, buf, sizeof buf), full));
    for (size_t n = 1; n <= sizeof full + 2; n++) {
        char small[32];
        memset(small, 'x', sizeof small);
        ASSERT_TRUE(sim_choice_list(colours, small, n) == small);
        size_t want = n - 1 < strlen(full) ? n - 1 : strlen(full);
        ASSERT_EQ(strlen(small), want);
        ASSERT_TRUE(!strncmp(small, full, want));
        ASSERT_TRUE(small[n] == 'x'); /* nothing written past n */
    }
    static const struct sim_choice empty[] = {{NULL, 0, NULL}};
    ASSERT_TRUE(!strcmp(sim_choice_list(empty, buf, sizeof buf), ""));
}

int main(void)
{
    RUN(find_and_name_are_inverse);
    RUN(list_joins_and_truncates);
    return test_main_end();
}
