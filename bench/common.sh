# Sourced by bench/run.sh and bench/arch_probe.sh: the environment both
# sides of every comparison run in, and how rounds are combined.

# Debian's OpenBLAS 0.3.21 does not know this CPU (and this environment
# presets OPENBLAS_CORETYPE=Haswell): on an AVX-512 CPU every process of the
# run, peers included, gets the SkylakeX kernels. BENCH_CORETYPE overrides.
if grep -qw avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE="${BENCH_CORETYPE:-SkylakeX}"
fi

# Page faults are slow on these VMs (about 10 us each). PyTorch allocates and
# frees its large buffers on every call, and glibc hands them back to the
# kernel each time, so each pass faults its memory in again: 4x PyTorch's
# cnn batch-1 latency and a fifth of its batch-64 throughput here. The peers
# therefore run with freed memory kept in the process, each with what
# measured best for it here: the CNN peer on jemalloc (Debian's
# libjemalloc2, the allocator PyTorch's CPU tuning guides recommend), the
# torchaudio peer on glibc with trimming off (jemalloc slowed it). voxgender
# plans its buffers once and runs as users run it, on plain glibc (jemalloc
# slowed FFmpeg's decoding 2-3x).
PEER_FE_ENV=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456)
PEER_NN_ENV=("${PEER_FE_ENV[@]}")
ALLOC="glibc, trimming off"
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -f "$JEMALLOC" ]; then
    PEER_NN_ENV=(LD_PRELOAD="$JEMALLOC" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1)
    ALLOC="jemalloc, freed memory kept"
fi

# This shared VM's speed changes for stretches of seconds to minutes (the
# same binary measures 2.3 or 4.2 ms per cnn sample). Alternating rounds,
# and each side's best round per metric, keep a slow stretch on one side from
# deciding the ratio.
best() {   # "key value" lines of several rounds -> the best value per key (lowest for *_ms and *_ms_FORMAT, else highest)
    awk '{ lower = ($1 ~ /_ms($|_)/); if (!($1 in v) || (lower ? $2 < v[$1] : $2 > v[$1])) v[$1] = $2 }
         !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
         END { for (i = 1; i <= n; i++) print order[i], v[order[i]] }'
}
get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }   # KEY "key value" lines -> value
