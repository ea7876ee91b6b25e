#!/usr/bin/python3
"""Reference values for voxgender's audio front end, from torchaudio.

Writes tests/fixtures/frontend/:
  <name>.in.npy    input signal (float32, 16 kHz) for synthetic cases
  <name>.mel.npy   torchaudio MelSpectrogram() (defaults, run in float64)
                   -> torch.log2, stored as float32
                   [128, frames]; -inf where the power is exactly 0
  real clips (from ../shared/data) store no input: the C test decodes the
  FLAC itself, so decoding is checked too (<name>.head.npy holds the first
  samples torchaudio.load returned).
  seed_<name>.png  the reference project's image pipeline, emulated step by
                   step: torch log2 -> OpenCV convertScaleAbs (numpy, see
                   NOTES.md) -> matplotlib.pyplot.imsave(cmap='gray')
  cases.txt        one line per case: name kind path offset seconds

Run with Debian's python3 (python3-torch, python3-torchaudio,
python3-matplotlib):  /usr/bin/python3 tests/ref/make_frontend_ref.py
"""
import os
import sys

import numpy as np
import torch
import torchaudio
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "fixtures", "frontend")
DATA = os.path.join(REPO, "..", "shared", "data")
SR = 16000

# torchaudio's defaults are the definition. The reference runs them in float64:
# the float32 path's FFT round-off reaches 0.002-0.003 in log2 on quiet bands
# of loud frames, more than the 1e-3 tolerance the C code is held to.
mel64 = torchaudio.transforms.MelSpectrogram().double()
# The reference project computed in float32; its images are made that way.
mel32 = torchaudio.transforms.MelSpectrogram()


def log2mel(x, float32=False):
    with torch.no_grad():
        if float32:
            y = torch.log2(mel32(torch.from_numpy(x.astype(np.float32))))
        else:
            y = torch.log2(mel64(torch.from_numpy(x.astype(np.float64))))
        return np.ascontiguousarray(y.numpy().astype(np.float32))


def window(path, offset, seconds):
    wav, sr = torchaudio.load(path)
    assert sr == SR and wav.shape[0] == 1
    a = int(round(offset * SR))
    n = int(round(seconds * SR))
    x = wav[0, a:a + n].numpy()
    return np.pad(x, (0, n - len(x))).astype(np.float32)


def convert_scale_abs(v):
    """cv2.convertScaleAbs: saturate_cast<uchar>(|v|), cvRound = half-even;
    cvRound(inf/NaN) is INT_MIN, which saturates to 0."""
    out = np.rint(np.abs(v))
    out[~np.isfinite(v)] = 0
    return np.clip(out, 0, 255).astype(np.uint8)


cases = []
rng = np.random.default_rng(1234)
t = np.arange(SR, dtype=np.float64) / SR
synthetic = {
    "silence": np.zeros(SR, np.float32),
    "sine440": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
    "noise": rng.uniform(-0.3, 0.3, SR).astype(np.float32),
    # Shorter than one frame (400 samples), zero-padded into a 0.5 s window,
    # as vg_audio_load_window pads short recordings.
    "short": np.pad(rng.uniform(-0.5, 0.5, 300), (0, SR // 2 - 300)).astype(np.float32),
}
for name, x in synthetic.items():
    np.save(os.path.join(OUT, name + ".in.npy"), x)
    np.save(os.path.join(OUT, name + ".mel.npy"), log2mel(x))
    cases.append(f"{name} synthetic - 0 {len(x) / SR:g}")

real = [  # (name, path relative to ../shared/data, offset s, seconds)
    ("libri", "librispeech/audio/103/103-1240-0000.flac", 2.0, 1.5),
    ("vctk", "vctk/audio/p225/p225_003.flac", 0.0, 1.5),
    ("vox", "voxceleb1/audio/id10001/1zcIwhmdeo4_00001.flac", 5.0, 1.5),
    ("arctic", "cmu_arctic/audio/aew/cmu_arctic_us_aew_a0001.flac", 1.0, 1.5),
    ("mnist", "audiomnist/audio/01/0_01_0.flac", 0.0, 1.5),  # 0.75 s: padded
]
for name, rel, off, sec in real:
    x = window(os.path.join(DATA, rel), off, sec)
    np.save(os.path.join(OUT, name + ".head.npy"), x[:2000])
    np.save(os.path.join(OUT, name + ".mel.npy"), log2mel(x))
    cases.append(f"{name} real {rel} {off:g} {sec:g}")

# Seed-compatible images: first 60000 samples of a recording.
for name, rel in [("vox", "voxceleb1/audio/id10001/1zcIwhmdeo4_00001.flac"),
                  ("vctk", "vctk/audio/p225/p225_003.flac")]:
    x = window(os.path.join(DATA, rel), 0.0, 60000 / SR)
    img = convert_scale_abs(log2mel(x, float32=True))
    assert img.shape == (128, 301)
    plt.imsave(os.path.join(OUT, f"seed_{name}.png"), img, cmap="gray")
    cases.append(f"seed_{name} seed {rel} 0 3.75")

with open(os.path.join(OUT, "cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")
print(f"wrote {len(cases)} cases to {OUT} (torch {torch.__version__}, "
      f"torchaudio {torchaudio.__version__}, matplotlib {matplotlib.__version__})",
      file=sys.stderr)

# How Pillow decodes the reference project's test image (vg_image_read must agree).
from PIL import Image
seed_jpg = os.path.join(REPO, "..", "shared", "seed", "test_image_male.jpg")
a = np.asarray(Image.open(seed_jpg)).astype(np.int64)
with open(os.path.join(OUT, "seed_jpeg.txt"), "w") as f:
    f.write(f"{a.shape[1]} {a.shape[0]} {a.shape[2]} {a.sum()} "
            + " ".join(str(v) for v in a.reshape(-1)[::997][:40]) + "\n")
