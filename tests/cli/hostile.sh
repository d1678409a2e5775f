#!/bin/bash
# hostile.sh LENSIM: inputs a hostile or careless user would give (issue 15), each with the exit
# status and message it must get, and nothing written where it must not be:
# - a sweep key that is not a scalar; an experiment name that leaves results/; `--set name=`;
# - a profile with infinite or absurd KV sizes (named by key and value, not "no KV memory");
# - negative integers where lensim reads integers (predictor edges, replay files, options);
# - `trace stats /dev/zero` ends at once; bytes >= 0x80 and control bytes in echoed input are
#   escaped;
# - paths: an -o longer than lensim can hold is refused, not cut; `calibrate --csv P -o P` (or
#   an -o whose default CSV is itself) is refused; calibrate checks its outputs before the sweep
#   and names the option in errors; a directory given as a file is 2 from every command.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

# Each check runs under a time limit: a hang is a failure, not a stuck test.
T="timeout 20"

printf 'name: x\nsweep: {[a]: [1]}\n' > sweep-key.yaml
expect "sweep key not a scalar" 2 stderr "sweep-key.yaml:2:9: sweep: keys must be plain words" -- \
    $T "$L" run -q -o o-sweep sweep-key.yaml

# The name is the results directory: it may not climb out of results/ nor be empty.
mkdir -p deep/er
printf 'name: "../../escape_dir"\nworkload: {requests: 5}\n' > escape.yaml
(cd deep/er && $T "$L" run -q ../../escape.yaml > ../../out.txt 2> ../../err.txt)
status=$?
if [ $status -ne 2 ]; then
    fail "escaping name: exit status $status, want 2"
elif ! grep -qF "escape.yaml:1:7: name: '../../escape_dir' is not a directory name" err.txt; then
    fail "escaping name: $(cat err.txt)"
elif [ -e escape_dir ] || [ -e deep/escape_dir ] || [ -e deep/er/results ]; then
    fail "escaping name: wrote $(find . -name 'escape_dir*' | head -3)"
else
    ok "escaping name"
fi
printf 'name: ok\nworkload: {requests: 5}\n' > ok.yaml
expect "--set name= (empty)" 2 stderr "lensim run: --set: name: missing value" -- \
    $T "$L" run -q --set name= ok.yaml
[ -e results ] && fail "--set name= wrote results/: $(ls results)"
expect "--set name=../x" 2 stderr "--set: name: '../x' is not a directory name" -- \
    $T "$L" run -q --set name=../x ok.yaml

# KV sizes that do not convert to a token count.
profile() { # KV_BYTES_PER_TOKEN KV_CAPACITY_BYTES
    printf 'format: lensim-profile/1\nmodel: tiny\nbackend: cpu\ntp: 1\nlatency:\n  pieces:\n'
    printf '    - max_tokens: .inf\n      const: 1e-3\n      decode_seqs: 1e-5\n'
    printf 'memory:\n  kv_bytes_per_token: %s\n  kv_capacity_bytes: %s\n' "$1" "$2"
}
profile 8192 .inf > inf.yaml
profile 8192 1e300 > huge.yaml
profile 1e-300 1e9 > tiny-kvb.yaml
for p in inf huge tiny-kvb; do
    printf 'name: kv\nmodel: tiny\nworkload: {requests: 5}\nperf: {profile: %s.yaml}\n' $p > kv-$p.yaml
done
expect "profile: infinite KV capacity" 2 stderr "inf.yaml:12: kv_capacity_bytes: inf is out of range" -- \
    $T "$L" run -q -o o-kv kv-inf.yaml
expect "profile: huge KV capacity" 2 stderr "huge.yaml:12: kv_capacity_bytes: 1e+300 is out of range" -- \
    $T "$L" run -q -o o-kv kv-huge.yaml
expect "profile: tiny KV bytes per token" 2 stderr \
    "tiny-kvb.yaml:11: kv_bytes_per_token: 1e-300 is out of range" -- \
    $T "$L" run -q -o o-kv kv-tiny-kvb.yaml

# Negative integers are refused, never wrapped.
expect "predictor.edges=-1" 2 stderr "predictor.edges: expected increasing token counts" -- \
    $T "$L" run -q -o o-neg --set predictor.edges=-1 ok.yaml
expect "predictor.edges wrapping to 1" 2 stderr "predictor.edges: expected increasing token counts" -- \
    $T "$L" run -q -o o-neg --set predictor.edges=-18446744073709551615 ok.yaml
printf 'id,predicted_tokens\n0,-18446744073709551615\n' > replay.csv
printf 'name: r\nworkload: {requests: 5}\npredictor: {name: replay, path: replay.csv}\n' > replay.yaml
expect "replay: negative tokens" 2 stderr "replay.csv:2: predicted_tokens: expected 1..10^7" -- \
    $T "$L" run -q -o o-neg replay.yaml
printf 'edges: 100 -18446744073709551615\n1 0\n0 1\n' > confusion.txt
printf 'name: c\nworkload: {requests: 5}\npredictor: {name: confusion, path: confusion.txt}\n' > conf.yaml
expect "confusion: negative edge" 2 stderr "confusion.txt:1: edges must be increasing positive" -- \
    $T "$L" run -q -o o-neg conf.yaml
