# ssjf.gp: the SSJF paper's figures from a compat-ssjf sweep: mean JCT and throughput (the
# paper's 25th-percentile definition) against the swept x (arrival rate, or Gamma CV when the
# rate is fixed), one panel per batching mode, one line per policy.
load 'common.gp'
nrates = int(system(sprintf("awk -F, 'NR>1{print $6}' '%s' | sort -u | wc -l", results)))
xcol = nrates > 1 ? 'rate' : 'cv'
modes = system(sprintf("awk -F, 'NR>1{print $4}' '%s' | sort -u", results))
sel(b, p) = sprintf("< awk -F, 'NR==1 || ($4==\"%s\" && $2==\"%s\")' '%s' | sort -t, -k%d,%dg", \
                    b, p, results, xcol eq 'rate' ? 6 : 7, xcol eq 'rate' ? 6 : 7)
set multiplot layout 2,words(modes) title 'SSJF reproduction: '.(xcol eq 'rate' ? 'Poisson rate' : 'Gamma CV').' sweep'
do for [b in modes] {
    set title b.' batching'
    set xlabel xcol
    set ylabel 'mean JCT (s)'
    plot for [p in 'fcfs sjf ssjf'] sel(b, p) using xcol:(column('mean_e2el_ms')/1000) \
         with linespoints lw 2 pt 7 title p
}
do for [b in modes] {
    set title b.' batching'
    set xlabel xcol
    set ylabel 'throughput @25% (req/s)'
    plot for [p in 'fcfs sjf ssjf'] sel(b, p) using xcol:'ssjf_throughput' \
         with linespoints lw 2 pt 7 title p
}
unset multiplot
