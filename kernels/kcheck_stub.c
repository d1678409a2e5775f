/* Placeholder until the kernels land: kcheck reports that no backend is built. */
#include <stdio.h>

#include "kcheck.h"

int kc_kcheck_cmd(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "lensim kcheck: no kernels built yet\n");
    return 77;
}
