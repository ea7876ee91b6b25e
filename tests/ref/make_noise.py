#!/usr/bin/env python3
"""Generated noise recordings, for the noise test of src/dsp/music_cues.c.

Each is 3-10 s of Gaussian noise with a random spectral slope (power ~ f^-s,
s from -1.5, bluer than white, to 2.5, beyond brown), sometimes band-limited
(a channel, a fan's band), sometimes with a resonance (a duct, a machine),
mains hum with harmonics, or slow swells (wind, traffic passing: 0.05-1 Hz,
20-95% deep), at -45 to -10 dBFS. Seed 1's 200 chose the threshold
NOISE_MODULATION_MAX; seeds 2 and 3 measured it (README, "Noise").

Usage: tests/ref/make_noise.py OUTDIR COUNT SEED   (Debian python3-numpy)
"""
import sys
import wave

import numpy as np


def write_wav(path, x, sr):
    pcm = (np.clip(x, -1, 1) * 32767).astype('<i2')
    with wave.open(path, 'wb') as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes(pcm.tobytes())


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sr = 16000
    rng = np.random.default_rng(seed)
    for i in range(count):
        n = int(sr * rng.uniform(3, 10))
        t = np.arange(n) / sr
        X = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sr)
        f[0] = f[1]
        slope = rng.uniform(-1.5, 2.5)
        H = f ** (-slope / 2)
        if rng.random() < 0.4:
            lo = rng.uniform(0, 1000)
            hi = rng.uniform(lo + 500, 8000)
            H = H * (1 / (1 + (lo / f) ** 4)) * (1 / (1 + (f / hi) ** 4))
        if rng.random() < 0.3:
            fc = rng.uniform(100, 4000)
            bw = rng.uniform(20, 400)
            H = H * (1 + rng.uniform(2, 20) / (1 + ((f - fc) / bw) ** 2))
        x = np.fft.irfft(X * H, n)
        x /= np.sqrt(np.mean(x ** 2))
        if rng.random() < 0.3:
            f0 = rng.choice([50, 60, 100, 120])
            amp = rng.uniform(0.1, 1)
            x += amp * sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8))
        if rng.random() < 0.5:
            fm = rng.uniform(0.05, 1.0)
            depth = rng.uniform(0.2, 0.95)
            x *= 1 + depth * np.sin(2 * np.pi * fm * t + rng.uniform(0, 6))
        x /= np.sqrt(np.mean(x ** 2))
        x *= 10 ** (rng.uniform(-45, -10) / 20)
        write_wav(f'{out}/noise{seed:02d}_{i:03d}.wav', x, sr)


if __name__ == '__main__':
    main()
