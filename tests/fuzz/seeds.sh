#!/bin/sh
# seeds.sh [DATA]: regenerate the derived seeds of corpus/ (exp-*, data-*) from experiments/*.yaml
# and the first 20 rows of the shared traces under DATA (default ../shared/data from the source
# root). The hand-made seeds (every other file) are kept. See README.md for the input layouts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${1:-$root/../shared/data}
c=$here/corpus
rm -f "$c"/*/exp-* "$c"/*/data-*

# Experiments: cfg and run take a --set line, then the file.
sets="workload.rate=2 engine.memory=paged policy=sjf cluster.replicas=2 predictor.sigma=0.1"
set -- $sets
for f in "$root"/experiments/*.yaml; do
    b=$(basename "$f" .yaml)
    { echo; cat "$f"; } > "$c/cfg/exp-$b"
    { echo "$1"; cat "$f"; } > "$c/cfg/exp-$b-set"
    { echo "$1"; cat "$f"; } > "$c/run/exp-$b"
    # The run target reads its files from the input (#---file): give each its kind of file.
    if grep -q '^compat: ssjf' "$f" && [ -d "$data/predictions" ]; then
        echo '#---file' >> "$c/run/exp-$b"
        head -n 41 "$data/predictions/ssjf_lmsys_vicuna13b/predictions_warmup_multi_cls_1000K.csv" \
            >> "$c/run/exp-$b"
    elif grep -q 'source: azure' "$f" && [ -d "$data/traces" ]; then
        echo '#---file' >> "$c/run/exp-$b"
        head -n 21 "$data/traces/azure2023/AzureLLMInferenceTrace_conv.csv" >> "$c/run/exp-$b"
    fi
    shift; [ $# -gt 0 ] || set -- $sets
done

t=$data/traces
if [ ! -d "$t" ]; then
    echo "seeds.sh: no data directory at $data: only the experiment seeds were made" >&2
    exit 0
fi
head20() { head -n 21 "$1"; } # the header and 20 rows
# Traces: the first line holds the reader options (fuzz_trace.c): format, skip_bad, max_requests,
# window, caps, rate_scale, arrival, rate, cv.
{ echo 00000000000; head20 "$t/azure2023/AzureLLMInferenceTrace_conv.csv"; } > "$c/trace/data-azure-conv-auto"
{ echo 11500980014; head20 "$t/azure2023/AzureLLMInferenceTrace_code.csv"; } > "$c/trace/data-azure-code"
{ echo 20000000000; head -n 20 "$t/mooncake/conversation_trace.jsonl"; } > "$c/trace/data-mooncake-conv"
{ echo 60070000000; head -n 5 "$t/mooncake/synthetic_trace.jsonl"; } > "$c/trace/data-mooncake-synth-auto"
{ echo 30000000111; head20 "$t/lengths_only/sharegpt_8k_filtered_stats_llama2_tokenizer.csv"; } > "$c/trace/data-lengths-sharegpt"
{ echo 01000000222; head20 "$t/lengths_only/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv"; } > "$c/trace/data-lengths-arxiv-auto"
{ echo 51900000000; head20 "$t/lengths_only/bwb_stats_llama2_tokenizer_filtered_v2.csv"; } > "$c/trace/data-empirical-bwb"
# Runs over trace and prediction files.
{ echo "engine.memory=paged"; printf 'name: mc\nworkload: {source: mooncake, path: x}\n#---file\n'; head -n 20 "$t/mooncake/conversation_trace.jsonl"; } > "$c/run/data-mooncake-conv"
{ echo; printf 'name: len\nworkload: {source: lengths, path: x, rate: 4}\n#---file\n'; head20 "$t/lengths_only/sharegpt_8k_filtered_stats_llama2_tokenizer.csv"; } > "$c/run/data-lengths-sharegpt"
{ echo; printf 'name: empirical\nworkload: {lengths: empirical, lengths_path: x, requests: 15}\n#---file\n'; head20 "$t/lengths_only/bwb_stats_llama2_tokenizer_filtered_v2.csv"; } > "$c/run/data-empirical-bwb"
