#!/bin/bash
# make bench: voxgender against its peers, in the same run, on the same files.
# Prints one line per comparison:
#   BENCH <name> voxgender=<x> peer=<y> <unit> speedup=<voxgender/peer>
set -euo pipefail
BUILD="${1:-build}"
SHARED="${VG_SHARED:-../shared}"
. bench/common.sh   # OpenBLAS kernels, the peers' allocators, best()
export VOXGENDER_BLAS_CORETYPE="${OPENBLAS_CORETYPE:-}"
[ -n "$VOXGENDER_BLAS_CORETYPE" ] || unset VOXGENDER_BLAS_CORETYPE
echo "bench: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset (no AVX-512: OpenBLAS picks its own kernels)}; voxgender: $("$BUILD/voxgender" --version | sed "s/.*BLAS: //; s/)$//"); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); peers keep freed memory (torchaudio: glibc, trimming off; PyTorch CNN: $ALLOC)"

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
    peer=$(env "${PEER_FE_ENV[@]}" /usr/bin/python3 bench/torchaudio_frontend.py 2 "${FILES[@]}" | val)
    echo "BENCH frontend_1core voxgender=$vg1 peer=$peer files/s speedup=$(ratio "$vg1" "$peer")"
    echo "BENCH frontend_allcores voxgender=$vgn peer=$peer files/s speedup=$(ratio "$vgn" "$peer") (peer on 1 core)"
    # The ceiling of the one-core ratio: FFmpeg's decoding alone (the one
    # decoding path the front end must use), with nothing after it.
    dec=$("$BUILD/bench_frontend" -d 1 5 "${FILES[@]}" | val)
    echo "bench: FFmpeg decode + resample alone $dec files/s on one core: no log-mel code could take the one-core ratio above $(ratio "$dec" "$peer")"
else
    echo "bench: python3-torchaudio not installed; voxgender alone: 1 core $vg1 files/s, all cores $vgn files/s"
fi

# ---- CNN engine (issue 3): both sides on the same number of threads
THREADS=$(nproc)
echo "bench: CNN engine, $THREADS threads each"
# three alternating rounds, each side's best round per metric (best, common.sh)
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
vgrounds="" peerrounds=""
for round in 1 2 3; do
    vgrounds+=$(OPENBLAS_NUM_THREADS=$THREADS "$BUILD/bench_nn")$'\n'
    [ "$have_torch" = 1 ] && peerrounds+=$(env "${PEER_NN_ENV[@]}" /usr/bin/python3 bench/torch_nn.py "$THREADS")$'\n'
done
vgout=$(best <<<"$vgrounds")
echo "bench: voxgender BLAS: OpenBLAS $(get blas_core "$vgout") kernels, $(get blas_threads "$vgout") threads; best of 3 alternating rounds per side"
if [ "$have_torch" = 1 ]; then
    peer=$(best <<<"$peerrounds")
    # batch-1 latency: both sides loaded at once, taking turns every ~30 ms
    # (bench/latency_duel.py), so that their medians come from the same
    # stretches of the VM's speed; each side's best of the rounds above is
    # printed after it, as earlier sessions measured it
    duel=$(env "${PEER_NN_ENV[@]}" /usr/bin/python3 bench/latency_duel.py "$BUILD/bench_nn" "$THREADS" lenet cnn) ||
        echo "bench: latency in turns failed (bench/latency_duel.py); its BENCH lines are left empty"
    field() { tr ' ' '\n' <<<"$d" | awk -F= -v k="$1" '$1 == k { print $2 }'; }   # KEY of $d's KEY=VALUE
    for a in lenet cnn; do
        d=$(awk -v k="${a}_latency_ms" '$1 == k' <<<"$duel")
        echo "BENCH ${a}_latency_batch1 voxgender=$(field voxgender) peer=$(field peer) ms speedup=$(field ratio)" \
             "(in turns: $(field blocks) blocks each, $(field runs) runs, ratio of the blocks' medians by quartile $(field block_ratios); peer in $(field peer_format))"
        v=$(get ${a}_latency_ms "$vgout"); p=$(get ${a}_latency_ms "$peer")
        echo "bench: ${a} batch-1 latency, each side's best round (separate processes): voxgender $v ms, peer $p ms, $(ratio "$p" "$v")x"
        v=$(get ${a}_infer64_per_s "$vgout"); p=$(get ${a}_infer64_per_s "$peer")
        echo "BENCH ${a}_inference_batch64 voxgender=$v peer=$p samples/s speedup=$(ratio "$v" "$p")"
        v=$(get ${a}_train32_per_s "$vgout"); p=$(get ${a}_train32_per_s "$peer")
        echo "BENCH ${a}_training_batch32 voxgender=$v peer=$p samples/s speedup=$(ratio "$v" "$p")"
        # the peer takes the faster of PyTorch's memory formats (bench/torch_nn.py)
        for k in latency_ms infer64_per_s train32_per_s; do
            echo "bench: ${a} peer ${k}: nchw $(get ${a}_${k}_nchw "$peer"), channels_last $(get ${a}_${k}_channels_last "$peer")"
        done
    done
    # the spread behind the best-of-rounds ratio: each round's own, in order
    vgr=$(awk '$1 == "cnn_latency_ms" { print $2 }' <<<"$vgrounds" | paste -sd' ')
    pr=$(awk '$1 == "cnn_latency_ms" { print $2 }' <<<"$peerrounds" | paste -sd' ')
    echo "bench: cnn batch-1 latency by round: voxgender $vgr ms, peer $pr ms; ratios" \
         "$(awk -v a="$vgr" -v b="$pr" 'BEGIN { n = split(a, x, " "); split(b, y, " ");
            for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? " " : ""), y[i] / x[i] }')"
