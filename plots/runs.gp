# runs.gp: request throughput and mean JCT of every run side by side (e.g. the S3 offline
# comparison of memory policies per model).
load 'common.gp'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -35 left font ',8'
set multiplot layout 1,2 title 'Runs side by side'
unset key
set ylabel 'request throughput (req/s)'
plot results using 'request_throughput':xtic(1)
set ylabel 'mean JCT (s)'
plot results using (column('mean_e2el_ms')/1000):xtic(1)
unset multiplot
