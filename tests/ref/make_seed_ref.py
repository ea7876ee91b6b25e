#!/usr/bin/python3
"""Reference values for the seed-compatible front end and the reference
project's checkpoints (PyTorch + torchvision, as its Testing notebook did).

Writes tests/fixtures/seed/:
  seed_transform.safetensors  the 3x32x32 input tensor torchvision makes from
                              ../shared/seed/test_image_male.jpg and from a
                              synthetic grey PNG (synthetic.png, written here),
                              and the logits of CNN_handmade_1/2.pth on the
                              seed image (torch.load, eval mode)
Run: /usr/bin/python3 tests/ref/make_seed_ref.py
"""
import os

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from st_writer import save_st
from torch_models import LeNet  # the reference project's Net (same state_dict)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "seed")
SEED = os.path.join(HERE, "..", "..", "..", "shared", "seed")
os.makedirs(OUT, exist_ok=True)

tf = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor(),
                         transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])


t = {}
img = Image.open(os.path.join(SEED, "test_image_male.jpg")).convert("RGB")
x = tf(img)
t["seed_image_input"] = x
rng = np.random.default_rng(7)
syn = (rng.random((128, 301)) * 255).astype(np.uint8)
syn[40:60, :] = 250
Image.fromarray(syn, mode="L").save(os.path.join(OUT, "synthetic.png"))
t["synthetic_input"] = tf(Image.open(os.path.join(OUT, "synthetic.png")).convert("RGB"))
for name in ("CNN_handmade_1", "CNN_handmade_2"):
    net = LeNet()
    net.load_state_dict(torch.load(os.path.join(SEED, name + ".pth"), map_location="cpu"))
    net.eval()
    with torch.no_grad():
        t[name + ".logits"] = net(x.unsqueeze(0))[0]
    print(name, t[name + ".logits"].numpy())
print("input sum", float(x.sum()), "first", x.reshape(-1)[:4].numpy())
save_st(os.path.join(OUT, "seed_transform.safetensors"), t)
