/*
 * replay.c: run a fuzz target over saved inputs, without libFuzzer (the meson suite `fuzz`).
 *
 *     fuzz_TARGET-replay PATH...
 *
 * Each PATH is a file or a folder; a folder's files (not its subfolders, not dot files) are
 * run in name order, so a failure is reproducible by name. Prints one line per PATH with the
 * number of inputs run. Exits 0 when every input ran; 2 on a usage or I/O error, or when a
 * folder holds no input (an empty corpus is a mistake, not a pass). A failing input aborts
 * (fuzz.h) after its name is printed to stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Run one file; returns 0, or 2 when it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 2;
    }
    size_t   cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    int      rc = 0;
    for (size_t got = 1; buf && got;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "replay: %s: %s\n", path, buf ? "read error" : "out of memory");
        rc = 2;
    } else {
        fprintf(stderr, "replay: %s\n", path); /* the name of an input that aborts */
        LLVMFuzzerTestOneInput(buf, n);
    }
    fclose(f);
    free(buf);
    return rc;
}

static int visible(const struct dirent *d) { return d->d_name[0] != '.'; }

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|FOLDER...\n", argv[0]);
        return 2;
    }
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st)) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a]))
                return 2;
            printf("%s: 1 input\n", argv[a]);
            continue;
        }
        struct dirent **names;
        int             n = scandir(argv[a], &names, visible, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            return 2;
        }
        int ran = 0, rc = 0;
        for (int i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], names[i]->d_name);
            if (!rc && !stat(path, &st) && S_ISREG(st.st_mode)) {
                rc = run_file(path);
                ran++;
            }
            free(names[i]);
        }
        free(names);
        if (rc)
            return rc;
        if (!ran) {
            fprintf(stderr, "replay: %s: no inputs\n", argv[a]);
            return 2;
        }
        printf("%s: %d inputs\n", argv[a], ran);
    }
    return 0;
}
