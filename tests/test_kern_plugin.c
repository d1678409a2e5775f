/*
 * test_kern_plugin.c (issue 18): in a build with CUDA, the cuda plugin (lensim-cuda.so) loads:
 * every symbol it needs resolves (a C header included from a .cu file without extern "C" once
 * left kern_decode_plan_make mangled and unresolved, and every cuda command then reported the
 * backend missing). Needs no GPU: loading the plugin opens no device. Registered only when the
 * plugin is built.
 */
#include "kern.h"
#include "test.h"

TEST(cuda_plugin_loads)
{
    const char *why = kern_cuda_why();
    if (why)
        TEST_FAIL_("%s", why);
    size_t                     n = 0;
    const struct kern_variant *v = kern_variants(&n);
    int                        cuda = 0;
    for (size_t i = 0; i < n; i++)
        cuda += v[i].backend == KERN_BACKEND_CUDA;
    ASSERT_TRUE(cuda >= 10); /* one row per op at least */
}

int main(void)
{
    RUN(cuda_plugin_loads);
    return test_main_end();
}
