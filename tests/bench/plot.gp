# First-write IOPS by setup and cluster size, with the bound as a line.
#   gnuplot -e "data='build/bench/chart.dat'; out='results.png'; title='...'" tests/bench/plot.gp
# data: one row per cluster size, written by tests/bench/report.py:
#   "cluster" bound_qd1 cowbackup snapshot thin bound_qd32 cowbackup snapshot thin
# "-" marks a missing figure (dm-thin has no 4 KiB blocks).
if (!exists("data")) data = 'build/bench/chart.dat'
if (!exists("out")) out = 'tests/bench/results.png'
if (!exists("title")) title = ''

set terminal pngcairo size 1200,520 font ',10'
set output out
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1:*]
set grid ytics
set ylabel 'first-write IOPS (log scale)'
set xlabel 'cluster / chunk / block size'
set key top right
set multiplot layout 1,2 title title

set title 'QD1'
plot data using 3:xtic(1) title 'cowbackup' lc rgb '#1f77b4', \
     '' using 4 title 'dm-snapshot' lc rgb '#ff7f0e', \
     '' using 5 title 'thin snapshot' lc rgb '#2ca02c', \
     '' using 0:2 with linespoints lw 2 pt 7 lc rgb 'black' title 'bound'

set title 'QD32'
plot data using 7:xtic(1) title 'cowbackup' lc rgb '#1f77b4', \
     '' using 8 title 'dm-snapshot' lc rgb '#ff7f0e', \
     '' using 9 title 'thin snapshot' lc rgb '#2ca02c', \
     '' using 0:6 with linespoints lw 2 pt 7 lc rgb 'black' title 'bound'

unset multiplot
