/* gemm_ref.c: triple-loop GEMM, double accumulation (see ref.h). */
#include "ref.h"

#include "sim.h"

void kern_ref_gemm(const struct kern_gemm_args *a)
{
    SIM_ASSERT(a->a && a->b && a->c);
    SIM_ASSERT(a->lda >= a->k && a->ldb >= a->k && a->ldc >= a->n);
    const float *A = a->a, *B = a->b;
    float       *C = a->c;
    for (uint32_t i = 0; i < a->m; i++)
        for (uint32_t j = 0; j < a->n; j++) {
            double s = 0;
            for (uint32_t k = 0; k < a->k; k++)
                s += (double)A[i * a->lda + k] * B[j * a->ldb + k];
            double prev = a->beta != 0 ? a->beta * (double)C[i * a->ldc + j] : 0.0;
            C[i * a->ldc + j] = (float)(a->alpha * s + prev);
        }
}
