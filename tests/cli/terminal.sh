#!/bin/bash
# terminal.sh LENSIM (issue 12 item 6): what `lensim run` prints on a terminal.
#  - The results table fits 100 columns; a run name too long for the run column is printed
#    whole on its own line; goodput (good/s) and SLO attainment (SLO%) appear when SLOs are
#    set and not otherwise; the header's columns line up with the rows'.
#  - The progress line (on a terminal, made here with script(1)) stays on one line of at most
#    79 characters (fewer on a narrower terminal), shows the elapsed time and an ETA, and says
#    when outputs are being written.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
scratch
cd "$TMP" || exit 1

# A table with SLOs and a run name longer than any run column can be.
cat > slo.yaml <<'Y'
name: slo
workload: {requests: 60, max_prompt_tokens: 1024}
slo: {ttft_ms: 300}
runs:
  - {name: a-very-long-run-name-that-no-table-column-could-ever-hold-in-one-hundred-columns}
  - {name: short}
sweep:
  workload.rate: [1, 2]
Y
"$L" run slo.yaml -o slo > slo.out 2> slo.err || fail "lensim run slo.yaml: exit status $?"
long=$(awk 'length > 100' slo.out)
[ -z "$long" ] && ok "slo: every line fits 100 columns" || fail "slo: lines over 100 columns: $long"
grep -qx 'a-very-long-run-name-that-no-table-column-could-ever-hold-in-one-hundred-columns_rate-1' \
    slo.out && ok "slo: a long name on its own line, whole" || fail "slo: long name cut or not alone"
head -2 slo.out | tail -1 | grep -q ' good/s SLO% ' && ok "slo: goodput and SLO attainment shown" ||
    fail "slo: no good/s and SLO% columns: $(head -2 slo.out | tail -1)"
# The rows' width equals the header's (the columns line up).
hw=$(sed -n 2p slo.out | awk '{print length}')
bad=$(awk -v w="$hw" 'NR > 2 && /^ / && length != w' slo.out)
[ -z "$bad" ] && ok "slo: rows as wide as the header ($hw)" || fail "slo: rows of another width: $bad"
# SLO attainment of the short rate-1 run, from results.csv (x 100, at most 4 characters).
att=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i} $1 == "short_rate-1" {print $c["slo_attainment"]}' slo/results.csv)
want=$(awk -v a="$att" 'BEGIN {v = sprintf("%.1f", a * 100); if (length(v) > 4) v = sprintf("%.0f", a * 100); print v}')
# Its values are on its name's line, or on the next one when the name stands alone.
row=$(awk '/^short_rate-1 / {print; exit} /^short_rate-1$/ {getline; print; exit}' slo.out)
echo "$row" | grep -q " $want " && ok "slo: SLO% of short_rate-1 is $want" ||
    fail "slo: SLO% of short_rate-1 not $want: $row"

printf 'name: plain\nworkload: {requests: 40}\nsweep: {workload.rate: [1, 2]}\n' > plain.yaml
"$L" run plain.yaml -o plain > plain.out 2> plain.err || fail "lensim run plain.yaml: exit status $?"
sed -n 2p plain.out | grep -q 'good/s\|SLO%' && fail "plain: SLO columns without SLOs" ||
    ok "plain: no SLO columns without SLOs"
grep -qE '^rate-1 +[0-9]' plain.out && ok "plain: short names stay on the row" ||
    fail "plain: short names not on their row: $(sed -n 3p plain.out)"
grep -qx '2 runs simulated in [0-9.]* s' plain.out && ok "plain: total simulation time" ||
    fail "plain: no total line: $(tail -1 plain.out)"

# The progress line, on a terminal of 80 and of 50 columns.
command -v script > /dev/null || { finish; }
printf 'name: prog\nworkload: {requests: 40000, rate: 40, max_prompt_tokens: 1024}\n' > prog.yaml
for cols in 80 50; do
    script -qec "stty cols $cols rows 24; '$L' run prog.yaml -o prog$cols" /dev/null > prog$cols.tty 2>&1 < /dev/null
    tr '\r' '\n' < prog$cols.tty | sed 's/\x1b\[K//g' | grep '^  run 1/1 ' > bar$cols.txt
    [ -s bar$cols.txt ] || { fail "cols $cols: no progress line: $(head -c 300 prog$cols.tty)"; continue; }
    over=$(awk -v w=$cols 'length > w - 1' bar$cols.txt)
    [ -z "$over" ] && ok "cols $cols: progress fits $((cols - 1)) characters" ||
        fail "cols $cols: progress line too long: $over"
    grep -qE '[0-9.]+s, ETA [0-9.]+s' bar$cols.txt && ok "cols $cols: elapsed and ETA" ||
        fail "cols $cols: no elapsed time and ETA: $(head -2 bar$cols.txt)"
    grep -q 'writing outputs' bar$cols.txt && ok "cols $cols: says it writes outputs" ||
        fail "cols $cols: no 'writing outputs': $(tail -2 bar$cols.txt)"
done
finish
