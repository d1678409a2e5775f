/*
 * test_sim.c: the shared helpers of base/sim.h that read or echo user input.
 *
 * - sim_parse_u64 takes decimal digits only, in [0, max]: no sign (strtoul would wrap "-1" to
 *   the largest value), no space, no base prefix, no trailing text, no overflow.
 * - sim_escape writes control bytes, DEL and every byte from 0x80 as \xNN, keeps printable ASCII
 *   as it is, and cuts with "..." at any buffer size, always NUL-terminated.
 * - sim_msg_set and the log functions pass what they print through sim_escape, so a message that
 *   quotes input cannot carry raw bytes to a terminal.
 * - sim_open_input refuses a directory as invalid input and a missing file as SIM_ENOENT.
 */
#include "sim.h"
#include "test.h"

TEST(parse_u64_digits_only)
{
    uint64_t v = 7;
    ASSERT_EQ(sim_parse_u64("0", 10, &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(sim_parse_u64("10", 10, &v), 0);
    ASSERT_EQ(v, 10);
    ASSERT_EQ(sim_parse_u64("007", 10, &v), 0);
    ASSERT_EQ(v, 7);
    ASSERT_EQ(sim_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    ASSERT_TRUE(v == UINT64_MAX);
    static const char *const bad[] = {"",
                                      "-1",
                                      "-0",
                                      "+1",
                                      " 1",
                                      "1 ",
                                      "0x10",
                                      "1e3",
                                      "1.",
                                      "11",
                                      "1,2",
                                      "abc",
                                      "-18446744073709551615"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        if (sim_parse_u64(bad[i], 10, &v) != -1 || v != 7)
            TEST_FAIL_("'%s' was accepted (%llu)", bad[i], (unsigned long long)v);
    }
    ASSERT_EQ(sim_parse_u64("18446744073709551616", UINT64_MAX, &v), -1); /* overflow */
    ASSERT_EQ(sim_parse_u64("99999999999999999999999", UINT64_MAX, &v), -1);
    ASSERT_EQ(sim_parse_u64(NULL, 10, &v), -1);
}

TEST(escape)
{
    char out[64];
    ASSERT_TRUE(
        !strcmp(sim_escape("plain 'text' \"q\" \\", out, sizeof out), "plain 'text' \"q\" \\"));
    ASSERT_TRUE(!strcmp(sim_escape("caf\xc3\xa9\x1b[2J\t\x7f\n", out, sizeof out),
                        "caf\\xc3\\xa9\\x1b[2J\\x09\\x7f\\x0a"));
    /* Every size cuts cleanly: NUL-terminated, no half escape, "..." when cut. */
    const char *in = "ab\xff"
                     "cd\xfe"
                     "ef";
    const char *full = "ab\\xffcd\\xfeef";
    for (size_t n = 1; n <= strlen(full) + 2; n++) {
        char buf[64];
        memset(buf, 'Z', sizeof buf);
        sim_escape(in, buf, n);
        size_t len = strlen(buf);
        ASSERT_TRUE(len < n);
        if (n > strlen(full)) {
            ASSERT_TRUE(!strcmp(buf, full));
        } else if (n >= 4) {
            ASSERT_TRUE(len >= 3 && !strcmp(buf + len - 3, "..."));
            ASSERT_TRUE(!strncmp(buf, full, len - 3));
            ASSERT_TRUE(len - 3 == 0 || buf[len - 4] != '\\');
        }
    }
}

TEST(messages_are_escaped)
{
    struct sim_msg m;
    ASSERT_EQ(sim_msg_set(&m, SIM_ECONFIG, "%s: bad value '%s'", "--x",
                          "\xe2\x80\xae"
                          "evil\r"),
              SIM_ECONFIG);
    ASSERT_TRUE(!strcmp(m.text, "--x: bad value '\\xe2\\x80\\xaeevil\\x0d'"));
    /* A message that already holds escapes is left as it is. */
    char copy[sizeof m.text];
    snprintf(copy, sizeof copy, "%s", m.text);
    sim_msg_set(&m, SIM_ECONFIG, "%s", copy);
    ASSERT_TRUE(!strcmp(m.text, copy));
    /* A long message is cut, not overrun. */
    char big[2000];
    memset(big, '\x80', sizeof big - 1);
    big[sizeof big - 1] = 0;
    sim_msg_set(&m, SIM_EINPUT, "%s", big);
    ASSERT_TRUE(strlen(m.text) < sizeof m.text);
    ASSERT_TRUE(!strncmp(m.text, "\\x80\\x80", 8));
}

/* A directory where a file is read is invalid input (exit status 2, like a missing file), not a
 * read error (3): "path: is a directory, not a file". */
TEST(open_input)
{
    FILE          *f = (FILE *)1;
    struct sim_msg m = {{0}};
    ASSERT_EQ(sim_open_input("/", &f, &m), SIM_EINPUT);
    ASSERT_TRUE(f == NULL);
    ASSERT_TRUE(!strcmp(m.text, "/: is a directory, not a file"));
    ASSERT_EQ(sim_open_input("/nonexistent/x", &f, &m), SIM_ENOENT);
    ASSERT_TRUE(f == NULL);
    ASSERT_TRUE(!strcmp(m.text, "/nonexistent/x: No such file or directory"));
    ASSERT_EQ(sim_open_input("/dev/null", &f, &m), SIM_OK);
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fgetc(f), EOF);
    fclose(f);
}

int main(void)
{
    RUN(parse_u64_digits_only);
    RUN(escape);
    RUN(messages_are_escaped);
    RUN(open_input);
    return test_main_end();
}
