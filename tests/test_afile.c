/*
 * test_afile.c: atomic files (base/afile.h): a committed file appears whole; a failed write or
 * rename leaves neither the target nor the temporary file, and the error names the target and
 * the first cause (ENOSPC from a full device, not the EINVAL that fsync on that device gives
 * after it); a discarded file leaves nothing.
 */
#include <errno.h>
#include <sys/stat.h>
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

TEST(full_device_reports_enospc_and_the_path)
{
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    char path[300];
    snprintf(path, sizeof path, "%s/full.txt", dir);
    struct sim_afile a;
    struct sim_msg   err = {{0}};
    ASSERT_EQ(sim_afile_open(&a, path, &err), 0);
    /* Write through /dev/full instead of the temporary file: every write fails with ENOSPC. */
    fclose(a.f);
    a.f = fopen("/dev/full", "w");
    ASSERT_TRUE(a.f != NULL);
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
    rmdir(dir);
    return test_main_end();
}
