#!/usr/bin/python3
"""PyTorch peer of `bench_nn --probe` (bench/arch_probe.sh): builds the network of a voxgender
architecture description (the sequential part of the grammar in
src/nn/model.c: conv, bn, relu, maxpool, avgpool, gap, timepool, timestats, lifter, flatten,
dropout, linear, logsoftmax) and measures the same two numbers.
Usage: torch_arch.py THREADS DESCRIPTION [W]"""
import os
import re
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_nn import bench  # noqa: E402


class TimePool(nn.Module):
    def forward(self, x):
        return x.mean(dim=3, keepdim=True)


class Lifter(nn.Module):
    """The K lowest orthonormal DCT-II coefficients over H, transformed back."""
    def __init__(self, h, k):
        super().__init__()
        q, r = torch.arange(k, dtype=torch.float64)[:, None], torch.arange(h, dtype=torch.float64)[None, :]
        b = torch.cos(torch.pi * (r + 0.5) * q / h) * torch.sqrt(torch.where(q == 0, 1.0, 2.0) / h)
        self.register_buffer("p", (b.T @ b).float())   # [H, H] projection

    def forward(self, x):
        return torch.einsum("hg,ncgw->nchw", self.p, x)


class TimeStats(nn.Module):
    def forward(self, x):
        return torch.cat([x.mean(dim=3, keepdim=True),
                          torch.sqrt(x.var(dim=3, unbiased=False, keepdim=True) + 1e-5)], dim=3)


class GlobalPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


def pair(opts, key, default):
    a = opts.get(key, default).split("x")
    return int(a[0]), int(a[-1])


def build(desc, h, w):
    layers, shape = [], None
    for item in filter(None, (s.strip() for s in desc.split(";"))):
        item = re.sub(r"^[\w.]+:\s*", "", item)
        tok = item.split()
        op, opts = tok[0], dict(t.split("=", 1) for t in tok[1:] if "=" in t)
        if "from" in opts or op == "add":
            sys.exit("torch_arch.py: branches (from=, add) are not supported")
        if op == "input":
            shape = [int(tok[1]), h, w]
            continue
        c = shape[0]
        if op == "conv":
            layers.append(nn.Conv2d(c, int(tok[1]), pair(opts, "k", "1"), pair(opts, "s", "1"),
                                    pair(opts, "p", "0"), bias=opts.get("bias", "1") == "1"))
        elif op == "bn":
            layers.append(nn.BatchNorm2d(c))
        elif op == "relu":
            layers.append(nn.ReLU())
        elif op in ("maxpool", "avgpool"):
            k = pair(opts, "k", "2")
            s = pair(opts, "s", opts.get("k", "2"))
            layers.append(nn.MaxPool2d(k, s, pair(opts, "p", "0")) if op == "maxpool" else nn.AvgPool2d(k, s))
        elif op == "timepool":
            layers.append(TimePool())
        elif op == "timestats":
            layers.append(TimeStats())
        elif op == "lifter":
            layers.append(Lifter(shape[1], int(opts["n"])))
        elif op == "gap":
            layers.append(GlobalPool())
        elif op == "flatten":
            layers.append(nn.Flatten())
        elif op == "dropout":
            layers.append(nn.Dropout(float(opts.get("p", "0.5"))))
        elif op == "linear":
            layers.append(nn.Linear(shape[0], int(tok[1]), bias=opts.get("bias", "1") == "1"))
        elif op == "logsoftmax":
            layers.append(nn.LogSoftmax(dim=1))
        else:
            sys.exit(f"torch_arch.py: unsupported item '{item}'")
        with torch.no_grad():   # track the shape for the next layer's input size
            shape = list(nn.Sequential(*layers).eval()(torch.zeros(1, 1, h, w)).shape[1:])
    return nn.Sequential(*layers)


torch.set_num_threads(int(sys.argv[1]))
H, W = 128, int(sys.argv[3]) if len(sys.argv) > 3 else 481
model = build(sys.argv[2], H, W)
print(f"params {sum(p.numel() for p in model.parameters())}")
bench("", model, (1, H, W), 400, train=False)
