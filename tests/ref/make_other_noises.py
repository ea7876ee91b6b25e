#!/usr/bin/env python3
"""Seventeen everyday non-speech sounds made another way than make_noise.py,
8 s each at -20 dBFS: white, pink, brown and blue noise, 50 Hz hum, a fan,
an engine, rain, wind, a vacuum cleaner, applause, DTMF tones, a ring tone,
beeps, a sweep, bursts of pink noise and 4 Hz-modulated pink noise. The
README's "Noise" table measures `predict` on them (17 unknown; 14 before the
noise test).

Usage: tests/ref/make_other_noises.py OUTDIR   (Debian python3-numpy)
"""
import sys

import numpy as np

from make_noise import write_wav

SR = 16000
N = SR * 8


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    out_dir = sys.argv[1]
    rng = np.random.default_rng(7)
    t = np.arange(N) / SR

    def coloured(exp):   # power ~ f^-exp
        X = np.fft.rfft(rng.standard_normal(N))
        f = np.arange(len(X))
        f[0] = 1
        return np.fft.irfft(X / f ** (exp / 2), N)

    out = {}
    out['white'] = rng.standard_normal(N)
    out['pink'] = coloured(1)
    out['brown'] = coloured(2)
    out['blue'] = coloured(-1)
    out['hum50'] = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 10))
    out['fan'] = np.convolve(rng.standard_normal(N), np.ones(8) / 8, 'same') + 0.3 * np.sin(2 * np.pi * 120 * t)
    swell = 1 + 0.8 * np.sin(2 * np.pi * 0.7 * t)
    out['engine'] = swell * sum(np.sin(2 * np.pi * (30 + 5 * np.sin(2 * np.pi * 0.3 * t)) * k * t) / k
                                for k in range(1, 20)) + 0.2 * coloured(1)
    rain = np.zeros(N)
    at = rng.integers(0, N, 3000)   # drawn before the amplitudes (the order fixes the sounds)
    rain[at] = rng.standard_normal(3000) * 5
    out['rain'] = np.convolve(rain, np.exp(-np.arange(200) / 30), 'same') + 0.1 * rng.standard_normal(N)
    out['am4hz_pink'] = coloured(1) * (np.maximum(0, np.sin(2 * np.pi * 4 * t)) ** 2)
    bursts, p = np.zeros(N), 0   # syllable-long bursts of pink noise at random times
    while p < N:
        n = rng.integers(1600, 4000)
        bursts[p:p + n] = np.hanning(n)[:max(0, min(n, N - p))]
        p += n + rng.integers(800, 4000)
    out['bursts_pink'] = coloured(1) * bursts
    out['sweep'] = np.sin(2 * np.pi * (100 * t + (4000 - 100) / (2 * 8) * t ** 2))
    out['dtmf'] = np.zeros(N)
    for i in range(16):
        a = i * SR // 2
        b = a + SR // 4
        lo, hi = [697, 770, 852, 941][i % 4], [1209, 1336, 1477][i % 3]
        out['dtmf'][a:b] = np.sin(2 * np.pi * lo * t[a:b]) + np.sin(2 * np.pi * hi * t[a:b])
    out['ring'] = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)) * ((t % 3) < 1)
    out['beeps'] = np.sin(2 * np.pi * 1000 * t) * ((t % 1) < 0.2)
    out['wind'] = coloured(2) * (1 + 0.9 * np.sin(2 * np.pi * 0.2 * t))
    clap = np.zeros(N)
    at = rng.integers(0, N, 800)
    clap[at] = rng.standard_normal(800) * 10
    out['crowd_clap'] = np.convolve(clap, rng.standard_normal(300) * np.exp(-np.arange(300) / 50), 'same')
    out['vacuum'] = (np.convolve(rng.standard_normal(N), [1, -0.5], 'same') +
                     0.5 * sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 6)))
    for name, x in out.items():
        x = x - x.mean()
        write_wav(f'{out_dir}/{name}.wav', x / np.sqrt(np.mean(x ** 2)) * 10 ** (-20 / 20), SR)


if __name__ == '__main__':
    main()
