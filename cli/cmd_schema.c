/* cmd_schema.c: `lensim schema [--markdown]`: every experiment key (sim/cfg.h's schema). */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "cmds.h"

int schema_cmd(int argc, char **argv)
{
    int md = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown"))
            md = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lensim schema [--markdown]\n"
                   "Print every experiment key with its type, default, unit and help.\n");
            return 0;
        } else {
            fprintf(stderr, "lensim schema: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    cfg_schema_print(stdout, md);
    return 0;
}