expect "trace stats --max-requests ' -1'" 2 stderr "--max-requests: bad value ' -1'" -- \
    $T "$L" trace stats synthetic --max-requests " -1"
expect "trace stats --seed -1" 2 stderr "--seed: bad value '-1'" -- \
    $T "$L" trace stats synthetic --seed=-1
expect "kcheck --seed -1" 2 stderr "lensim kcheck: --seed: '-1' is not a whole number" -- \
    $T "$L" kcheck --backend cpu --seed -1
expect "kcheck version 2x" 2 stderr "VERSION must be a positive number" -- \
    $T "$L" kcheck --backend cpu gemm 2x
expect "calibrate --tp -1" 2 stderr "lensim calibrate: --tp: '-1' is not" -- \
    $T "$L" calibrate --model tiny -o p.yaml --tp -1
expect "calibrate --points 1.5" 2 stderr "lensim calibrate: --points: '1.5' is not" -- \
    $T "$L" calibrate --model tiny -o p.yaml --points 1.5

# Over-long lines end at once, and echoed bytes are escaped.
expect "trace stats /dev/zero" 2 stderr "/dev/zero:1: line longer than 262144 bytes" -- \
    $T "$L" trace stats /dev/zero
printf 'name: x\nworkload: {requests: 5}\npolicy: "caf\xc3\xa9"\n' > bytes.yaml
expect "escaped bytes in a message" 2 stderr "'caf\\xc3\\xa9' is not one of" -- \
    $T "$L" run -q -o o-bytes bytes.yaml
LC_ALL=C grep -q $'[\x80-\xff]' err.txt && fail "raw bytes on stderr: $(cat -v err.txt)"
expect "escaped control bytes in a message" 2 stderr "'x\\x1b[2J' is not one of" -- \
    $T "$L" run -q -o o-bytes --set $'policy=x\x1b[2J' ok.yaml
LC_ALL=C grep -q $'[\x80-\xff\x1b]' err.txt && fail "raw bytes on stderr: $(cat -v err.txt)"
expect "escaped bytes in an option" 2 stderr "unknown option '--caf\\xc3\\xa9'" -- \
    $T "$L" calibrate $'--caf\xc3\xa9'
expect "escaped bytes in a command" 2 stderr "unknown command 'caf\\xc3\\xa9'" -- \
    $T "$L" $'caf\xc3\xa9'

# Paths: too long is an error, never cut.
long=$(printf 'd%.0s/' $(seq 1 700))x
expect "run -o too long" 2 stderr "-o: path too long" -- $T "$L" run -q -o "$long" ok.yaml
[ -e d ] && fail "run -o too long created $(find d -maxdepth 0) ..."
expect "calibrate -o too long" 2 stderr "-o: path too long" -- \
    $T "$L" calibrate --model tiny --grid quick -q -o "$long.yaml"

# calibrate: its outputs are checked before the sweep, by option.
: > same.csv
expect "calibrate --csv P -o P" 2 stderr "-o and --csv name the same file" -- \
    $T "$L" calibrate --model tiny --grid quick -q -o same.csv --csv same.csv
expect "calibrate --csv ./P -o P" 2 stderr "-o and --csv name the same file" -- \
    $T "$L" calibrate --model tiny --grid quick -q -o new.yaml --csv ./new.yaml
expect "calibrate -o P.csv (default CSV is P.csv)" 2 stderr "-o and --csv name the same file" -- \
    $T "$L" calibrate --model tiny --grid quick -q -o prof.csv
[ -e new.yaml ] || [ -e prof.csv ] && fail "calibrate wrote over its own measurements"
start=$(date +%s)
expect "calibrate -o in a missing directory" 3 stderr "lensim calibrate: -o: nowhere/p.yaml:" -- \
    $T "$L" calibrate --model tiny --grid quick -o nowhere/p.yaml
grep -qF "calibrating" err.txt && fail "calibrate swept before checking -o: $(head -2 err.txt)"
mkdir adir
expect "calibrate -o a directory" 2 stderr "lensim calibrate: -o: adir: is a directory" -- \
    $T "$L" calibrate --model tiny --grid quick -o adir
expect "calibrate --csv a directory" 2 stderr "lensim calibrate: --csv: adir: is a directory" -- \
    $T "$L" calibrate --model tiny --grid quick -o p.yaml --csv adir
[ $(($(date +%s) - start)) -le 5 ] || fail "calibrate output checks took $(($(date +%s) - start)) s"

# A directory given as a file: 2 (invalid input) from every command that reads one.
expect "run: directory as experiment" 2 stderr "adir" -- $T "$L" run -q adir
expect "trace stats: directory as trace" 2 stderr "adir" -- $T "$L" trace stats adir
printf 'name: d\nworkload: {source: csv, path: adir, requests: 5}\n' > dir-trace.yaml
expect "run: directory as trace" 2 stderr "adir" -- $T "$L" run -q -o o-dir dir-trace.yaml
printf 'name: d\nworkload: {requests: 5}\nperf: {profile: adir}\n' > dir-prof.yaml
expect "run: directory as profile" 2 stderr "adir" -- $T "$L" run -q -o o-dir dir-prof.yaml

finish
