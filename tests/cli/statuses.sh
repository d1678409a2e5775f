#!/bin/bash
# statuses.sh LENSIM: one cause, one exit status, whichever command meets it (cli/exit.c):
# a file that does not exist is 2 from run (experiment, trace, profile) and trace stats; an
# output that cannot be written is 3 from run and calibrate (before its sweep), and the message
# names the path;
# an unknown option is 2 from every command. And -q silences info messages (calibrate's
# "calibrating ..." line) through sim_log_quiet.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

printf 'name: x\nworkload: {requests: 10}\n' > good.yaml
printf 'name: x\nworkload: {source: azure, path: %s/nowhere.csv, requests: 10}\n' "$TMP" \
    > no-trace.yaml
printf 'name: x\nworkload: {requests: 10}\nperf: {profile: %s/nowhere.yaml}\n' "$TMP" \
    > no-profile.yaml

# A file that does not exist: 2.
expect "run: no experiment file" 2 stderr "nowhere.yaml" -- "$L" run nowhere.yaml -q -o o1
expect "run: no trace file" 2 stderr "nowhere.csv" -- "$L" run no-trace.yaml -q -o o2
expect "run: no profile file" 2 stderr "nowhere.yaml" -- "$L" run no-profile.yaml -q -o o3
expect "trace stats: no trace file" 2 stderr "nowhere.csv" -- "$L" trace stats nowhere.csv

# An output that cannot be written (a directory under a device file): 3, naming the path.
expect "run: output not writable" 3 stderr "/dev/full/x" -- "$L" run good.yaml -q -o /dev/full/x
expect "calibrate: output not writable" 3 stderr "/dev/full/x.csv" -- \
    "$L" calibrate --model tiny --grid quick --points 24 -o p.yaml --csv /dev/full/x.csv
[ -e p.yaml ] && fail "calibrate: a profile was written after its CSV failed"

# -q: no info messages; without it, calibrate says what it calibrates (a calibration that
# runs: outputs are checked before the sweep, so the failure above says nothing more).
expect "calibrate: writes" 0 stdout "wrote p.yaml" -- \
    "$L" calibrate --model tiny --grid quick --points 24 -o p.yaml
grep -qF "lensim: calibrating tiny" err.txt && ok "calibrate: info message without -q" ||
    fail "calibrate: no info message without -q: $(head -3 err.txt)"
rm -f p.yaml p.csv
expect "calibrate -q: output not writable" 3 stderr "/dev/full/x.csv" -- \
    "$L" calibrate --model tiny --grid quick --points 24 -q -o p.yaml --csv /dev/full/x.csv
grep -qF "calibrating" err.txt && fail "calibrate -q printed an info message: $(head -3 err.txt)" ||
    ok "calibrate -q: no info message"

# Bad usage: 2 from every command.
for c in run plot schema "trace stats" calibrate kcheck; do
    # shellcheck disable=SC2086
    expect "$c: unknown option" 2 stderr "frobnicate" -- "$L" $c --frobnicate
done

finish
