/*
 * opts.c: the options `lensim run` and `lensim search` share (opts.h).
 */
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "cmds.h"
#include "sim.h"
#include "trace.h"

int cli_opts_init(struct cli_opts *o, const char *cmd, int argc)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->jobs = 1;
    /* Every argument gives at most one --set: argc entries are enough. */
    if (!(o->sets = sim_calloc((size_t)argc + 1, sizeof *o->sets))) {
        fprintf(stderr, "lensim %s: out of memory\n", cmd);
        return CLI_EXIT_FAILED;
    }
    return 0;
}

void cli_opts_fini(struct cli_opts *o)
{
    for (size_t k = 0; o->sets && k < o->n_sets; k++)
        sim_free(o->sets[k]);
    sim_free(o->sets);
    o->sets = NULL;
    o->n_sets = 0;
}

const char *cli_opts_value(const struct cli_opts *o, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        char esc[256];
        fprintf(stderr, "lensim %s: %s needs a value\n", o->cmd,
                sim_escape(argv[*i], esc, sizeof esc));
        return NULL;
    }
    return argv[++*i];
}

int cli_opts_once(struct cli_opts *o, const char *opt)
{
    for (size_t k = 0; k < o->n_once; k++)
        if (!strcmp(o->once[k], opt)) {
            fprintf(stderr, "lensim %s: %s given twice (one would be ignored)\n", o->cmd, opt);
            return CLI_EXIT_USAGE;
        }
    if (o->n_once < CLI_OPTS_MAX_ONCE)
        o->once[o->n_once++] = opt;
    return 0;
}

int cli_opts_add_set(struct cli_opts *o, const char *set)
{
    if (!(o->sets[o->n_sets] = sim_strdup(set))) {
        fprintf(stderr, "lensim %s: out of memory\n", o->cmd);
        return CLI_EXIT_FAILED;
    }
    o->n_sets++;
    return 0;
}

int cli_opts_add_kv(struct cli_opts *o, const char *key, const char *value)
{
    size_t n = strlen(key) + strlen(value) + 2;
    char  *set = sim_malloc(n);
    if (!set) {
        fprintf(stderr, "lensim %s: out of memory\n", o->cmd);
        return CLI_EXIT_FAILED;
    }
    snprintf(set, n, "%s=%s", key, value);
    o->sets[o->n_sets++] = set;
    return 0;
}

/* -j N: 0 to 64 workers, 0 one per CPU. 0 or CLI_EXIT_USAGE. */
static int parse_jobs(struct cli_opts *o, const char *s)
{
    char         *end;
    unsigned long j = strtoul(s, &end, 10);
    if (*end || end == s || s[0] == '-' || j > 64) {
        char esc[256];
        fprintf(stderr, "lensim %s: -j %s: a number of workers from 0 to 64\n", o->cmd,
                sim_escape(s, esc, sizeof esc));
        return CLI_EXIT_USAGE;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = j ? (int)j : cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    return 0;
}

/* The shared option argv[*i]: 0 taken, CLI_OPTS_NOT_MINE, or an exit status. */
static int shared(struct cli_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        o->help = 1;
        return 0;
    }
    if (!strcmp(a, "--force")) {
        o->force = 1;
        return 0;
    }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        o->quiet = 1;
        sim_log_quiet(1);
        return 0;
    }
    if (strcmp(a, "-o") && strcmp(a, "--set") && strcmp(a, "--data-dir") && strcmp(a, "-j"))
        return CLI_OPTS_NOT_MINE;
    if (!(v = cli_opts_value(o, argc, argv, i)))
        return CLI_EXIT_USAGE;
    if (!strcmp(a, "--set"))
        return cli_opts_add_set(o, v);
    if (cli_opts_once(o, a))
        return CLI_EXIT_USAGE;
    if (!strcmp(a, "-j"))
        return parse_jobs(o, v);
    if (!strcmp(a, "-o")) {
        /* A file where the folder belongs is invalid input (2), as a folder where a file
         * belongs is, not an input/output error at the lock. */
        struct stat st;
        char        esc[256];
        if (!*v || (!stat(v, &st) && !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "lensim %s: -o%s%s: %s\n", o->cmd, *v ? " " : "",
                    sim_escape(v, esc, sizeof esc), *v ? "not a directory" : "an empty path");
            return CLI_EXIT_USAGE;
        }
        o->outdir = v;
    } else
        o->data_flag = v;
    return 0;
}

int cli_opts_parse(struct cli_opts *o, int argc, char **argv, cli_opts_own_fn own, void *ctx)
{
    for (int i = 1; i < argc && !o->help; i++) {
        const char *a = argv[i];
        char        esc[256];
        int         r = shared(o, argc, argv, &i);
        if (r == CLI_OPTS_NOT_MINE && own)
            r = own(ctx, o, argc, argv, &i);
        if (r != CLI_OPTS_NOT_MINE) {
            if (r)
                return r;
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lensim %s: unknown option '%s' (see lensim %s --help)\n", o->cmd,
                    sim_escape(a, esc, sizeof esc), o->cmd);
            return CLI_EXIT_USAGE;
        }
        if (o->file) {
            fprintf(stderr, "lensim %s: one experiment file at a time ('%s')\n", o->cmd,
                    sim_escape(a, esc, sizeof esc));
            return CLI_EXIT_USAGE;
        }
        o->file = a;
    }
    return 0;
}

int cli_opts_load(const struct cli_opts *o, struct cfg_exp **e, char *data_dir, size_t size,
                  struct sim_msg *err)
{
    int rc = cfg_load(o->file, e, err);
    for (size_t i = 0; !rc && i < o->n_sets; i++)
        rc = cfg_add_set(*e, o->sets[i], err);
    if (!rc && trace_data_dir(o->data_flag, data_dir, size) && o->data_flag)
        rc = sim_msg_set(err, SIM_ENOENT, "--data-dir: %s: no such directory", o->data_flag);
    return rc;
}
