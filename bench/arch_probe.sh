#!/bin/bash
# Batch-1 latency and batch-64 throughput of an architecture description,
# voxgender (build/bench_nn --probe) against PyTorch (bench/torch_arch.py) on the
# same thread count and OpenBLAS kernels as make bench, three alternating
# rounds, each side's best. Not run by make bench: it backs the README's
# "Missed, and why" (how the cost of cnn's design moves the batch-1 ratio).
# Usage: bench/arch_probe.sh [BUILD] DESCRIPTION|NAME...   (e.g. cnn)
set -euo pipefail
BUILD=build
[ -d "${1:-}" ] && { BUILD="$1"; shift; }
[ $# -ge 1 ] || { echo "usage: bench/arch_probe.sh [BUILD] DESCRIPTION|NAME..." >&2; exit 2; }
grep -qw avx512f /proc/cpuinfo && export OPENBLAS_CORETYPE="${BENCH_CORETYPE:-SkylakeX}"
# PyTorch on jemalloc keeping freed memory, as in bench/run.sh (slow page faults)
PEER_ENV=()
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -f "$JEMALLOC" ] && PEER_ENV=(LD_PRELOAD="$JEMALLOC" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1)
T=$(nproc)
export OPENBLAS_NUM_THREADS=$T
for arch in "$@"; do
    # a built-in name is expanded to its description, which PyTorch needs
    desc=$("$BUILD/bench_nn" -d "$arch" 2>/dev/null || printf '%s' "$arch")
    vg=() pt=()
    for _ in 1 2 3; do
        vg+=("$("$BUILD/bench_nn" --probe "$desc")")
        pt+=("$(env "${PEER_ENV[@]}" /usr/bin/python3 bench/torch_arch.py "$T" "$desc")")
    done
    best() { printf '%s\n' "$@" | awk -v k="$KEY" '$1 == k { if (n++ == 0 || (k ~ /_ms$/ ? $2 < b : $2 > b)) b = $2 } END { print b }'; }
    KEY=params; params=$(best "${vg[@]}")
    KEY=macs; macs=$(best "${vg[@]}")
    KEY=latency_ms; vl=$(best "${vg[@]}"); pl=$(best "${pt[@]}")
    KEY=infer64_per_s; vt=$(best "${vg[@]}"); ptt=$(best "${pt[@]}")
    echo "arch: $arch"
    awk -v p="$params" -v m="$macs" -v vl="$vl" -v pl="$pl" -v vt="$vt" -v pt="$ptt" 'BEGIN {
        printf "  %d parameters, %.1f M multiply-adds per 6 s clip\n", p, m / 1e6
        printf "  latency batch 1: voxgender %.3f ms, PyTorch %.3f ms, speedup %.2fx\n", vl, pl, pl / vl
        printf "  inference batch 64: voxgender %.0f/s, PyTorch %.0f/s, speedup %.2fx\n", vt, pt, vt / pt }'
done
