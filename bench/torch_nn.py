#!/usr/bin/python3
"""Peer for the CNN engine benchmark: the same two networks in PyTorch, the
same thread count as voxgender's BLAS (argv[1]), same measurements.
bench() is also bench/torch_arch.py's."""
import copy
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from torch_models import CNN, LeNet  # noqa: E402


# PyTorch's two memory formats for 4-D tensors. Its CPU tuning guides
# recommend channels_last for convolutional networks: oneDNN then runs its
# NHWC kernels without reordering each layer's input and output (on session
# 27's AVX-512 Xeon, cnn batch 1 took 2.5 ms so against 4.8 ms). Each
# measurement is made in both, and the faster one is the peer's.
FORMATS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def measure(key, model, shape, lat_runs, train, fmt):
    """NAME's numbers in memory format FMT: {key: value}"""
    out = {}
    model = copy.deepcopy(model).to(memory_format=fmt)
    x64 = torch.randn(64, *shape).contiguous(memory_format=fmt)
    x1 = x64[:1].clone().contiguous(memory_format=fmt)
    model.eval()
    with torch.no_grad():
        for _ in range(20):
            model(x1)
        lat = []
        for _ in range(lat_runs):
            t = time.perf_counter()
            model(x1)
            lat.append(time.perf_counter() - t)
        out[f"{key}latency_ms"] = statistics.median(lat) * 1e3
        model(x64)
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 2.0 or reps < 3:
            model(x64)
            reps += 1
        out[f"{key}infer64_per_s"] = 64 * reps / (time.perf_counter() - t0)
    if not train:
        return out
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x32, y32 = x64[:32].clone().contiguous(memory_format=fmt), torch.arange(32) % 2

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x32), y32).backward()
        opt.step()
    step()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0 or reps < 3:
        step()
        reps += 1
    out[f"{key}train32_per_s"] = 32 * reps / (time.perf_counter() - t0)
    return out


def bench(name, model, shape, lat_runs, train=True):
    """Prints NAME_latency_ms, NAME_infer64_per_s and, with TRAIN,
    NAME_train32_per_s (keys without a prefix when NAME is empty): each the
    better of the two memory formats, whose own numbers follow with the
    format's name appended (NAME_latency_ms_channels_last ...)."""
    key = f"{name}_" if name else ""
    by_format = {f: measure(key, model, shape, lat_runs, train, fmt) for f, fmt in FORMATS.items()}
    for k in by_format["nchw"]:
        vals = [r[k] for r in by_format.values()]
        digits = 4 if k.endswith("_ms") else 1
        print(f"{k} {(min(vals) if k.endswith('_ms') else max(vals)):.{digits}f}")
        for f, r in by_format.items():
            print(f"{k}_{f} {r[k]:.{digits}f}")


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]))
    cfg = torch.__config__.show()
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} "
          f"mkldnn {torch.backends.mkldnn.is_available()} "
          f"{[l.strip() for l in cfg.splitlines() if 'BLAS_INFO' in l or 'CPU capability' in l]}",
          file=sys.stderr)
    bench("lenet", LeNet(), (3, 32, 32), 1000)
    bench("cnn", CNN(dropout=0.3), (1, 128, 481), 200)