fi
# cnn's 3x3 layers both ways on this CPU (VOXGENDER_WINOGRAD; the default
# takes Winograd on CPUs with AVX2 but not AVX-512, where it was measured):
# the numbers that would move the default on other CPUs
if grep -q -w avx2 /proc/cpuinfo; then
    w1=$(VOXGENDER_WINOGRAD=1 OPENBLAS_NUM_THREADS=$THREADS "$BUILD/bench_nn" --probe cnn)
    w0=$(VOXGENDER_WINOGRAD=0 OPENBLAS_NUM_THREADS=$THREADS "$BUILD/bench_nn" --probe cnn)
    default=Winograd   # on every CPU with AVX2 and FMA since session 27
    echo "bench: cnn by Winograd (VOXGENDER_WINOGRAD=1): batch-1 latency $(get latency_ms "$w1") ms," \
         "batch 64 $(get infer64_per_s "$w1") samples/s; by the direct kernels (=0): $(get latency_ms "$w0") ms," \
         "$(get infer64_per_s "$w0") samples/s; this CPU's default: $default"
fi
g=$(get cnn_forward_gflops "$vgout"); s=$(get sgemm_gflops "$vgout")
echo "bench: cnn forward $g GFLOP/s = $(awk -v a="$g" -v b="$s" 'BEGIN { printf "%.0f", 100 * a / b }')% of measured sgemm $s GFLOP/s" \
     "($(get cnn_params "$vgout") parameters, $(awk -v m="$(get cnn_macs "$vgout")" 'BEGIN { printf "%.2f", 2 * m / 1e9 }') GFLOP per 6 s clip)"
# on AVX2 CPUs without AVX-512, inference runs the 3x3 layers as Winograd
# F(4x4,3x3) with 3.9x fewer operations: the rate above counts the direct sum's
if grep -q -w avx2 /proc/cpuinfo && ! grep -q -w avx512f /proc/cpuinfo; then
    echo "bench: (an effective rate: this CPU runs cnn's 3x3 layers as Winograd F(4x4,3x3), 3.9x fewer operations than counted)"
fi

# ---- segmentation of long recordings (issue 7): one hour made from ../shared/data
HOUR=/tmp/voxgender-bench-hour.wav
if [ ! -s "$HOUR" ] && [ -f models/voxgender-default.safetensors ]; then
    LIST=$(mktemp)
    awk -F, 'FNR > 1 { print FILENAME "|" $1 }' "$SHARED"/data/*/manifest.csv | sed "s|/manifest.csv|/|; s/|//" |
        sed "s|^|file '$(pwd)/|; s|$|'|" > "$LIST.one"
    for _ in $(seq 1 10); do cat "$LIST.one"; done > "$LIST"     # 482 clips x 10 > 1 hour
    ffmpeg -nostdin -loglevel error -f concat -safe 0 -i "$LIST" -t 3600 -ar 16000 -ac 1 -c:a pcm_s16le "$HOUR"
    rm -f "$LIST" "$LIST.one"
fi
if [ -s "$HOUR" ]; then
    one=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BUILD/bench_segment" models/voxgender-default.safetensors "$HOUR" 0)
    all=$("$BUILD/bench_segment" models/voxgender-default.safetensors "$HOUR" 10)
    for mode in one all; do
        out=${!mode}
        rtf=$(get realtime_factor "$out"); secs=$(get segment_seconds "$out")
        # inaSpeechSegmenter is not installable here (no PyPI); its authors report
        # about 6 min of CPU per hour of audio, i.e. ~10x real time
        echo "BENCH segment_1h_${mode}core voxgender=$rtf peer=10(reported,not run) x_realtime speedup=$(ratio "$rtf" 10) ($secs s for one hour)"
    done
    echo "bench: CNN alone $(get cnn_frames_per_s "$all") log-mel frames/s (80 frames per second of audio); peak memory $(get rss_after_file_mb "$all") MB after the hour from file, $(get rss_after_1h_fed_mb "$all") MB after 1 h fed, $(get rss_after_10h_fed_mb "$all") MB after 10 h fed (a 10-hour stream)"
fi
