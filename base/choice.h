/*
 * choice.h: named choices, each defined once by the module that owns it (R21).
 *
 * A choice set is a NULL-name-terminated array of {name, value, help}, in the order it is shown
 * (`a|b|c` in messages, one line per value in `lensim schema`). `value` is the owner's enum
 * constant, so the display order is free of the enum's. The set is plain read-only data; the
 * lookups below walk it (sets are a handful of entries) and cannot fail.
 */
#ifndef LENSIM_CHOICE_H
#define LENSIM_CHOICE_H

#include <stddef.h>

struct sim_choice {
    const char *name; /* NULL ends the set */
    int         value;
    const char *help; /* one line: what this value does */
};

/* The entry named `name` (exact, case-sensitive) in set, or NULL. Borrows both; name may be NULL
 * (no match). */
const struct sim_choice *sim_choice_find(const struct sim_choice *set, const char *name);
/* The name of the first entry whose value is `value`, or NULL. Returns a borrowed static string. */
const char *sim_choice_name(const struct sim_choice *set, int value);
/* Write the names joined with `|` ("a|b|c") into buf of n > 0 bytes, truncated if need be, always
 * NUL-terminated. Returns buf. */
char *sim_choice_list(const struct sim_choice *set, char *buf, size_t n);

#endif
