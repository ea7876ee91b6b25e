#!/usr/bin/python3
"""Peer for the CNN engine benchmark: the same two networks in PyTorch, the
same thread count as voxgender's BLAS (argv[1]), same measurements.
bench() is also bench/torch_arch.py's."""
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from torch_models import CNN, LeNet  # noqa: E402


def bench(name, model, shape, lat_runs, train=True):
    """Prints NAME_latency_ms, NAME_infer64_per_s and, with TRAIN,
    NAME_train32_per_s (keys without a prefix when NAME is empty)."""
    key = f"{name}_" if name else ""
    x64 = torch.randn(64, *shape)
    x1 = x64[:1].clone()
    model.eval()
    with torch.no_grad():
        for _ in range(20):
            model(x1)
        lat = []
        for _ in range(lat_runs):
            t = time.perf_counter()
            model(x1)
            lat.append(time.perf_counter() - t)
        print(f"{key}latency_ms {statistics.median(lat) * 1e3:.4f}")
        model(x64)
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 2.0 or reps < 3:
            model(x64)
            reps += 1
        print(f"{key}infer64_per_s {64 * reps / (time.perf_counter() - t0):.1f}")
    if not train:
        return
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x32, y32 = x64[:32].clone(), torch.arange(32) % 2

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x32), y32).backward()
        opt.step()
    step()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0 or reps < 3:
        step()
        reps += 1
    print(f"{key}train32_per_s {32 * reps / (time.perf_counter() - t0):.1f}")


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]))
    cfg = torch.__config__.show()
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} "
          f"mkldnn {torch.backends.mkldnn.is_available()} "
          f"{[l.strip() for l in cfg.splitlines() if 'BLAS_INFO' in l or 'CPU capability' in l]}",
          file=sys.stderr)
    bench("lenet", LeNet(), (3, 32, 32), 1000)
    bench("cnn", CNN(dropout=0.3), (1, 128, 481), 200)
