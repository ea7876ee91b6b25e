#!/usr/bin/python3
"""Peer for the front-end benchmark: torchaudio.load + MelSpectrogram() + log2
on the first 6 s of each file, single-threaded. Prints "files_per_s X" and the
BLAS/threads torch used on stderr."""
import sys, time
import torch, torchaudio

torch.set_num_threads(1)
repeats, files = int(sys.argv[1]), sys.argv[2:]
mel = torchaudio.transforms.MelSpectrogram()


def one(path):
    wav, sr = torchaudio.load(path, num_frames=96000)
    x = wav.mean(0)
    if sr != 16000:
        x = torchaudio.functional.resample(x, sr, 16000)
    x = torch.nn.functional.pad(x, (0, max(0, 96000 - x.shape[0])))
    with torch.no_grad():
        return torch.log2(mel(x))


for f in files:  # warm-up
    one(f)
t0 = time.perf_counter()
for _ in range(repeats):
    for f in files:
        one(f)
el = time.perf_counter() - t0
blas = [l.strip() for l in torch.__config__.show().splitlines() if "BLAS" in l]
print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, threads "
      f"{torch.get_num_threads()}, {'; '.join(blas)}", file=sys.stderr)
print(f"files_per_s {len(files) * repeats / el:.1f}")
