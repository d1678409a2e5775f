/*
 * presets.c: model and GPU tables (see presets.h).
 *
 * Model shapes come from each model's public config.json on the Hugging Face hub (keys named in
 * the comments); parameter counts are the model cards' figures or, where a card gives none, the
 * count the shape implies. GPU figures come from NVIDIA's datasheets; memory is the total the
 * driver reports (nvidia-smi), which is what a serving engine can partition.
 */
#include "presets.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MIB (1024.0 * 1024.0)

const struct cal_model cal_models[] = {
    /* EleutherAI/gpt-j-6b: n_layer 28, n_embd 4096, n_head 16 (head 256), n_inner null = 4 x
     * n_embd, vocab_size 50400, n_positions 2048; 6,053,381,344 parameters (model card). */
    {"gpt-j-6b", 28, 4096, 16, 16, 256, 16384, 50400, 2, 2048, 0, 6.053e9},
    /* meta-llama/Llama-2-7b-hf: num_hidden_layers 32, hidden_size 4096, num_attention_heads 32,
     * num_key_value_heads 32, intermediate_size 11008, vocab 32000, max_position 4096; 6.74e9. */
    {"llama-2-7b", 32, 4096, 32, 32, 128, 11008, 32000, 2, 4096, 1, 6.738e9},
    /* meta-llama/Llama-2-13b-hf: 40 layers, 5120, 40 heads, 40 KV heads, 13824, 32000, 4096. */
    {"llama-2-13b", 40, 5120, 40, 40, 128, 13824, 32000, 2, 4096, 1, 13.016e9},
    /* meta-llama/Llama-2-70b-hf: 80 layers, 8192, 64 heads, 8 KV heads (GQA), 28672, 32000. */
    {"llama-2-70b", 80, 8192, 64, 8, 128, 28672, 32000, 2, 4096, 1, 68.977e9},
    /* meta-llama/Meta-Llama-3-8B: 32 layers, 4096, 32 heads, 8 KV heads, 14336, vocab 128256,
     * max_position 8192; 8.03e9. */
    {"llama-3-8b", 32, 4096, 32, 8, 128, 14336, 128256, 2, 8192, 1, 8.030e9},
    /* lmsys/vicuna-13b-v1.3 (LLaMA-13B, the SSJF paper's model): 40 layers, 5120, 40 heads,
     * 13824, vocab 32000, max_position 2048. */
    {"vicuna-13b", 40, 5120, 40, 40, 128, 13824, 32000, 2, 2048, 1, 13.016e9},
    /* facebook/opt-13b: num_hidden_layers 40, hidden_size 5120, num_attention_heads 40,
     * ffn_dim 20480, vocab 50272, max_position 2048 (ReLU MLP). */
    {"opt-13b", 40, 5120, 40, 40, 128, 20480, 50272, 2, 2048, 0, 12.853e9},
    /* facebook/opt-30b: 48 layers, 7168, 56 heads, ffn_dim 28672. */
    {"opt-30b", 48, 7168, 56, 56, 128, 28672, 50272, 2, 2048, 0, 29.975e9},
    /* facebook/opt-66b: 64 layers, 9216, 72 heads, ffn_dim 36864. */
    {"opt-66b", 64, 9216, 72, 72, 128, 36864, 50272, 2, 2048, 0, 65.7e9},
    /* EleutherAI/gpt-neox-20b: 44 layers, 6144, 64 heads (head 96), intermediate 24576, vocab
     * 50432, max_position 2048; 20.55e9 (S3's motivation model). */
    {"gpt-neox-20b", 44, 6144, 64, 64, 96, 24576, 50432, 2, 2048, 0, 20.55e9},
    /* codellama/CodeLlama-34b-Instruct-hf (issue 10: the Vidur workload's model):
     * num_hidden_layers 48, hidden_size 8192, num_attention_heads 64, num_key_value_heads 8,
     * intermediate_size 22016, vocab_size 32000, max_position_embeddings 16384; the count the
     * shape implies: 48 x (2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 22016) + 2 x 32000 x 8192
     * = 33,743,175,680. */
    {"codellama-34b", 48, 8192, 64, 8, 128, 22016, 32000, 2, 16384, 1, 33743175680.0},
    /* A made-up small shape for CPU calibration in CI (hidden 256, 4 layers); the parameter
     * count is what the shape implies: 4 x (4 x 256^2 + 3 x 256 x 1024) + 2 x 1024 x 256. */
    {"tiny", 4, 256, 4, 4, 64, 1024, 1024, 2, 2048, 1, 4718592.0},
    /* issue 11: a made-up shape between tiny and the real ones for live-tiny (make fidelity):
     * iterations about 3 times tiny's on a CPU core, so that the model and not the timer's noise
     * is what the fidelity report tests. 6 x (4 x 384^2 + 3 x 384 x 1536) + 2 x 2048 x 384. */
    {"mini", 6, 384, 6, 6, 64, 1536, 2048, 2, 2048, 1, 15728640.0},
    {0},
};

