#!/bin/bash
# seeds.sh LENSIM SRC_ROOT (issue 14, deliverable 2): `seeds: N` / `lensim run --seeds N`.
#  1. seeds 1 (the key, --seeds 1 or --set seeds=1) writes the very files a run without the key
#     writes: manifests and experiment hashes included.
#  2. With N > 1, RUN/seed-S/ holds exactly what `--seed S` alone writes for that run (manifest
#     memory block aside), for every S in seed .. seed+N-1.
#  3. results.csv / results.json: the means and 95 % half-widths recomputed by
#     tests/cli/seeds_check.py (its own t table) from results_seeds.csv, whose rows it checks
#     against each seed's summary.json; the checker fails on a planted error.
#  4. -j 2 writes the files -j 1 writes; --resume keeps finished seeds (and adds a seed when N
#     grows; removes the folders of seeds no longer run when N shrinks or goes back to 1, so
#     that the folder equals a fresh run's); --only selects runs with all their seeds; --force
#     clears seed folders; a folder of seeded results is refused without --force.
#  5. Refusals: --seeds 0 / 1001 / abc (status 2), seeds: 0 in the file (file:line:col), --set
#     seeds=0, lensim search with seeds > 1; an infeasible run of a seeded sweep is a row with
#     its seeds and no mean.
#  6. lensim plot draws seeded runs: sweep from the means, CDFs and timelines from the first
#     seed's files (when gnuplot is installed).
#  7. The terminal table shows mean±half-width within 100 columns.
set -u
. "$(dirname "$0")/lib.sh"
L=$(lensim_abs "$1")
SRC=$(cd "$2" && pwd)
scratch
cd "$TMP" || exit 1

cat > sw.yaml <<'Y'
name: sw
seed: 7
workload: {requests: 120, max_prompt_tokens: 2048}
engine: {max_seq_len: 4096}
sweep:
  workload.rate: [1, 4]
  engine.memory: [max, paged]
Y

# same_tree A B: every file the same, manifests compared without their memory block.
same_tree() {
    local a=$1 b=$2 f rel bad=0
    [ "$(cd "$a" && find . -type f | sort)" = "$(cd "$b" && find . -type f | sort)" ] || return 1
    while IFS= read -r f; do
        rel=${f#"$a"/}
        case $rel in
        */manifest.yaml)
            cmp -s <(sed '/^memory:/,/^  allocations:/d' "$f") \
                <(sed '/^memory:/,/^  allocations:/d' "$b/$rel") || bad=1
            ;;
        *) cmp -s "$f" "$b/$rel" || bad=1 ;;
        esac
    done < <(find "$a" -type f)
    return $bad
}

# 1. seeds 1 is the run as before.
"$L" run -q sw.yaml -o plain 2> /dev/null || fail "plain run failed"
"$L" run -q sw.yaml -o one --seeds 1 2> /dev/null || fail "--seeds 1 failed"
sed 's/^seed: 7$/seed: 7\nseeds: 1/' sw.yaml > sw1.yaml
"$L" run -q sw1.yaml -o onekey 2> /dev/null || fail "seeds: 1 failed"
if same_tree plain one && same_tree plain onekey && [ ! -e one/results_seeds.csv ] &&
    ! grep -q seeds plain/results.csv; then
    ok "seeds 1 (--seeds 1, seeds: 1) writes the files of a run without the key"
else
    fail "seeds 1 differs from a run without the key"
fi

# 2. Each seed's folder is the single-seed run of that seed.
"$L" run -q sw.yaml -o s4 --seeds 4 2> /dev/null || fail "--seeds 4 failed"
good=1
for s in 7 8 9 10; do
    "$L" run -q sw.yaml -o "single$s" --seed $s 2> /dev/null || fail "--seed $s failed"
    for r in rate-1_memory-max rate-4_memory-paged; do
        same_tree "single$s/$r" "s4/$r/seed-$s" || { good=0; echo "differs: $r seed $s"; }
    done
done
[ $good = 1 ] && ok "RUN/seed-S/ holds what --seed S alone writes (S = 7..10)" ||
    fail "a seed's folder differs from its single-seed run"
if grep -q '^seeds: 4$' s4/rate-1_memory-max/manifest.yaml &&
    grep -q '^  - "seed-10"$' s4/rate-1_memory-max/manifest.yaml &&
    grep -q '^  seeds: 4$' s4/rate-1_memory-max/manifest.yaml; then
    ok "RUN/manifest.yaml names the seeds and their folders"
else
    fail "RUN/manifest.yaml: $(head -12 s4/rate-1_memory-max/manifest.yaml)"
fi

# 3. The numbers, recomputed independently.
if python3 "$SRC/tests/cli/seeds_check.py" s4 > check.out; then
    ok "means and 95 % half-widths as recomputed: $(tail -1 check.out)"
