#!/usr/bin/python3
"""PyTorch reference values for voxgender's CNN engine (llm.c-style dumps).

Writes tests/fixtures/nn/*.safetensors (written by the small writer below, so
that voxgender's reader is checked against an independent writer):
  layer_<case>.safetensors  x, y, dy (upstream gradient), dx, and for each
                            parameter P: P and P.grad (BN: running stats after)
  arch_<name>.safetensors   a whole network: x, labels, every parameter, the
                            logits, the cross-entropy loss, every parameter
                            gradient, and eval-mode logits after that pass
  optim.safetensors         p0, grads[10, P], and params after each of ten
                            steps for each optimizer configuration
  schedules.safetensors     learning rates of the schedules
Run with Debian's python3 (python3-torch): /usr/bin/python3 tests/ref/make_nn_ref.py
"""
import json
import os
import struct

import numpy as np
import torch

import torch.nn as nn
import torch.nn.functional as F

from st_writer import save_st
from torch_models import CNN, LeNet, TinyResNet, randomize_batchnorm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nn")
torch.manual_seed(0)


def layer_case(name, module, shape, extra=None):
    x = torch.randn(*shape, dtype=torch.float32, requires_grad=True)
    for p in module.parameters():
        with torch.no_grad():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 and "bn" in name else 0.0))
    pre = {}
    if isinstance(module, nn.BatchNorm2d):
        with torch.no_grad():
            module.running_mean.copy_(torch.randn(module.num_features) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features) + 0.5)
        pre = {"running_mean.before": module.running_mean.clone(),
               "running_var.before": module.running_var.clone()}
    y = module(x)
    dy = torch.randn_like(y)
    (y * dy).sum().backward()
    t = {"x": x, "y": y, "dy": dy, "dx": x.grad}
    t.update(pre)
    for pname, p in module.named_parameters():
        t[pname] = p
        t[pname + ".grad"] = p.grad
    for bname, b in module.named_buffers():
        if b.dtype == torch.float32:
            t[bname] = b
    save_st(os.path.join(OUT, f"layer_{name}.safetensors"), t, extra)


class Lambda(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


cases = [
    ("conv_k3s1p1", nn.Conv2d(3, 4, 3, 1, 1), (2, 3, 7, 9), "k=3 s=1 p=1 bias=1"),
    ("conv_k3x2s2x1p0x1_nobias", nn.Conv2d(2, 3, (3, 2), (2, 1), (0, 1), bias=False), (2, 2, 8, 6),
     "k=3x2 s=2x1 p=0x1 bias=0"),
    ("conv_k1", nn.Conv2d(4, 3, 1), (2, 4, 5, 5), "k=1 bias=1"),
    ("conv_k5s2p2", nn.Conv2d(2, 5, 5, 2, 2), (3, 2, 11, 10), "k=5 s=2 p=2 bias=1"),
    ("maxpool_k2", nn.MaxPool2d(2), (2, 3, 6, 7), "k=2"),
    ("maxpool_k3s2", nn.MaxPool2d(3, 2), (2, 2, 7, 9), "k=3 s=2"),
    ("avgpool_k2", nn.AvgPool2d(2), (2, 3, 6, 7), "k=2"),
    ("avgpool_k2x3s1x2", nn.AvgPool2d((2, 3), (1, 2)), (2, 2, 5, 9), "k=2x3 s=1x2"),
    ("gap", nn.AdaptiveAvgPool2d(1), (2, 3, 4, 5), ""),
    ("timepool", Lambda(lambda x: x.mean(dim=3, keepdim=True)), (2, 3, 4, 6), ""),
    ("relu", nn.ReLU(), (2, 3, 4, 5), ""),
    ("linear", nn.Linear(10, 6), (4, 10), "bias=1"),
    ("linear_nobias", nn.Linear(7, 3, bias=False), (5, 7), "bias=0"),
    ("logsoftmax", nn.LogSoftmax(dim=1), (4, 3), ""),
]
for name, mod, shape, opts in cases:
    layer_case(name, mod, shape, {"options": opts})

bn = nn.BatchNorm2d(3)
bn.train()
layer_case("bn_train", bn, (4, 3, 3, 5), {"options": "", "mode": "train"})
bn = nn.BatchNorm2d(4)
bn.eval()
layer_case("bn_eval", bn, (3, 4, 2, 3), {"options": "", "mode": "eval"})
bn = nn.BatchNorm2d(5)   # BatchNorm1d on [N, C] is the same computation on [N, C, 1, 1]
bn.train()
layer_case("bn_train_1d", bn, (8, 5, 1, 1), {"options": "", "mode": "train"})

# Softmax cross-entropy, plain and class-weighted.
logits = torch.randn(6, 2, requires_grad=True)
labels = torch.tensor([0, 1, 1, 0, 1, 1])
w = torch.tensor([2.0, 0.5])
for nm, weight in (("ce", None), ("ce_weighted", w)):
    lg = logits.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(lg, labels, weight=weight)
    loss.backward()
    t = {"logits": lg, "labels": labels.float(), "loss": loss.reshape(1), "dlogits": lg.grad}
    if weight is not None:
        t["weights"] = weight
    save_st(os.path.join(OUT, f"layer_{nm}.safetensors"), t)


# ---- whole architectures (names and layout as voxgender's descriptions)
def arch_case(name, model, x, labels):
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "bn" in pname and pname.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "bn" in pname:
                p.copy_(0.1 * torch.randn_like(p))
    t = {"x": x, "labels": labels.float()}
    for k, v in model.state_dict().items():
        if v.dtype == torch.float32:
            t[k] = v.clone()
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    t["logits"] = logits
    t["loss"] = loss.reshape(1)
    for pname, p in model.named_parameters():
        t[pname + ".grad"] = p.grad
    for bname, b in model.named_buffers():
        if b.dtype == torch.float32:
            t[bname + ".after"] = b
    model.eval()
    with torch.no_grad():
        t["logits_eval"] = model(x)
    save_st(os.path.join(OUT, f"arch_{name}.safetensors"), t)


arch_case("lenet", LeNet(), torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 1, 0]))
arch_case("cnn", CNN(), torch.randn(3, 1, 128, 40), torch.tensor([1, 0, 1]))

