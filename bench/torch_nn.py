#!/usr/bin/python3
"""Peer for the CNN engine benchmark: the same two networks in PyTorch, the
same thread count as voxgender's BLAS (argv[1]), same measurements."""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        ch = [(1, 16), (16, 32), (32, 64), (64, 128), (128, 128)]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, 2 if i == 0 else 1, 1, bias=False)
                                   for i, (a, b) in enumerate(ch))
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for _, b in ch)
        self.drop, self.fc = nn.Dropout(0.3), nn.Linear(1024, 2)

    def forward(self, x):
        for i, (c, b) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(b(c(x)))
            if i in (1, 2, 3):
                x = F.max_pool2d(x, 2)
        return self.fc(self.drop(torch.flatten(x.mean(dim=3, keepdim=True), 1)))


def bench(name, model, shape, lat_runs):
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
        print(f"{name}_latency_ms {statistics.median(lat) * 1e3:.4f}")
        model(x64)
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 2.0 or reps < 3:
            model(x64)
            reps += 1
        print(f"{name}_infer64_per_s {64 * reps / (time.perf_counter() - t0):.1f}")
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
    print(f"{name}_train32_per_s {32 * reps / (time.perf_counter() - t0):.1f}")


cfg = torch.__config__.show()
print(f"torch {torch.__version__} threads {torch.get_num_threads()} "
      f"mkldnn {torch.backends.mkldnn.is_available()} "
      f"{[l.strip() for l in cfg.splitlines() if 'BLAS_INFO' in l or 'CPU capability' in l]}",
      file=sys.stderr)
bench("lenet", LeNet(), (3, 32, 32), 1000)
bench("cnn", CNN(), (1, 128, 481), 200)
