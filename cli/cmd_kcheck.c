/*
 * cmd_kcheck.c: `lensim kcheck [--backend B] [--bench] [--engine] [--seed S|time] [OP [VERSION]]`:
 * argv to kc_check's options (kernels/kcheck.h); exit 1 on a mismatch, 77 (meson's SKIP) without
 * a GPU.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "kcheck.h"
#include "kern.h"

static void usage(FILE *f)
{
    char backends[64];
    fprintf(f,
            "usage: lensim kcheck [--backend %s] [--bench] [--engine] [--seed S|time]\n"
            "                     [--list] [-v] [OP [VERSION]]\n\n"
            "Compares every kernel variant of the backend (default cuda) with its plain-C\n"
            "reference on seeded random inputs (seed %u unless --seed; 'time': the wall\n"
            "clock); prints failures (or every check with -v). A run of every op then runs\n"
            "the engine check: a small model's iterations (prefill, decode, chunked prefill;\n"
            "both KV layouts; on CUDA direct and graph-captured) against the CPU engine's\n"
            "logits; --engine runs only that.\n"
            "--bench then times the CUDA kernels at Llama-2-7B / GPT-J shapes against the\n"
            "measured copy bandwidth and cuBLAS GEMM rate. OP: one of",
            sim_choice_list(kern_backend_choices, backends, sizeof backends), KC_SEED_DEFAULT);
    for (int i = 0; i < KERN_OP_COUNT; i++)
        fprintf(f, " %s", kern_op_name((enum kern_op)i));
    fprintf(f, ".\nexit status: 0 all passed, 1 a mismatch, 2 bad usage, 77 no GPU (or CUDA not "
               "built)\n");
}

static void list(void)
{
    size_t                     nv;
    const struct kern_variant *vs = kern_variants(&nv);
    for (size_t i = 0; i < nv; i++)
        printf("%-12s v%d  %-4s  %s\n", kern_op_name(vs[i].op), vs[i].version,
               sim_choice_name(kern_backend_choices, (int)vs[i].backend), vs[i].desc);
}

int kcheck_cmd(int argc, char **argv)
{
    struct kc_opts o = {.backend = "cuda", .op = -1, .seed = KC_SEED_DEFAULT, .out = stdout};
    const char    *op = NULL;
    int            do_list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--backend") && i + 1 < argc) {
            o.backend = argv[++i];
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            if (!strcmp(argv[++i], "time")) {
                o.seed = (uint64_t)sim_wall_ns(); /* only on request (issue 18) */
            } else if (sim_parse_u64(argv[i], UINT64_MAX, &o.seed)) {
                char v[256];
                fprintf(stderr, "lensim kcheck: --seed: '%s' is not a whole number\n",
                        sim_escape(argv[i], v, sizeof v));
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--engine")) {
            o.engine = 1;
        } else if (!strcmp(a, "--bench")) {
            o.bench = 1;
        } else if (!strcmp(a, "--list")) {
            do_list = 1;
        } else if (!strcmp(a, "-v")) {
            o.verbose = 1;
        } else if (a[0] == '-') {
            char name[256];
            fprintf(stderr, "lensim kcheck: unknown option '%s' (see --help)\n",
                    sim_escape(a, name, sizeof name));
            return CLI_EXIT_USAGE;
        } else if (!op) {
            op = a;
        } else if (!o.version) {
            uint64_t v;
            if (sim_parse_u64(a, INT_MAX, &v) || v == 0) {
                fprintf(stderr, "lensim kcheck: VERSION must be a positive number\n");
                return CLI_EXIT_USAGE;
            }
            o.version = (int)v;
        } else {
            char arg[256];
            fprintf(stderr, "lensim kcheck: unexpected argument '%s'\n",
                    sim_escape(a, arg, sizeof arg));
            return CLI_EXIT_USAGE;
        }
    }
    enum kern_backend_id be;
    struct sim_msg       err = {{0}};
    if (kern_backend_of(o.backend, &be, &err)) {
        fprintf(stderr, "lensim kcheck: --backend: %s\n", err.text);
        return CLI_EXIT_USAGE;
    }
    if (op && (o.op = kern_op_find(op)) < 0) {
        fprintf(stderr, "lensim kcheck: unknown op '%s' (see --help)\n", op);
        return CLI_EXIT_USAGE;
    }
    if (o.engine && (op || o.bench)) {
        fprintf(stderr, "lensim kcheck: --engine checks the whole iteration: it takes no OP and "
                        "no --bench\n");
        return CLI_EXIT_USAGE;
    }
    if (do_list) {
        list();
        return CLI_EXIT_OK;
    }
    struct kc_result res;
    int              rc = kc_check(&o, &res, &err);
    if (rc == SIM_ENODEV && !res.checks) /* meson reads 77 as SKIP; say why on stdout */
        printf("SKIP: %s\n", err.text);
    else if (rc)
        fprintf(stderr, "lensim kcheck: %s\n", err.text[0] ? err.text : sim_strerror(rc));
    else if (res.fails)
        return CLI_EXIT_FAILED;
    return cli_exit_status(rc);
}