const struct cal_gpu cal_gpus[] = {
    /* A100 SXM4 40GB datasheet: 1,555 GB/s HBM2, 312 TFLOPS dense BF16/FP16, PCIe 4.0 x16
     * (32 GB/s), NVLink 3 600 GB/s total (300 GB/s per direction); 40,960 MiB. */
    {"a100-40gb", 40960 * MIB, 1555e9, 312e12, 32e9, 300e9},
    /* A100 SXM4 80GB datasheet: 2,039 GB/s HBM2e, 312 TFLOPS; 81,920 MiB. */
    {"a100-80gb", 81920 * MIB, 2039e9, 312e12, 32e9, 300e9},
    /* H100 SXM5 80GB datasheet: 3.35 TB/s HBM3, 989 TFLOPS dense BF16, PCIe 5.0 x16 (64 GB/s),
     * NVLink 4 900 GB/s total; 81,559 MiB. */
    {"h100-80gb", 81559 * MIB, 3.35e12, 989e12, 64e9, 450e9},
    /* H200 SXM datasheet: 141 GB HBM3e at 4.8 TB/s, 989 TFLOPS dense BF16; 143,771 MiB. */
    {"h200", 143771 * MIB, 4.8e12, 989e12, 64e9, 450e9},
    {0},
};

const struct cal_model *cal_model_find(const char *name)
{
    for (const struct cal_model *m = cal_models; m->name; m++)
        if (!strcasecmp(m->name, name))
            return m;
    return NULL;
}

const struct cal_gpu *cal_gpu_find(const char *name)
{
    for (const struct cal_gpu *g = cal_gpus; g->name; g++)
        if (!strcasecmp(g->name, name))
            return g;
    return NULL;
}

/* Join the names of a NULL-name-terminated table whose entries are `stride` bytes apart and
 * start with their name. */
_Static_assert(offsetof(struct cal_model, name) == 0 && offsetof(struct cal_gpu, name) == 0,
               "join_names reads an entry's name at its start");
static char *join_names(const void *table, size_t stride, char *buf, size_t n, const char *sep)
{
    size_t len = 0;
    buf[0] = 0;
    for (const char *p = table; len < n; p += stride) {
        const char *name = *(const char *const *)p;
        if (!name)
            break;
        int k = snprintf(buf + len, n - len, "%s%s", len ? sep : "", name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    return buf;
}

char *cal_model_names(char *buf, size_t n, const char *sep)
{
    return join_names(cal_models, sizeof *cal_models, buf, n, sep);
}

char *cal_gpu_names(char *buf, size_t n, const char *sep)
{
    return join_names(cal_gpus, sizeof *cal_gpus, buf, n, sep);
}

/* Whether the n characters at s appear in hay, case-insensitive. */
static int contains(const char *hay, const char *s, size_t n)
{
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)s[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

const struct cal_gpu *cal_gpu_find_device(const char *device)
{
    const struct cal_gpu *first = NULL;
    for (const struct cal_gpu *g = cal_gpus; g->name; g++) {
        const char *dash = strchr(g->name, '-');
        size_t      family = dash ? (size_t)(dash - g->name) : strlen(g->name);
        if (!family || !contains(device, g->name, family))
            continue;
        if (dash && contains(device, dash + 1, strlen(dash + 1)))
            return g;
        if (!first)
            first = g;
    }
    return first;
}

double cal_model_kv_bytes_per_token(const struct cal_model *m)
{
    return 2.0 * m->layers * m->kv_heads * m->head_dim * m->dtype_bytes;
}

double cal_model_weight_bytes(const struct cal_model *m) { return m->n_params * m->dtype_bytes; }