# ---- optimizers: ten steps on the same gradient sequence
P = 12
p0 = torch.randn(P)
grads = torch.randn(10, P)
configs = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "sgd_momentum_wd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.001),
    "adam_wd": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "sgd_clip": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
}
t = {"p0": p0, "grads": grads}
for name, make in configs.items():
    p = nn.Parameter(p0.clone())
    opt = make([p])
    hist = []
    for s in range(10):
        opt.zero_grad()
        p.grad = grads[s].clone()
        if name == "sgd_clip":
            torch.nn.utils.clip_grad_norm_([p], max_norm=0.5)
        opt.step()
        hist.append(p.detach().clone())
    t[name] = torch.stack(hist)
save_st(os.path.join(OUT, "optim.safetensors"), t)

# ---- learning-rate schedules
def lrs(make_sched, n):
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    s = make_sched(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return torch.tensor(out)


sched = {
    "step": lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10),
    "cosine": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10), 12),
    "cosine_warmup": lrs(lambda o: torch.optim.lr_scheduler.SequentialLR(
        o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 3, total_iters=2),
            torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7)], milestones=[3]), 12),
}
save_st(os.path.join(OUT, "schedules.safetensors"), sched)

# ---- residual networks (added last, so the fixtures above keep their values):
# ResNet's padded stem max-pool, and a small torchvision-layout ResNet whose
# BatchNorm names contain "bn" or "downsample.1"
layer_case("maxpool_k3s2p1", nn.MaxPool2d(3, 2, 1), (2, 2, 8, 9), {"options": "k=3 s=2 p=1"})
tiny = TinyResNet()
randomize_batchnorm(tiny)
arch_case("resnet_tiny", tiny, torch.randn(3, 3, 32, 32), torch.tensor([1, 0, 1]))
# ---- a stride-1 unpadded convolution with 11 output channels: voxgender runs
# it without lowering (src/nn/conv2d_direct.c), in blocks of 8 channels
layer_case("conv_k5_direct", nn.Conv2d(3, 11, 5), (2, 3, 12, 23), {"options": "k=5 bias=1"})
# ---- statistics pooling over time (session 9): mean and sqrt(biased var + 1e-5)
layer_case("timestats", Lambda(lambda x: torch.cat(
    [x.mean(dim=3, keepdim=True), torch.sqrt(x.var(dim=3, unbiased=False, keepdim=True) + 1e-5)], dim=3)),
    (2, 3, 4, 7), {"options": ""})
# ---- cepstral lifter over H (session 10): the K lowest orthonormal DCT-II
# coefficients of every column, transformed back; autograd gives dx
def lifter(x, k):
    h = x.shape[2]
    q, r = torch.arange(k, dtype=torch.float64)[:, None], torch.arange(h, dtype=torch.float64)[None, :]
    b = torch.cos(torch.pi * (r + 0.5) * q / h) * torch.sqrt(torch.where(q == 0, 1.0, 2.0) / h)
    b = b.float()
    return torch.einsum("kh,kg,ncgw->nchw", b, b, x)
layer_case("lifter", Lambda(lambda x: lifter(x, 5)), (2, 3, 12, 7), {"options": "n=5"})

print("torch", torch.__version__, "->", os.path.normpath(OUT))
