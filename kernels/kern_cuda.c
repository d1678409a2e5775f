/*
 * kern_cuda.c: the CUDA device (see kern_internal.h), in C over the CUDA runtime and cuBLAS C
 * APIs: one stream, one cuBLAS handle bound to it, a pair of events for timing, a buffer of twice
 * the L2 for flushing (by reading it), and graph capture of a prepared iteration.
 * Every CUDA and cuBLAS status is checked (R8): failures become SIM_ECUDA, with the CUDA error
 * string logged once at the failing call.
 */
#include <stdio.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "alloc.h"
#include "kern_cuda.h"
#include "kern_internal.h"

struct cuda_state {
    cudaStream_t          stream;
    cublasHandle_t        blas;
    cudaEvent_t           ev0, ev1;
    void                 *flush;
    size_t                flush_bytes;
    void                 *blas_ws;
    struct cudaDeviceProp prop;
};

#define CU(call)                                                                             \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        if (e_ != cudaSuccess) {                                                             \
            sim_log_err("%s:%d: %s: %s", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            return SIM_ECUDA;                                                                \
        }                                                                                    \
    } while (0)

static struct cuda_state *st(const kern_backend_t *b) { return b->dev_state; }

int kern__cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no device: clear the sticky-free error */
        return 0;
    }
    return n;
}

int kern__cuda_mem(int device, size_t *free_bytes, size_t *total_bytes)
{
    if (device < 0 || device >= kern__cuda_device_count())
        return SIM_ENODEV;
    CU(cudaSetDevice(device));
    CU(cudaMemGetInfo(free_bytes, total_bytes));
    return SIM_OK;
}

static int cuda_init(kern_backend_t *b, struct sim_msg *err)
{
    int n = kern__cuda_device_count();
    if (n == 0)
        return sim_msg_set(err, SIM_ENODEV, "no CUDA device present");
    if (b->o.device < 0 || b->o.device >= n)
        return sim_msg_set(err, SIM_ENODEV, "CUDA device %d does not exist (%d present)",
                           b->o.device, n);
    struct cuda_state *s = sim_calloc(1, sizeof *s);
    if (!s)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    b->dev_state = s;
    int rc = SIM_OK;
    if (cudaSetDevice(b->o.device) != cudaSuccess ||
        cudaGetDeviceProperties(&s->prop, b->o.device) != cudaSuccess ||
        cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking) != cudaSuccess ||
        cudaEventCreate(&s->ev0) != cudaSuccess || cudaEventCreate(&s->ev1) != cudaSuccess)
        rc = sim_msg_set(err, SIM_ECUDA, "CUDA device %d: %s", b->o.device,
                         cudaGetErrorString(cudaGetLastError()));
    if (!rc && cublasCreate(&s->blas) != CUBLAS_STATUS_SUCCESS)
        rc = sim_msg_set(err, SIM_ECUDA, "cublasCreate failed");
    /* cuBLAS gets its own workspace so that its calls can be captured in a graph (it must not
     * allocate while a stream is capturing). 32 MiB covers Hopper's recommendation. */
    s->flush_bytes = 2 * (size_t)(s->prop.l2CacheSize > 0 ? s->prop.l2CacheSize : (8 << 20));
    if (!rc && (cudaMalloc(&s->blas_ws, (size_t)32 << 20) != cudaSuccess ||
                cudaMalloc(&s->flush, s->flush_bytes) != cudaSuccess))
        rc = sim_msg_set(err, SIM_ENOMEM, "cannot allocate cuBLAS workspace and flush buffer");
    if (!rc &&
        (cublasSetStream(s->blas, s->stream) != CUBLAS_STATUS_SUCCESS ||
         cublasSetWorkspace(s->blas, s->blas_ws, (size_t)32 << 20) != CUBLAS_STATUS_SUCCESS ||
         cublasSetMathMode(s->blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS))
        rc = sim_msg_set(err, SIM_ECUDA, "cuBLAS setup failed");
    if (!rc)
        kern_cuda_attn_decode_warm(); /* issue 18: not inside a later graph capture */
    b->ctx.backend = KERN_BACKEND_CUDA;
    b->ctx.stream = s->stream;
    b->ctx.blas = s->blas;
    b->ctx.n_sm = s->prop.multiProcessorCount;
    return rc;
}

static void cuda_fini(kern_backend_t *b)
{
    struct cuda_state *s = st(b);
    if (!s)
        return;
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    if (s->blas)
        cublasDestroy(s->blas);
    cudaFree(s->blas_ws);
    cudaFree(s->flush);
    if (s->ev0)
        cudaEventDestroy(s->ev0);
    if (s->ev1)
        cudaEventDestroy(s->ev1);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    sim_free(s);
    b->dev_state = NULL;
}

