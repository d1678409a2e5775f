# timeline.gp: batch size and KV-cache use over time on replica 0, one curve per run.
load 'common.gp'
set multiplot layout 2,1 title 'Replica 0 over time'
set xlabel 'simulated time (s)'
set ylabel 'batch size (sequences)'
plot for [i=1:nruns] sprintf('%s/%s/timeline.csv', dir, word(runs, i)) \
     using (column('replica') == 0 ? column('time_s') : NaN):'batch_size' with steps title word(runs, i)
set ylabel 'KV cache used (%)'
set yrange [0:100]
plot for [i=1:nruns] sprintf('%s/%s/timeline.csv', dir, word(runs, i)) \
     using (column('replica') == 0 ? column('time_s') : NaN):'kv_cache_usage_perc' with steps title word(runs, i)
unset multiplot
