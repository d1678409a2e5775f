/*
 * test_afile.c: atomic files (base/afile.h): a committed file appears whole; a failed write or
 * rename leaves neither the target nor the temporary file, and the error names the target and
 * the first cause (ENOSPC from a full device, not the EINVAL that fsync on that device gives
 * after it); a discarded file leaves nothing. A set of files (a run's directory) appears whole
 * or not at all, and replaces an earlier set whole. An abort (SIM_ASSERT) removes every
 * temporary file and directory open at the time.
 */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "test.h"

static char dir[256];

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Files in dir (the temporary files must be gone). */
static int n_files(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 0", dir);
    return system(cmd) == 0 ? 0 : 1;
}

TEST(commit_writes_the_target)
{
    char path[300];
    snprintf(path, sizeof path, "%s/ok.txt", dir);
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    ASSERT_EQ(sim_afile_open(&a, path, &err), 0);
    ASSERT_TRUE(!exists(path)); /* not before commit */
    fprintf(a.f, "hello\n");
    ASSERT_EQ(sim_afile_commit(&a, &err), 0);
    FILE *f = fopen(path, "r");
    char  line[16] = "";
    ASSERT_TRUE(f && fgets(line, sizeof line, f));
    fclose(f);
    ASSERT_STR_CONTAINS(line, "hello");
    ASSERT_EQ(unlink(path), 0);
    ASSERT_EQ(n_files(), 0);
}

/* Open an atomic file DIR/name (its path into path[n]) whose writes go to /dev/full instead of
 * its temporary file: every write fails with ENOSPC. Fails the test when it cannot. */
static void open_on_full_device(struct sim_afile *a, char *path, size_t n, const char *name)
{
    struct sim_msg err = {{0}};
    snprintf(path, n, "%s/%s", dir, name);
    if (sim_afile_open(a, path, &err))
        TEST_FAIL_("sim_afile_open: %s", err.text);
    fclose(a->f);
    a->f = fopen("/dev/full", "w");
    ASSERT_TRUE(a->f != NULL);
}

TEST(full_device_reports_enospc_and_the_path)
{
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    char             path[300];
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    open_on_full_device(&a, path, sizeof path, "full.txt");
    for (int i = 0; i < 10000; i++)
        fprintf(a.f, "row %d of a file that does not fit\n", i);
    ASSERT_EQ(sim_afile_commit(&a, &err), SIM_EIO);
    char want[400];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(ENOSPC));
    ASSERT_STR_CONTAINS(err.text, want);
    ASSERT_TRUE(!exists(path));
    ASSERT_EQ(n_files(), 0);
}

TEST(failed_rename_names_the_target)
{
    char path[300];
    snprintf(path, sizeof path, "%s/taken", dir);
    ASSERT_EQ(mkdir(path, 0755), 0); /* a directory where the file should go */
    char sub[320];
    snprintf(sub, sizeof sub, "%s/x", path);
    ASSERT_EQ(mkdir(sub, 0755), 0); /* not empty: rename of a file onto it fails */
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    ASSERT_EQ(sim_afile_open(&a, path, &err), 0);
    fprintf(a.f, "x\n");
    ASSERT_EQ(sim_afile_commit(&a, &err), SIM_EIO);
    char want[400];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(EISDIR));
    ASSERT_STR_CONTAINS(err.text, want);
    ASSERT_EQ(rmdir(sub), 0);
    ASSERT_EQ(rmdir(path), 0);
    ASSERT_EQ(n_files(), 0);
}

TEST(discard_leaves_nothing)
{
    char path[300];
    snprintf(path, sizeof path, "%s/gone.txt", dir);
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    ASSERT_EQ(sim_afile_open(&a, path, &err), 0);
    fprintf(a.f, "partial\n");
    sim_afile_discard(&a);
    sim_afile_discard(&a); /* an emptied struct is fine */
    ASSERT_TRUE(!exists(path));
    ASSERT_EQ(n_files(), 0);
}

TEST(open_in_a_missing_directory_names_the_path)
{
    char path[300];
    snprintf(path, sizeof path, "%s/no/such/dir.txt", dir);
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    ASSERT_EQ(sim_afile_open(&a, path, &err), SIM_EIO);
    ASSERT_STR_CONTAINS(err.text, path);
    ASSERT_TRUE(a.f == NULL && a.path == NULL && a.tmp == NULL);
}

TEST(large_write_keeps_its_cause)
{
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    char             path[300];
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    open_on_full_device(&a, path, sizeof path, "big.bin");
    /* Larger than stdio's buffer: written at once, and nothing is left for fflush to retry. */
    static char big[1 << 17];
    ASSERT_EQ(sim_afile_write(&a, big, sizeof big), SIM_EIO);
    ASSERT_EQ(sim_afile_commit(&a, &err), SIM_EIO);
    char want[400];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(ENOSPC));
    ASSERT_STR_CONTAINS(err.text, want);
    ASSERT_EQ(n_files(), 0);
}

/* Write file name of set d with one line of text, and commit it there. */
static void set_file(struct sim_afile_dir *d, const char *name, const char *text)
{
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    if (sim_afile_open_in(&a, d, name, &err))
        TEST_FAIL_("%s", err.text);
    fprintf(a.f, "%s\n", text);
    if (sim_afile_commit(&a, &err))
        TEST_FAIL_("%s", err.text);
}

