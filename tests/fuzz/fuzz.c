/*
 * fuzz.c: the helpers every fuzz target shares (fuzz.h).
 */
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s, "out of memory copying %zu bytes", size);
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

char *fuzz_cut(char **rest, const char *mark)
{
    char *s = *rest;
    if (!s)
        return NULL;
    size_t m = strlen(mark);
    for (char *line = s; line;) {
        if (!strncmp(line, mark, m)) {
            char *nl = strchr(line, '\n');
            *line = 0;
            *rest = nl ? nl + 1 : line + strlen(line + 1) + 1;
            return s;
        }
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    *rest = NULL;
    return s;
}

void fuzz_expect_msg(int rc, const struct sim_msg *m, const char *call)
{
    FUZZ_CHECK(rc <= 0, "%s returned %d", call, rc);
    FUZZ_CHECK(rc == 0 || m->text[0], "%s returned %d (%s) with an empty message", call, rc,
               sim_strerror(rc));
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    if (rc && verbose)
        fprintf(stderr, "%s: %s\n", call, m->text);
}

uint64_t fuzz_live(void) { return sim_alloc_stats().live; }

void fuzz_expect_no_leak(uint64_t before, const char *what)
{
    uint64_t now = fuzz_live();
    FUZZ_CHECK(now == before, "%s: %llu blocks live before, %llu after", what,
               (unsigned long long)before, (unsigned long long)now);
}

static char scratch_dir[64];

static void remove_scratch(void)
{
    DIR *d = opendir(scratch_dir);
    if (d) {
        char           path[sizeof scratch_dir + 256];
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.') {
                snprintf(path, sizeof path, "%s/%s", scratch_dir, de->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(scratch_dir);
}

void fuzz_write_file(const char *name, const void *data, size_t n, char *path, size_t cap)
{
    if (!scratch_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch_dir, sizeof scratch_dir, "%s/lensim-fuzz-XXXXXX",
                 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(scratch_dir), "cannot create %s", scratch_dir);
        atexit(remove_scratch);
    }
    FUZZ_CHECK((size_t)snprintf(path, cap, "%s/%s", scratch_dir, name) < cap, "path too long");
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f, "cannot create %s", path);
    int ok = fwrite(data, 1, n, f) == n;
    ok &= fclose(f) == 0;
    FUZZ_CHECK(ok, "cannot write %s", path);
}
