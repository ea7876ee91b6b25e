#!/bin/bash
# Batch-1 latency and batch-64 throughput of an architecture description,
# voxgender (build/bench_nn --probe) against PyTorch (bench/torch_arch.py),
# with the thread count, OpenBLAS kernels and allocators of make bench
# (bench/common.sh), three alternating rounds, each side's best. Not run by
# make bench: it backs "Missed, and why" (docs/benchmark-history.md) (how the cost of cnn's
# design moves the batch-1 ratio).
# Usage: bench/arch_probe.sh [BUILD] DESCRIPTION|NAME...   (e.g. cnn)
set -euo pipefail
BUILD=build
[ -d "${1:-}" ] && { BUILD="$1"; shift; }
[ $# -ge 1 ] || { echo "usage: bench/arch_probe.sh [BUILD] DESCRIPTION|NAME..." >&2; exit 2; }
. bench/common.sh   # OpenBLAS kernels, the peers' allocators, best()
T=$(nproc)
export OPENBLAS_NUM_THREADS=$T
for arch in "$@"; do
    # a built-in name is expanded to its description, which PyTorch needs
    desc=$("$BUILD/bench_nn" -d "$arch" 2>/dev/null || printf '%s' "$arch")
    vg="" pt=""
    for _ in 1 2 3; do
        vg+=$("$BUILD/bench_nn" --probe "$desc")$'\n'
        pt+=$(env "${PEER_NN_ENV[@]}" /usr/bin/python3 bench/torch_arch.py "$T" "$desc")$'\n'
    done
    vg=$(best <<<"$vg"); pt=$(best <<<"$pt")
    params=$(get params "$vg"); macs=$(get macs "$vg")
    vl=$(get latency_ms "$vg"); pl=$(get latency_ms "$pt")
    vt=$(get infer64_per_s "$vg"); ptt=$(get infer64_per_s "$pt")
    echo "arch: $arch"
    awk -v p="$params" -v m="$macs" -v vl="$vl" -v pl="$pl" -v vt="$vt" -v pt="$ptt" 'BEGIN {
        printf "  %d parameters, %.1f M multiply-adds per 6 s clip\n", p, m / 1e6
        printf "  latency batch 1: voxgender %.3f ms, PyTorch %.3f ms, speedup %.2fx\n", vl, pl, pl / vl
        printf "  inference batch 64: voxgender %.0f/s, PyTorch %.0f/s, speedup %.2fx\n", vt, pt, vt / pt }'
done
