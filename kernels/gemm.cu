/*
 * gemm.cu: the GEMM op on CUDA.
 * Variants: v1 cuBLAS cublasGemmEx, bf16 A/B/C, fp32 compute (CUBLAS_COMPUTE_32F), default
 * algorithm (tensor cores on sm_80+). Row-major C[m][n] = A[m][k] . B[n][k]^T is column-major
 * C^T = B . A^T, i.e. cuBLAS (T, N) with the operands swapped.
 */
#include <cublas_v2.h>

#include "cuda_common.cuh"
#include "kern_cuda.h"

extern "C" int kern_cuda_gemm_v1(const struct kern_ctx *c, const struct kern_gemm_args *a)
{
    if (a->m == 0 || a->n == 0)
        return SIM_OK;
    cublasStatus_t s =
        cublasGemmEx((cublasHandle_t)c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)a->n, (int)a->m,
                     (int)a->k, &a->alpha, a->b, CUDA_R_16BF, (int)a->ldb, a->a, CUDA_R_16BF,
                     (int)a->lda, &a->beta, a->c, CUDA_R_16BF, (int)a->ldc, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "lensim: cublasGemmEx(%u x %u x %u): status %d\n", a->m, a->n, a->k,
                (int)s);
        return SIM_ECUDA;
    }
    return SIM_OK;
}
