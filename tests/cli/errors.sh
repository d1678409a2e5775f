#!/bin/bash
# errors.sh LENSIM: every class of invalid experiment through `lensim run BAD.yaml -o DIR`:
# exit status 2 (3 for a file that cannot be read), the exact `file:line:col: key: message` on
# stderr, and nothing written: the output directory is not even created.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

# check NAME STATUS MESSAGE [lensim run options...] < YAML
check() {
    local name=$1 want_status=$2 want=$3
    shift 3
    cat > "$name.yaml"
    "$L" run "$name.yaml" -o "out-$name" -q "$@" > "$name.out" 2> "$name.err"
    local status=$?
    if [ "$status" -ne "$want_status" ]; then
        fail "$name: exit status $status, want $want_status"
    elif ! grep -qxF "lensim run: $want" "$name.err"; then
        fail "$name: stderr is '$(cat "$name.err")', want 'lensim run: $want'"
    elif [ -e "out-$name" ]; then
        fail "$name: wrote $(find "out-$name" | head -5 | tr '\n' ' ')"
    else
        ok "$name"
    fi
}

check unknown_key 2 "unknown_key.yaml:3:6: foo: unknown key (lensim schema lists them all)" <<'Y'
name: x
workload: {requests: 10}
foo: 1
Y
check unknown_nested 2 "unknown_nested.yaml:4:10: workload.ratez: unknown key (lensim schema lists them all)" <<'Y'
name: x
workload:
  requests: 10
  ratez: 3
Y
check did_you_mean 2 "did_you_mean.yaml:4:13: engine.replicas: unknown key (did you mean cluster.replicas?)" <<'Y'
name: x
workload: {requests: 10}
engine:
  replicas: 3
Y
check string_for_number 2 "string_for_number.yaml:2:32: workload.rate: expected a number, got 'fast'" <<'Y'
name: x
workload: {requests: 10, rate: fast}
Y
check fraction_for_integer 2 "fraction_for_integer.yaml:2:22: workload.requests: expected a whole number, got '1.5'" <<'Y'
name: x
workload: {requests: 1.5}
Y
check bad_bool 2 "bad_bool.yaml:3:17: engine.check: expected true or false, got 'maybe'" <<'Y'
name: x
workload: {requests: 10}
engine: {check: maybe}
Y
check bad_choice 2 "bad_choice.yaml:3:9: policy.name: 'lifo' is not one of fcfs|sjf|ssjf|s3" <<'Y'
name: x
workload: {requests: 10}
policy: lifo
Y
check tp_zero 2 "tp_zero.yaml:4:7: hardware.tp: 0 is out of range [1, 64]" <<'Y'
name: x
workload: {requests: 10}
hardware:
  tp: 0
Y
check negative_rate 2 "negative_rate.yaml:2:32: workload.rate: -1 is out of range [1e-09, 1e+09]" <<'Y'
name: x
workload: {requests: 10, rate: -1}
Y
check missing_name 2 "missing_name.yaml:1:1: name: missing required key" <<'Y'
seed: 3
workload: {requests: 10}
Y
check azure_without_path 2 "azure_without_path.yaml:3:11: workload.path: missing required key: source 'azure' reads a file" <<'Y'
name: x
workload:
  source: azure
Y
check unclosed_bracket 2 "unclosed_bracket.yaml:4:1: YAML syntax: did not find expected ',' or ']' while parsing a flow sequence" <<'Y'
name: x
sweep:
  workload.rate: [1, 2
Y
check bad_indentation 2 "bad_indentation.yaml:4:8: YAML syntax: mapping values are not allowed in this context" <<'Y'
name: x
workload:
  requests: 10
   rate: 3
Y
printf 'name: x\nworkload:\n\trequests: 10\n' | check tab 2 "tab.yaml:3:1: YAML syntax: found character that cannot start any token while scanning for the next token"
check list_for_scalar 2 "list_for_scalar.yaml:2:22: workload.requests: expected a single value, not a list" <<'Y'
name: x
workload: {requests: [10, 20]}
Y
check duplicate_key 2 "duplicate_key.yaml:3:3: workload.requests: given twice (first at line 2)" <<'Y'
name: x
workload: {requests: 10,
  requests: 20}
Y
check empty_file 2 "empty_file.yaml:1:1: empty experiment file" < /dev/null
check two_documents 2 "two_documents.yaml:3:1: one YAML document expected" <<'Y'
name: x
workload: {requests: 10}
---
name: y
Y
check alias 2 "alias.yaml:2:14: YAML aliases are not supported" <<'Y'
name: &n x
description: *n
workload: {requests: 10}
Y
check bad_sweep 2 "bad_sweep.yaml:4:18: workload.rate: expected a non-empty list of values to sweep" <<'Y'
name: x
workload: {requests: 10}
sweep:
  workload.rate: 3
Y
check bad_sweep_value 2 "bad_sweep_value.yaml:4:22: workload.rate: -2 is out of range [1e-09, 1e+09]" <<'Y'
name: x
workload: {requests: 10}
sweep:
  workload.rate: [1, -2]
Y
check bad_runs 2 "bad_runs.yaml:3:8: runs: each run is a mapping of settings" <<'Y'
name: x
workload: {requests: 10}
runs: [fast, slow]
Y
check bad_second_run 2 "bad_second_run.yaml:5:32: engine.memory: 'bogus' is not one of max|predicted|oracle|paged" <<'Y'
name: x
workload: {requests: 10}
runs:
  - {name: a, engine: {memory: paged}}
  - {name: b, engine: {memory: bogus}}
Y
check same_run_names 2 "same_run_names.yaml:5:5: runs: two runs named 'a'" <<'Y'
name: x
workload: {requests: 10}
runs:
  - {name: a}
  - {name: a, seed: 2}
Y
GOOD=$'name: x\nworkload: {requests: 10}\n'
check set_without_equals 2 "--set: expected key=value, got 'workload.rate'" --set workload.rate <<< "$GOOD"
check set_unknown_key 2 "--set: rate: unknown key (did you mean workload.rate?)" --set rate=3 <<< "$GOOD"
check set_bad_value 2 "--set: hardware.tp: expected a whole number, got '1.5'" --set hardware.tp=1.5 <<< "$GOOD"
check seed_bad_value 2 "--set: seed: expected a number, got 'abc'" --seed abc <<< "$GOOD"
check queue_bad_value 2 "--set: engine.queue: 'splay' is not one of calendar|heap" --queue splay <<< "$GOOD"
check set_makes_bad_run 2 "--set: workload.path: missing required key: source 'azure' reads a file" --set workload.source=azure <<< "$GOOD"

# A file that does not exist is invalid input (2), as a missing trace or profile is, and as it is
# for every command (tests/cli/statuses.sh); nothing is written.
"$L" run missing.yaml -o out-missing -q 2> missing.err
status=$?
if [ $status -ne 2 ] || ! grep -qxF "lensim run: missing.yaml: No such file or directory" missing.err ||
    [ -e out-missing ]; then
    fail "missing file: exit status $status, stderr '$(cat missing.err)'"
else
    ok "missing file"
fi
finish
