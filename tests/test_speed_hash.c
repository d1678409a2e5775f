/*
 * test_speed_hash.c: a run's profile_hash (manifest.yaml) is FNV-1a 64 of the profile file's
 * bytes, computed here independently, whether sim/run.c hashes the file or takes the hash it
 * remembered from the previous build (issue 13: the bytes last hashed are kept, and a file read
 * back equal to them is not hashed again).
 *
 * Builds runs on copies of the shipped table profile: A, A again (remembered), B (A with one
 * comment byte changed: same size, a change no size or name check would see), A again, then B
 * under another name; then C (A with comment lines after `end`), A (a prefix of the kept C),
 * C again (the kept A a prefix of it). Each build's profile_hash must be the FNV-1a of that
 * file as it is now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "run.h"
#include "test.h"

#define SHIPPED LENSIM_SOURCE_ROOT "/calib/profiles/codellama-34b-tp2-a100.table"

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char  *t = NULL;
    size_t len = 0, got;
    char   buf[65536];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        char *u = realloc(t, len + got);
        if (!u)
            abort();
        t = u;
        memcpy(t + len, buf, got);
        len += got;
    }
    fclose(f);
    *n = len;
    return t;
}

static void write_all(const char *path, const char *t, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(t, 1, n, f) != n || fclose(f))
        TEST_FAIL_("cannot write %s", path);
}

/* FNV-1a 64, byte by byte (the reference: offset basis and prime of the FNV specification). */
static uint64_t fnv1a(const char *t, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)t[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* profile_hash of a run on `profile` (codellama-34b, TP2, A100, as experiments/vidur-conv.yaml). */
static uint64_t built_hash(const char *profile)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "name: h\nmodel: codellama-34b\nhardware: {gpu: a100-80gb, tp: 2}\n"
             "workload: {requests: 10}\nperf: {profile: %s}\n",
             profile);
    cfg_exp_t     *e = NULL;
    struct sim_msg err = {{0}};
    if (cfg_load_string(yaml, "t.yaml", &e, &err))
        TEST_FAIL_("cfg_load_string: %s", err.text);
    struct cfg c;
    if (cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("cfg_resolve: %s", err.text);
    struct run *x = calloc(1, sizeof *x);
    ASSERT_TRUE(x);
    if (run_build(&c, cfg_dir(e), "", x, &err))
        TEST_FAIL_("run_build: %s", err.text);
    uint64_t h = x->profile_hash;
    run_fini(x);
    free(x);
    cfg_free(e);
    return h;
}

TEST(profile_hash_is_the_files_fnv)
{
    size_t n;
    char  *a = read_all(SHIPPED, &n);
    ASSERT_TRUE(a && n > 1000);
    char *b = malloc(n);
    ASSERT_TRUE(b);
    memcpy(b, a, n);
    ASSERT_TRUE(b[0] == '#' && b[2] == 'l'); /* "# lensim table profile": change the comment */
    b[2] = 'L';
    uint64_t ha = fnv1a(a, n), hb = fnv1a(b, n);
    ASSERT_TRUE(ha != hb);

    char dir[] = "/tmp/lensim-test-hash-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/p.table", dir);
    snprintf(q, sizeof q, "%s/q.table", dir);

    write_all(p, a, n);
    ASSERT_EQ(built_hash(p), ha);
    ASSERT_EQ(built_hash(p), ha); /* remembered */
    write_all(p, b, n);           /* same path, same size, maybe the same mtime tick */
    ASSERT_EQ(built_hash(p), hb);
    write_all(p, a, n);
    ASSERT_EQ(built_hash(p), ha);
    write_all(q, b, n);
    ASSERT_EQ(built_hash(q), hb);
    ASSERT_EQ(built_hash(p), ha);

    /* One a prefix of the other (comments after `end`): longer, shorter, longer again. */
    const char pad[] = "# padding after the tables\n";
    size_t     m = n + 3 * (sizeof pad - 1);
    char      *c = malloc(m);
    ASSERT_TRUE(c);
    memcpy(c, a, n);
    for (int i = 0; i < 3; i++)
        memcpy(c + n + (size_t)i * (sizeof pad - 1), pad, sizeof pad - 1);
    uint64_t hc = fnv1a(c, m);
    write_all(p, c, m);
    ASSERT_EQ(built_hash(p), hc);
    write_all(p, a, n); /* a prefix of the kept bytes */
    ASSERT_EQ(built_hash(p), ha);
    ASSERT_EQ(built_hash(p), ha);
    write_all(p, c, m); /* the kept bytes are a prefix of the file */
    ASSERT_EQ(built_hash(p), hc);
    ASSERT_EQ(built_hash(q), hb);
    free(c);

    remove(p);
    remove(q);
    remove(dir);
    free(a);
    free(b);
}

int main(void)
{
    RUN(profile_hash_is_the_files_fnv);
    return test_main_end();
}
