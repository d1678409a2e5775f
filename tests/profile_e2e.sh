#!/bin/sh
# profile_e2e.sh LENSIM: calibrate the tiny model on the CPU, then simulate with that profile.
# Checks that the measured profile drives the serving model (the run completes every request,
# its manifest names the profile and its hash), and that a profile for another model is refused
# with a clear message and exit status 2.
set -u
lensim=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$lensim" calibrate --backend cpu --model tiny --grid quick -q -o "$tmp/tiny.yaml" \
    || fail "calibrate exited $?"
[ -s "$tmp/tiny.yaml" ] || fail "no profile written"

cat > "$tmp/exp.yaml" <<YAML
name: tiny-e2e
model: tiny
perf: {profile: $tmp/tiny.yaml, allow_mismatch: true}
workload: {requests: 400, rate: 50, max_prompt_tokens: 500, max_output_tokens: 300}
engine: {max_seq_len: 1024, memory: paged}
YAML
"$lensim" run "$tmp/exp.yaml" -o "$tmp/out" -q || fail "run exited $?"
grep -q '"completed": 400,' "$tmp/out/run/summary.json" || fail "not every request completed"
grep -q 'profile_source: "measured"' "$tmp/out/run/manifest.yaml" || fail "manifest: source"
grep -q "profile: \"$tmp/tiny.yaml\"" "$tmp/out/run/manifest.yaml" || fail "manifest: profile path"

# Issue 12: measured on the CPU, the profile is refused for the experiment's GPU (a100-80gb, the
# default) unless perf.allow_mismatch says so, at the place perf.profile was written.
sed 's/, allow_mismatch: true//' "$tmp/exp.yaml" > "$tmp/dev.yaml"
"$lensim" run "$tmp/dev.yaml" -o "$tmp/dev" -q 2> "$tmp/err"
st=$?
[ $st -eq 2 ] || fail "profile of another device: exit $st, expected 2"
grep -q "dev.yaml:3:.*perf.profile: .*measured on .*allow_mismatch" "$tmp/err" ||
    fail "profile of another device: $(cat "$tmp/err")"
[ -e "$tmp/dev" ] && fail "profile of another device: $tmp/dev was written"

# The same profile for another model must be refused.
sed 's/^model: tiny$/model: llama-2-7b/' "$tmp/dev.yaml" > "$tmp/bad.yaml"
"$lensim" run "$tmp/bad.yaml" -o "$tmp/bad" -q 2> "$tmp/err"
st=$?
[ $st -eq 2 ] || fail "profile for another model: exit $st, expected 2"
grep -q "calibrated for model 'tiny'" "$tmp/err" || fail "message: $(cat "$tmp/err")"
echo "ok: calibrated tiny profile drives a 400-request run"
