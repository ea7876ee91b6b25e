#!/bin/bash
# make bench: voxgender against its peers, in the same run, on the same files.
# Prints one line per comparison:
#   BENCH <name> voxgender=<x> peer=<y> <unit> speedup=<voxgender/peer>
set -euo pipefail
BUILD="${1:-build}"
SHARED="${VG_SHARED:-../shared}"
# Debian's OpenBLAS 0.3.21 does not know this CPU and would fall back to slow
# kernels: name a known core for every process of the run (peers included).
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}"
echo "bench: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

# 6 s windows from real recordings (FLAC, 16 kHz) of ../shared/data.
mapfile -t FILES < <(awk -F, 'NR > 1 && $4 >= 6 { print FILENAME "|" $1 }' \
    "$SHARED"/data/librispeech/manifest.csv "$SHARED"/data/vctk/manifest.csv | head -60 |
    sed "s|/manifest.csv|/|; s/|//")
echo "bench: front end on ${#FILES[@]} files (6 s windows)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
val() { awk '/files_per_s/ { print $2 }'; }

vg1=$("$BUILD/bench_frontend" 1 5 "${FILES[@]}" | val)
vgn=$("$BUILD/bench_frontend" "$(nproc)" 5 "${FILES[@]}" | val)
if /usr/bin/python3 -c "import torchaudio" 2>/dev/null; then
    peer=$(/usr/bin/python3 bench/torchaudio_frontend.py 2 "${FILES[@]}" | val)
    echo "BENCH frontend_1core voxgender=$vg1 peer=$peer files/s speedup=$(ratio "$vg1" "$peer")"
    echo "BENCH frontend_allcores voxgender=$vgn peer=$peer files/s speedup=$(ratio "$vgn" "$peer") (peer on 1 core)"
else
    echo "bench: python3-torchaudio not installed; voxgender alone: 1 core $vg1 files/s, all cores $vgn files/s"
fi