static int has_line(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char  line[64] = "";
    int   ok = f && fgets(line, sizeof line, f) && !strncmp(line, text, strlen(text));
    if (f)
        fclose(f);
    return ok;
}

TEST(set_appears_whole_and_replaces_an_earlier_one)
{
    char path[300], file[400];
    snprintf(path, sizeof path, "%s/run", dir);
    struct sim_afile_dir d;
    struct sim_msg       err = {{0}};
    ASSERT_EQ(sim_afile_dir_open(&d, path, &err), 0);
    set_file(&d, "a.csv", "first");
    set_file(&d, "b.json", "first");
    ASSERT_TRUE(!exists(path)); /* not before the set is committed */
    ASSERT_EQ(sim_afile_dir_commit(&d, &err), 0);
    snprintf(file, sizeof file, "%s/a.csv", path);
    ASSERT_TRUE(has_line(file, "first"));

    /* Again, with one file only: the earlier set goes, b.json with it. */
    ASSERT_EQ(sim_afile_dir_open(&d, path, &err), 0);
    set_file(&d, "a.csv", "second");
    snprintf(file, sizeof file, "%s/a.csv", path);
    ASSERT_TRUE(has_line(file, "first")); /* the earlier set stays until the commit */
    ASSERT_EQ(sim_afile_dir_commit(&d, &err), 0);
    ASSERT_TRUE(has_line(file, "second"));
    snprintf(file, sizeof file, "%s/b.json", path);
    ASSERT_TRUE(!exists(file));
    snprintf(file, sizeof file, "%s/a.csv", path);
    ASSERT_EQ(unlink(file), 0);
    ASSERT_EQ(rmdir(path), 0);
    ASSERT_EQ(n_files(), 0);
}

TEST(discarded_set_leaves_nothing)
{
    char path[300];
    snprintf(path, sizeof path, "%s/gone", dir);
    struct sim_afile_dir d;
    struct sim_afile     open_one;
    struct sim_msg       err = {{0}};
    ASSERT_EQ(sim_afile_dir_open(&d, path, &err), 0);
    set_file(&d, "done.csv", "x");
    ASSERT_EQ(sim_afile_open_in(&open_one, &d, "open.csv", &err), 0);
    sim_afile_discard(&open_one);
    sim_afile_dir_discard(&d);
    sim_afile_dir_discard(&d); /* an emptied struct is fine */
    ASSERT_EQ(n_files(), 0);
}

TEST(abort_removes_every_temporary)
{
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) { /* a writer with a file, a set holding a committed and an open file */
        char path[300];
        snprintf(path, sizeof path, "%s/lone.csv", dir);
        struct sim_afile     a, b;
        struct sim_afile_dir d;
        struct sim_msg       err;
        if (sim_afile_open(&a, path, &err))
            _exit(2);
        fprintf(a.f, "x\n");
        fflush(a.f);
        snprintf(path, sizeof path, "%s/set", dir);
        if (sim_afile_dir_open(&d, path, &err))
            _exit(2);
        set_file(&d, "done.csv", "x");
        if (sim_afile_open_in(&b, &d, "open.csv", &err))
            _exit(2);
        freopen("/dev/null", "w", stderr); /* the assertion's message is expected */
        SIM_ASSERT(!"a broken invariant");
        _exit(3);
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    ASSERT_EQ(n_files(), 0);
}

/* A killed worker's leftovers: path's own temporary versions go (a set directory with files, a
 * file), nothing else: not path itself, not a longer or shorter suffix, not another name's. */
TEST(remove_stale_takes_only_path_temporaries)
{
    static const char *const keep[] = {
        "run",          "run.tmp",        "run.tmpABCDE", "run.tmpABCDEFG", "runx.tmpABCDEF",
        "ru.tmpABCDEF", "other.tmpABCDEF"};
    char p[400];
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
        FILE *f = fopen(p, "w");
        ASSERT_TRUE(f != NULL);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/run.tmpQ1w2E3", dir); /* a set directory, two files in it */
    ASSERT_EQ(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/run.tmpQ1w2E3/requests.csv.tmpzzzzzz", dir);
    fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/run.tmpQ1w2E3/summary.json", dir);
    fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/run.tmpR4t5Y6", dir); /* a file */
    fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/run", dir);
    ASSERT_EQ(sim_afile_remove_stale(p), 2);
    snprintf(p, sizeof p, "%s/run.tmpQ1w2E3", dir);
    ASSERT_TRUE(!exists(p));
    snprintf(p, sizeof p, "%s/run.tmpR4t5Y6", dir);
    ASSERT_TRUE(!exists(p));
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
        ASSERT_TRUE(exists(p));
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/run", dir);
    ASSERT_EQ(sim_afile_remove_stale(p), 0); /* nothing left: nothing removed */
    ASSERT_EQ(n_files(), 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lensim_test_afile_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(commit_writes_the_target);
    RUN(full_device_reports_enospc_and_the_path);
    RUN(failed_rename_names_the_target);
    RUN(discard_leaves_nothing);
    RUN(open_in_a_missing_directory_names_the_path);
    RUN(large_write_keeps_its_cause);
    RUN(set_appears_whole_and_replaces_an_earlier_one);
    RUN(discarded_set_leaves_nothing);
    RUN(abort_removes_every_temporary);
    RUN(remove_stale_takes_only_path_temporaries);
    rmdir(dir);
    return test_main_end();
}
