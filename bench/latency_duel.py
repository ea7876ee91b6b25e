#!/usr/bin/python3
"""Batch-1 latency of voxgender and PyTorch, timed in alternating blocks.

This VM's speed changes from one half second to the next: each vCPU is
fast or about 1.4x slower at a time, and a two-thread pass runs at the
pace of the slower one or worse. Timed one after the other, as whole
processes, the two sides are measured in different stretches, and the
ratio of their medians moved from 3.4 to 6.2 between rounds of one run.
Here both sides stay loaded and take turns every ~30 ms (a block of passes
each; voxgender's in `bench_nn --serve`), so that their medians come from
the same stretches. Between blocks each side pauses 10 ms: libgomp's
waiting threads spin for a few ms before they sleep, and would otherwise
take the other side's cores.

usage: latency_duel.py BENCH_NN THREADS NAME...   (NAME: lenet or cnn)
prints per NAME: NAME_latency_ms voxgender=MS peer=MS ratio=R blocks=B
runs=NV/NT block_ratios=Q1/MEDIAN/Q3 (each pair of blocks' ratio of medians)
peer_format=F (PyTorch's faster memory format for NAME, chosen first)
"""
import copy
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from torch_models import CNN, LeNet  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_nn import FORMATS  # noqa: E402

SHAPES = {"lenet": (3, 32, 32), "cnn": (1, 128, 481)}
BLOCK_S = 0.03      # each side's turn
BLOCKS = 60         # turns per side at least: ~5 s per network
MIN_RUNS = 200      # passes per side at least (the issue: median of >= 200 runs)
PAUSE_S = 0.01      # after a turn, before the other side's


def faster_format(model, x):
    """PyTorch's faster memory format for MODEL at batch 1 (bench/torch_nn.py's
    FORMATS), by three alternating blocks of 30 passes in each: its name,
    the model and the input in it"""
    cands = {f: (copy.deepcopy(model).to(memory_format=fmt), x.contiguous(memory_format=fmt))
             for f, fmt in FORMATS.items()}
    times = {f: [] for f in cands}
    with torch.no_grad():
        for _ in range(3):
            for f, (m, xf) in cands.items():
                for _ in range(30):
                    t = time.perf_counter()
                    m(xf)
                    times[f].append(time.perf_counter() - t)
    best = min(times, key=lambda f: statistics.median(times[f]))
    return (best, *cands[best])


def duel(bench_nn, name):
    shape = SHAPES[name]
    fmt, model, x = faster_format((CNN(dropout=0.3) if name == "cnn" else LeNet()).eval(), torch.randn(1, *shape))
    # voxgender runs as users run it: glibc, not the peer's jemalloc
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "MALLOC_CONF")}
    vg = subprocess.Popen([bench_nn, "--serve", name, *map(str, shape)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=env)
    if vg.stdout.readline().strip() != "ready":
        sys.exit(f"latency_duel: bench_nn --serve {name} failed")

    def vg_block(n):
        vg.stdin.write(f"{n}\n")
        vg.stdin.flush()
        return [float(v) for v in vg.stdout.readline().split()]

    def torch_block(n):
        lat = []
        with torch.no_grad():
            for _ in range(n):
                t = time.perf_counter()
                model(x)
                lat.append((time.perf_counter() - t) * 1e3)
        time.sleep(PAUSE_S)
        return lat

    torch_block(20)                                   # warm-up
    nv = max(1, round(BLOCK_S * 1e3 / statistics.median(vg_block(10))))
    nt = max(1, round(BLOCK_S * 1e3 / statistics.median(torch_block(10))))
    all_v, all_t, ratios = [], [], []
    b = 0
    while b < BLOCKS or min(len(all_v), len(all_t)) < MIN_RUNS:
        if b % 2:
            t = torch_block(nt)
            v = vg_block(nv)
        else:
            v = vg_block(nv)
            t = torch_block(nt)
        all_v += v
        all_t += t
        ratios.append(statistics.median(t) / statistics.median(v))
        b += 1
    vg.stdin.close()
    vg.wait()
    mv, mt = statistics.median(all_v), statistics.median(all_t)
    q = statistics.quantiles(ratios, n=4)
    print(f"{name}_latency_ms voxgender={mv:.4f} peer={mt:.4f} ratio={mt / mv:.2f} blocks={b} "
          f"runs={len(all_v)}/{len(all_t)} block_ratios={q[0]:.2f}/{q[1]:.2f}/{q[2]:.2f} peer_format={fmt}",
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 4 or any(n not in SHAPES for n in sys.argv[3:]):
        sys.exit("usage: latency_duel.py BENCH_NN THREADS lenet|cnn...")
    torch.set_num_threads(int(sys.argv[2]))
    for name in sys.argv[3:]:
        duel(sys.argv[1], name)
