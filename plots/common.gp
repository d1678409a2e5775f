# common.gp: shared set-up for lensim's figures. Called with -e "dir='...'; fmt='png|svg';
# out='...'"; out='' sends the figure to stdout, which is how `lensim plot DIR` calls it (it
# writes the figure itself, so that a full disk is an error and not a truncated figure).
# Results files start with '#' manifest lines and a header row.
set datafile separator ','
set datafile columnheaders
set datafile missing ''
if (fmt eq 'svg') {
    set terminal svg size 1000,600 dynamic enhanced font 'Sans,11' background rgb 'white'
} else {
    set terminal pngcairo size 1000,600 enhanced font 'Sans,10'
}
if (strlen(out) > 0) { set output out }
set termoption noenhanced
set grid
set key outside right top
results = dir.'/results.csv'
runs = system(sprintf("awk -F, 'NR>1 && $1 !~ /^#/ {print $1}' '%s'", results))
nruns = words(runs)