else
    fail "seeds_check: $(cat check.out)"
fi
if [ "$(head -1 s4/results.csv | tr ',' '\n' | grep -c '_ci95$')" = \
    "$(head -1 plain/results.csv | cut -d, -f11- | tr ',' '\n' | grep -n '^status$' | cut -d: -f1 |
        awk '{print $1 - 1}')" ]; then
    ok "an m_ci95 column for every metric column"
else
    fail "m_ci95 columns: $(head -1 s4/results.csv)"
fi
# The checker can fail: plant an error in a half-width and in a mean.
cp -r s4 planted
awk -F, 'BEGIN {OFS = ","} NR == 2 {$NF = $NF + 1} {print}' s4/results.csv > planted/results.csv
if python3 "$SRC/tests/cli/seeds_check.py" planted > /dev/null; then
    fail "seeds_check missed a wrong half-width"
else
    ok "seeds_check fails on a wrong half-width"
fi
awk -F, 'BEGIN {OFS = ","} NR == 3 {$11 = $11 + 0.5} {print}' s4/results.csv > planted/results.csv
if python3 "$SRC/tests/cli/seeds_check.py" planted > /dev/null; then
    fail "seeds_check missed a wrong mean"
else
    ok "seeds_check fails on a wrong mean"
fi

# 4. -j, --resume, --only, --force.
"$L" run -q sw.yaml -o s4j -j 2 --seeds 4 2> /dev/null || fail "-j 2 --seeds 4 failed"
same_tree s4 s4j && ok "-j 2 writes the files -j 1 writes (4 seeds)" || fail "-j 2 differs from -j 1"
cp -r s4 res
touch res/rate-1_memory-max/seed-8/keep
rm -rf res/rate-4_memory-max/seed-9 res/results.csv
"$L" run -q sw.yaml -o res --seeds 4 --resume 2> /dev/null || fail "--resume failed"
if [ -e res/rate-1_memory-max/seed-8/keep ] && cmp -s res/results.csv s4/results.csv &&
    cmp -s res/rate-4_memory-max/seed-9/requests.csv s4/rate-4_memory-max/seed-9/requests.csv; then
    ok "--resume: finished seeds kept, the missing one rerun, results.csv the same"
else
    fail "--resume with seeds"
fi
"$L" run -q sw.yaml -o res --seeds 5 --resume 2> /dev/null || fail "--resume --seeds 5 failed"
"$L" run -q sw.yaml -o s5 --seeds 5 2> /dev/null || fail "--seeds 5 failed"
if [ -e res/rate-1_memory-max/seed-8/keep ] && [ -e res/rate-1_memory-max/seed-11/summary.json ] &&
    cmp -s res/results.csv s5/results.csv; then
    ok "--resume with one seed more: four kept, the fifth run, results as a fresh run"
else
    fail "--resume --seeds 5"
fi
rm res/rate-1_memory-max/seed-8/keep
"$L" run -q sw.yaml -o res --seeds 2 --resume 2> /dev/null || fail "--resume --seeds 2 failed"
"$L" run -q sw.yaml -o s2 --seeds 2 2> /dev/null || fail "--seeds 2 failed"
same_tree res s2 && ok "--resume with fewer seeds: the others' folders removed, as a fresh run" ||
    fail "--resume --seeds 2: $(ls res/rate-1_memory-max)"
"$L" run -q sw.yaml -o res --resume 2> /dev/null || fail "--resume without seeds failed"
same_tree res plain && ok "--resume back to one seed: as a run without seeds (no seed folders)" ||
    fail "--resume to one seed: $(ls res res/rate-1_memory-max)"
"$L" run -q sw.yaml -o res --resume --seeds 3 2> /dev/null || fail "--resume --seeds 3 failed"
"$L" run -q sw.yaml -o s3 --seeds 3 2> /dev/null || fail "--seeds 3 failed"
same_tree res s3 && ok "--resume from one seed to three: as a fresh run (no stale requests.csv)" ||
    fail "--resume 1 -> 3 seeds: $(ls res/rate-1_memory-max)"
"$L" run -q sw.yaml -o only --seeds 3 --only '*paged' 2> /dev/null || fail "--only failed"
if [ "$(cut -d, -f1 only/results.csv | tail -n +2 | tr '\n' ' ')" = \
    "rate-1_memory-paged rate-4_memory-paged " ] &&
    [ "$(tail -n +2 only/results_seeds.csv | wc -l)" = 6 ] && [ ! -e only/rate-1_memory-max ]; then
    ok "--only: the matching runs, each with its seeds"
else
    fail "--only with seeds: $(ls only)"
