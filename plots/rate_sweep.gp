# rate_sweep.gp: request throughput and mean JCT against the arrival rate, one line per
# policy/memory pair, from results.csv (rows of one pair sorted by rate with awk and sort).
load 'common.gp'
series = system(sprintf("awk -F, 'NR>1 && $1 !~ /^#/ {print $2\"/\"$3}' '%s' | sort -u", results))
rows(s) = sprintf("< awk -F, 'NR==1 || $2\"/\"$3==\"%s\"' '%s' | sort -t, -k6,6g", s, results)
set multiplot layout 1,2 title 'Throughput and JCT against arrival rate'
set xlabel 'arrival rate (req/s)'
set ylabel 'request throughput (req/s)'
unset key
plot for [s in series] rows(s) using 'rate':'request_throughput' with linespoints lw 2 pt 7 title s
set key outside right top
set ylabel 'mean JCT (s)'
plot for [s in series] rows(s) using 'rate':(column('mean_e2el_ms')/1000) with linespoints lw 2 pt 7 title s
unset multiplot