static int cuda_alloc(kern_backend_t *b, void **p, size_t bytes)
{
    (void)b;
    if (cudaMalloc(p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        *p = NULL;
        return SIM_ENOMEM;
    }
    return SIM_OK;
}

static void cuda_free(kern_backend_t *b, void *p)
{
    (void)b;
    if (p)
        cudaFree(p);
}

static int cuda_alloc_host(kern_backend_t *b, void **p, size_t bytes)
{
    (void)b;
    if (cudaMallocHost(p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        *p = NULL;
        return SIM_ENOMEM;
    }
    return SIM_OK;
}

static void cuda_free_host(kern_backend_t *b, void *p)
{
    (void)b;
    if (p)
        cudaFreeHost(p);
}

static int cuda_h2d(kern_backend_t *b, void *dst, const void *src, size_t n)
{
    CU(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, st(b)->stream));
    CU(cudaStreamSynchronize(st(b)->stream));
    return SIM_OK;
}

static int cuda_d2h(kern_backend_t *b, void *dst, const void *src, size_t n)
{
    CU(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, st(b)->stream));
    CU(cudaStreamSynchronize(st(b)->stream));
    return SIM_OK;
}

static int cuda_d2d(kern_backend_t *b, void *dst, const void *src, size_t n)
{
    CU(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, st(b)->stream));
    return SIM_OK;
}

static int cuda_fill(kern_backend_t *b, void *p, size_t n, uint64_t seed, float scale, float off)
{
    return kern_cuda_fill_bf16(p, n, seed, scale, off, st(b)->stream);
}

static int cuda_sync(kern_backend_t *b)
{
    CU(cudaStreamSynchronize(st(b)->stream));
    CU(cudaGetLastError());
    return SIM_OK;
}

static int cuda_timer_start(kern_backend_t *b)
{
    CU(cudaEventRecord(st(b)->ev0, st(b)->stream));
    return SIM_OK;
}

static int cuda_timer_stop(kern_backend_t *b, double *s)
{
    struct cuda_state *c = st(b);
    float              ms = 0;
    CU(cudaEventRecord(c->ev1, c->stream));
    CU(cudaEventSynchronize(c->ev1));
    CU(cudaEventElapsedTime(&ms, c->ev0, c->ev1));
    *s = ms * 1e-3;
    return SIM_OK;
}

/* Issue 18: by reading, not by memset: a memset leaves 2 x L2 of dirty lines whose write-back
 * would fall inside the next timed interval; the read leaves clean lines, and the dirty lines of
 * earlier work are written back while it runs, before the timer starts. */
static int cuda_flush(kern_backend_t *b)
{
    struct cuda_state *c = st(b);
    return kern_cuda_l2_flush(c->flush, c->flush_bytes, c->stream);
}

static void cuda_info(const kern_backend_t *b, struct kern_info *out)
{
    const struct cuda_state *c = st(b);
    snprintf(out->device, sizeof out->device, "%.127s", c->prop.name);
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    snprintf(out->driver, sizeof out->driver, "CUDA %d.%d (driver API)", drv / 1000,
             (drv % 1000) / 10);
    snprintf(out->runtime, sizeof out->runtime, "%d.%d", rt / 1000, (rt % 1000) / 10);
    snprintf(out->blas, sizeof out->blas, "cublas");
    out->l2_bytes = (size_t)c->prop.l2CacheSize;
    out->n_sm = c->prop.multiProcessorCount;
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
        out->mem_free = fr;
        out->mem_total = tot;
    }
}

static int cuda_graph_capture(kern_backend_t *b, int (*fn)(kern_backend_t *), void **graph)
{
    struct cuda_state *c = st(b);
    cudaGraph_t        g = NULL;
    cudaGraphExec_t    ge = NULL;
    *graph = NULL;
    CU(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    int         rc = fn(b);
    cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    if (rc || e != cudaSuccess) {
        if (g)
            cudaGraphDestroy(g);
        cudaGetLastError();
        return rc ? rc : SIM_ECUDA;
    }
    e = cudaGraphInstantiate(&ge, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return SIM_ECUDA;
    }
    *graph = ge;
    return SIM_OK;
}

static int cuda_graph_launch(kern_backend_t *b, void *graph)
{
    CU(cudaGraphLaunch((cudaGraphExec_t)graph, st(b)->stream));
    return SIM_OK;
}

static void cuda_graph_drop(kern_backend_t *b, void *graph)
{
    (void)b;
    if (graph)
        cudaGraphExecDestroy((cudaGraphExec_t)graph);
}

const struct kern__dev kern__dev_cuda = {
    .name = "cuda",
    .id = KERN_BACKEND_CUDA,
    .elem_bytes = 2,
    .init = cuda_init,
    .fini = cuda_fini,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .alloc_host = cuda_alloc_host,
    .free_host = cuda_free_host,
    .h2d = cuda_h2d,
    .d2h = cuda_d2h,
    .d2d = cuda_d2d,
    .fill = cuda_fill,
    .sync = cuda_sync,
    .timer_start = cuda_timer_start,
    .timer_stop = cuda_timer_stop,
    .flush = cuda_flush,
    .info = cuda_info,
    .graph_capture = cuda_graph_capture,
    .graph_launch = cuda_graph_launch,
    .graph_drop = cuda_graph_drop,
};
