/*
 * opts.h: the options `lensim run` and `lensim search` share, parsed by one piece of code so
 * that each is read, and refused, the same way in both: -o DIR, --set KEY=VALUE, --data-dir
 * DIR, -j N, --force, -q/--quiet, -h/--help, and the experiment file (the one argument that is
 * not an option). Each command passes its own options through a callback. Every refusal is one
 * line on stderr, "lensim CMD: what", and the exit status CLI_EXIT_USAGE: an option without its
 * value, an unknown option, a second experiment file, a bad -j, an -o that is empty or names
 * something other than a directory, and a single-valued option given twice (-o, -j,
 * --data-dir, and those a command marks with cli_opts_once): the later one would silently win.
 * Ownership: the struct owns the --set strings (copies) until cli_opts_fini; file, outdir and
 * data_flag borrow argv.
 */
#ifndef LENSIM_OPTS_H
#define LENSIM_OPTS_H

#include <stddef.h>

struct cfg_exp; /* cfg.h: cfg_exp_t */
struct sim_msg;

enum { CLI_OPTS_MAX_ONCE = 32 };

struct cli_opts {
    const char *cmd;       /* "run", "search": messages begin "lensim CMD: " */
    const char *file;      /* the experiment file; NULL when none was given */
    const char *outdir;    /* -o DIR; NULL: the command's default */
    const char *data_flag; /* --data-dir DIR; NULL: $LENSIM_DATA, then ../shared/data */
    char      **sets;      /* --set KEY=VALUE and the commands' shorthands, in the given order */
    size_t      n_sets;
    int         jobs;  /* -j N: 1 by default; -j 0 is one per CPU (at most 64) */
    int         force; /* --force: replace the results already in the output directory */
    int         quiet; /* -q, --quiet (sim_log_quiet(1) is called when it is seen) */
    int         help;  /* -h, --help: parsing stopped there; print the usage, exit 0 */
    /* private to opts.c */
    size_t      n_once;
    const char *once[CLI_OPTS_MAX_ONCE];
};

/* Not one of the command's own options (the callback's answer): an unknown option. */
enum { CLI_OPTS_NOT_MINE = -1 };

/* A command's own option at argv[*i]: parse it (cli_opts_value for its value, advancing *i) and
 * return 0; CLI_OPTS_NOT_MINE when argv[*i] is none of its options; or an exit status after
 * printing the reason. */
typedef int (*cli_opts_own_fn)(void *ctx, struct cli_opts *o, int argc, char **argv, int *i);

/* Ready o for command cmd's argv of argc entries. 0, or CLI_EXIT_FAILED (out of memory, with a
 * message); cli_opts_fini in both cases. */
int cli_opts_init(struct cli_opts *o, const char *cmd, int argc);
/* Frees the --set copies. o may be zeroed or initialised. Cannot fail. */
void cli_opts_fini(struct cli_opts *o);

/* Parse argv[1..argc) in order: the shared options here, the others through own(ctx, ...) (NULL:
 * none). Returns 0 (o->help set when -h/--help was seen: the rest is not read), or the exit
 * status of the first refused argument, its reason printed. */
int cli_opts_parse(struct cli_opts *o, int argc, char **argv, cli_opts_own_fn own, void *ctx);

/* The value of option argv[*i] (advancing *i to it), or NULL after "OPT needs a value". */
const char *cli_opts_value(const struct cli_opts *o, int argc, char **argv, int *i);

/* Option opt (a name that outlives o: argv or a literal) seen again? 0 the first time;
 * CLI_EXIT_USAGE, after "OPT given twice", the second. */
int cli_opts_once(struct cli_opts *o, const char *opt);

/* Load the experiment o->file, apply o's --set overrides in order, and resolve the data
 * directory (--data-dir, else $LENSIM_DATA, else ../shared/data) into data_dir: the common start
 * of `run` and `search`. Returns 0 with *e owned by the caller (also on failure, when set:
 * cfg_free it), or a negative code with the place in err. */
int cli_opts_load(const struct cli_opts *o, struct cfg_exp **e, char *data_dir, size_t size,
                  struct sim_msg *err);

/* Append a copy of set ("KEY=VALUE") to o->sets. 0, or CLI_EXIT_FAILED (out of memory). */
int cli_opts_add_set(struct cli_opts *o, const char *set);

/* Append "key=value" (a copy, whatever their length) to o->sets. 0, or CLI_EXIT_FAILED. */
int cli_opts_add_kv(struct cli_opts *o, const char *key, const char *value);

#endif