fi
"$L" run -q sw.yaml -o s4 --seeds 2 2> refuse.err
st=$?
[ $st -eq 2 ] && grep -q "holds the results of an earlier run" refuse.err &&
    ok "seeded results are not overwritten without --force" || fail "no refusal: $st $(cat refuse.err)"
rm -f s4/results.csv s4/results.json s4/results_seeds.csv s4/*/manifest.yaml
"$L" run -q sw.yaml -o s4 --seeds 2 2> refuse.err
st=$?
[ $st -eq 2 ] && ok "a folder of seed folders alone counts as results" ||
    fail "seed folders without manifests not seen: $st"
"$L" run -q sw.yaml -o s4 --seeds 2 --force 2> /dev/null || fail "--force failed"
[ ! -e s4/rate-1_memory-max/seed-9 ] && [ -e s4/rate-1_memory-max/seed-8 ] &&
    ok "--force clears the old seed folders" || fail "--force left $(ls s4/rate-1_memory-max)"

# 5. Refusals.
expect "--seeds 0" 2 stderr "--seeds 0: a number of seeds from 1 to 1000" -- \
    "$L" run sw.yaml -o x --seeds 0
expect "--seeds 1001" 2 stderr "--seeds 1001: a number of seeds from 1 to 1000" -- \
    "$L" run sw.yaml -o x --seeds 1001
expect "--seeds abc" 2 stderr "--seeds abc: a number of seeds" -- "$L" run sw.yaml -o x --seeds abc
expect "--seeds without a value" 2 stderr "--seeds needs a value" -- "$L" run sw.yaml --seeds
sed 's/^seed: 7$/seed: 7\nseeds: 0/' sw.yaml > sw0.yaml
expect "seeds: 0 in the file" 2 stderr "sw0.yaml:3:8: seeds: 0 is out of range [1, 1000]" -- \
    "$L" run sw0.yaml -o x
expect "--set seeds=2000" 2 stderr "--set: seeds: 2000 is out of range" -- \
    "$L" run sw.yaml -o x --set seeds=2000
sed 's/^seed: 7$/seed: 7\nseeds: 3/' sw.yaml > sw3.yaml
expect "search refuses seeds > 1" 2 stderr "sw3.yaml:3:8: seeds: 3: lensim search" -- \
    "$L" search sw3.yaml --target 'p99_ttft_ms<2000' --over workload.rate --lo 1 --hi 4 -o srch
[ ! -e x ] && ok "nothing written by a refused run" || fail "a refused run wrote x/"
"$L" run -q sw3.yaml -o over --seeds 2 --only 'rate-1_memory-max' 2> /dev/null ||
    fail "--seeds over the key failed"
[ "$(ls over/rate-1_memory-max | tr '\n' ' ')" = "manifest.yaml seed-7 seed-8 " ] &&
    ok "--seeds 2 overrides seeds: 3" || fail "--seeds override: $(ls over/rate-1_memory-max)"

cat > inf.yaml <<'Y'
name: inf
seed: 3
seeds: 3
workload: {requests: 40}
sweep:
  model.name: [llama-2-70b, llama-2-7b]
Y
"$L" run inf.yaml -o inf > inf.out 2> inf.err
st=$?
if [ $st -eq 1 ] && grep -q '^name-llama-2-70b,.*,infeasible,.*,3,*$' inf/results.csv &&
    grep -q '"run": "name-llama-2-70b", "status": "infeasible".*"seeds": 3, "ci95": {"completed": null' \
        inf/results.json && grep -q "infeasible:" inf.out && grep -q "^name-llama-2-7b " inf.out; then
    ok "an infeasible run of a seeded sweep: its row, no mean; the table goes on past it"
else
    fail "infeasible with seeds: $st $(cat inf.out inf.err)"
fi

# 6. lensim plot draws a seeded run from its means and its first seed's files.
if command -v gnuplot > /dev/null; then
    "$L" plot s3 > /dev/null 2> plot.err || fail "plot failed: $(cat plot.err)"
    [ -s s3/figures/sweep.png ] && [ -s s3/figures/latency_cdf.png ] &&
        [ -s s3/figures/timeline.png ] && ok "plot: sweep, CDFs and timelines of seeded runs" ||
        fail "plot of seeded runs: $(ls s3/figures) $(cat plot.err)"
fi

# 7. The table.
"$L" run sw.yaml -o tab --seeds 3 > tab.out 2> /dev/null || fail "table run failed"
width=$(wc -L < tab.out)
if grep -q '±' tab.out && grep -q '^rate-4_memory-paged *3 ' tab.out && [ "$width" -le 100 ]; then
    ok "table: mean±half-width, seeds, $width columns"
else
    fail "table ($width columns): $(cat tab.out)"
fi
finish
