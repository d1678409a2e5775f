/*
 * fuzz.h: what the fuzz targets share (tests/fuzz/README.md).
 *
 * Each target defines LLVMFuzzerTestOneInput. It is linked either with libFuzzer (clang,
 * -Dfuzz=true: `make fuzz`) or with replay.c, a main() that runs it over every file of the
 * corpus folders given on its command line (any compiler: the meson suite `fuzz`).
 * A target fails by aborting (FUZZ_CHECK): libFuzzer then saves the input as a crash, and the
 * replay exits with SIGABRT. Besides the sanitizers' findings, every target fails on
 *   - an error code returned with an empty message (fuzz_expect_msg), and
 *   - a block of the project's allocator (base/alloc.h) still live once the calls under test
 *     have released what they own (fuzz_expect_no_leak).
 * Scratch files live in one private temporary directory per process, removed at exit.
 */
#ifndef LENSIM_FUZZ_H
#define LENSIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

/* The entry point libFuzzer (or replay.c) calls with one input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the location and a printf message when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                             \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: fuzz check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* An owned NUL-terminated copy of data[0..size) (free with free(); malloc, not the project's
 * allocator, so that it never counts as a leak of the code under test). Aborts when out of
 * memory. */
char *fuzz_text(const uint8_t *data, size_t size);

/* Split *rest at its first line that begins with `mark` (that whole line is dropped): returns
 * the text before it and sets *rest past that line; or returns all of *rest and sets *rest to
 * NULL when there is no such line; or returns NULL when *rest is NULL. Writes a NUL terminator
 * into the buffer. */
char *fuzz_cut(char **rest, const char *mark);

/* rc < 0 must come with a message in m; rc > 0 is never an error code. `call` names the
 * function for the failure report. With FUZZ_VERBOSE set in the environment, prints every
 * error's message (is a seed reaching the code it was made for?). */
void fuzz_expect_msg(int rc, const struct sim_msg *m, const char *call);

/* The project's allocator's live blocks now. */
uint64_t fuzz_live(void);
/* Abort when more (or fewer) blocks are live than `before`. */
void fuzz_expect_no_leak(uint64_t before, const char *what);

/* Write data[0..n) to the scratch file `name` (a plain file name; replaced each time) and its
 * path into path[0..cap). Aborts on an I/O error: the harness, not the code under test, failed. */
void fuzz_write_file(const char *name, const void *data, size_t n, char *path, size_t cap);

#endif
