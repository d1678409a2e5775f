/* choice.c: lookups in a choice set (see choice.h). */
#include "choice.h"

#include <stdio.h>
#include <string.h>

const struct sim_choice *sim_choice_find(const struct sim_choice *set, const char *name)
{
    for (; name && set->name; set++)
        if (!strcmp(set->name, name))
            return set;
    return NULL;
}

const char *sim_choice_name(const struct sim_choice *set, int value)
{
    for (; set->name; set++)
        if (set->value == value)
            return set->name;
    return NULL;
}

char *sim_choice_list(const struct sim_choice *set, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (const struct sim_choice *c = set; c->name && len < n; c++) {
        int k = snprintf(buf + len, n - len, "%s%s", c == set ? "" : "|", c->name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    return buf;
}
