#!/usr/bin/python3
"""A full-size torchvision resnet18 for the import test, made at test time
(its 45 MB of weights are too big to commit; this script and torch's seed
make it reproducible). Writes into OUTDIR:
  resnet18_legacy.pth / resnet18_zip.pth  torchvision.models.resnet18 with a
                                          2-way fc (a fine-tuned male/female
                                          net), random weights and BatchNorm
                                          statistics, in both torch.save formats
  expected.txt                            its two eval-mode logits on IMAGE
                                          through Resize((224, 224)),
                                          ToTensor, ImageNet Normalize
Run: /usr/bin/python3 tests/ref/make_resnet18_ref.py OUTDIR IMAGE
"""
import os
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import randomize_batchnorm  # noqa: E402

out, image = sys.argv[1], sys.argv[2]
torch.manual_seed(18)
net = torchvision.models.resnet18(num_classes=2)
randomize_batchnorm(net)
net.eval()
sd = net.state_dict()
torch.save(sd, os.path.join(out, "resnet18_zip.pth"))
torch.save(sd, os.path.join(out, "resnet18_legacy.pth"), _use_new_zipfile_serialization=False)
tf = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor(),
                         transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
with torch.no_grad():
    logits = net(tf(Image.open(image).convert("RGB")).unsqueeze(0))[0]
with open(os.path.join(out, "expected.txt"), "w") as f:
    f.write("%.7g %.7g\n" % (float(logits[0]), float(logits[1])))
