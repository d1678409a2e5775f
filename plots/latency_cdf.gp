# latency_cdf.gp: CDFs of TTFT and end-to-end latency (JCT), one curve per run.
load 'common.gp'
set multiplot layout 1,2 title 'Latency CDFs'
set ylabel 'fraction of requests'
set yrange [0:1]
set logscale x
set xlabel 'time to first token (s)'
unset key
plot for [i=1:nruns] sprintf('%s/%s/requests.csv', dir, word(runs, i)) \
     using 'ttft_s':(1.0) smooth cnormal with lines lw 2 title word(runs, i)
set key outside right top
set xlabel 'end-to-end latency, JCT (s)'
plot for [i=1:nruns] sprintf('%s/%s/requests.csv', dir, word(runs, i)) \
     using 'e2el_s':(1.0) smooth cnormal with lines lw 2 title word(runs, i)
unset multiplot
