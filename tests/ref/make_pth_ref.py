#!/usr/bin/python3
"""PyTorch checkpoints for voxgender's .pth reader (tests/fixtures/pth/).

  lenet_legacy.pth / lenet_zip.pth   a random LeNet state_dict (the reference
                                     project's names), saved in the legacy
                                     (<= 1.5) and zip (>= 1.6) formats; fc1.weight
                                     is non-contiguous (a transposed view)
  vgg_small_legacy.pth / _zip.pth    torchvision's VGG class with small
                                     make_layers features and a small classifier
                                     (same names: features.N, classifier.0/3/6),
                                     random weights
  expected.safetensors               inputs and eval-mode outputs of both nets
  resnet_tiny_legacy.pth / _zip.pth  torchvision's ResNet layout and BasicBlock
                                     with few channels (TinyResNet), 3 classes,
                                     random weights and BatchNorm statistics;
                                     expected_resnet.safetensors: its outputs
  hostile_*.pth                      files torch.load would execute or choke on:
                                     GLOBAL os.system, REDUCE on a non-callable,
                                     a float64 tensor, storage offsets beyond the
                                     storage, truncated files
Run: /usr/bin/python3 tests/ref/make_pth_ref.py
"""
import io
import os
import pickle
import struct
import zipfile

import torch
import torch.nn as nn
import torchvision

from st_writer import save_st
from torch_models import LeNet, TinyResNet, randomize_batchnorm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pth")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(5)


def save_both(sd, stem):
    torch.save(sd, os.path.join(OUT, stem + "_zip.pth"))
    torch.save(sd, os.path.join(OUT, stem + "_legacy.pth"), _use_new_zipfile_serialization=False)


lenet = LeNet().eval()
sd = lenet.state_dict()
sd["fc1.weight"] = sd["fc1.weight"].t().contiguous().t()     # same values, strides (1, 120)
assert not sd["fc1.weight"].is_contiguous()
save_both(sd, "lenet")

# torchvision's VGG with small layers; on 3x56x56 the features give 16x14x14,
# the adaptive average pool to 7x7 is an exact 2x2 average
vgg = torchvision.models.VGG(torchvision.models.vgg.make_layers([8, "M", 16, "M"]), num_classes=3,
                             init_weights=True)
vgg.classifier = nn.Sequential(nn.Linear(16 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(),
                               nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 3))
vgg.eval()
save_both(vgg.state_dict(), "vgg_small")

x_lenet, x_vgg = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 56, 56)
with torch.no_grad():
    save_st(os.path.join(OUT, "expected.safetensors"), {
        "lenet.x": x_lenet, "lenet.logits": lenet(x_lenet),
        "vgg.x": x_vgg, "vgg.logits": vgg(x_vgg)})

# ---- hostile and broken files
MAGIC = 0x1950a86a20f9469cfc6c


def legacy_with(payload_pickle):
    buf = io.BytesIO()
    for obj in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(obj, buf, protocol=2)
    buf.write(payload_pickle)
    pickle.dump([], buf, protocol=2)
    return buf.getvalue()


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo voxgender-was-pwned > /tmp/voxgender-pwned",))


evil = pickle.dumps({"conv1.weight": RunsCode()}, protocol=2)
open(os.path.join(OUT, "hostile_os_system_legacy.pth"), "wb").write(legacy_with(evil))
with zipfile.ZipFile(os.path.join(OUT, "hostile_os_system_zip.pth"), "w") as z:
    z.writestr("archive/data.pkl", evil)
    z.writestr("archive/version", "3\n")
# REDUCE on an allowed global that is not a callable we accept
bad_reduce = b"\x80\x02ctorch\nFloatStorage\nq\x00)R."
open(os.path.join(OUT, "hostile_reduce_legacy.pth"), "wb").write(legacy_with(bad_reduce))
# an unknown opcode (INST, protocol 0, which imports and calls)
open(os.path.join(OUT, "hostile_inst_legacy.pth"), "wb").write(legacy_with(b"(ios\nsystem\nS'x'\n."))
# float64 weights
sd64 = {k: v.double() for k, v in lenet.state_dict().items()}
torch.save(sd64, os.path.join(OUT, "wrong_dtype_legacy.pth"), _use_new_zipfile_serialization=False)
# truncated
data = open(os.path.join(OUT, "lenet_legacy.pth"), "rb").read()
open(os.path.join(OUT, "truncated_legacy.pth"), "wb").write(data[: len(data) // 2])
open(os.path.join(OUT, "truncated_pickle_legacy.pth"), "wb").write(data[:300])
zdata = open(os.path.join(OUT, "lenet_zip.pth"), "rb").read()
open(os.path.join(OUT, "truncated_zip.pth"), "wb").write(zdata[: len(zdata) // 2])
# storage offset beyond the storage: save a valid 5-element storage viewed
# from offset 3, then shrink that storage to 4 elements in the file, so the
# tensor's last element (index 4) lies outside it
sd_off = dict(lenet.state_dict())
sd_off["fc3.bias"] = torch.empty(0).set_(torch.arange(5.0).storage(), 3, (2,), (1,))
buf = io.BytesIO()
torch.save(sd_off, buf, _use_new_zipfile_serialization=False)
raw = bytearray(buf.getvalue())


class Skip(pickle.Unpickler):
    def persistent_load(self, pid):
        return None

    def find_class(self, module, name):
        return lambda *a, **k: None


f = io.BytesIO(bytes(raw))
for _ in range(4):
    Skip(f).load()
keys = pickle.load(f)
pos = f.tell()
for key in keys:
    numel = struct.unpack_from("<q", raw, pos)[0]
    elem = 4
    if numel == 5:
        struct.pack_into("<q", raw, pos, 4)
        del raw[pos + 8 + 16: pos + 8 + 20]
        break
    pos += 8 + numel * elem
open(os.path.join(OUT, "offset_out_of_range_legacy.pth"), "wb").write(bytes(raw))

# ---- a small torchvision-layout ResNet (added last: the files above keep their bytes)
torch.manual_seed(7)
res = TinyResNet(classes=3)
randomize_batchnorm(res)
res.eval()
save_both(res.state_dict(), "resnet_tiny")
x_res = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    save_st(os.path.join(OUT, "expected_resnet.safetensors"), {"resnet.x": x_res, "resnet.logits": res(x_res)})
print("wrote", sorted(os.listdir(OUT)))
