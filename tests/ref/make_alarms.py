#!/usr/bin/env python3
"""Sirens, alarms and bird calls, for the high-only and steady-level window
tests of src/dsp/music_cues.c (README, "Sirens, alarms, bird calls"). Every
one passed the music and noise tests before them.

  plain/      12 sounds, 8 s each at -20 dBFS: warbling, wailing, yelping,
              hi-lo and car-alarm sirens, a smoke alarm's beeps, bird song,
              bird chirps, a ticking clock, typing, a dog-like bark and a
              held tone with vibrato. HIGH_ONLY_SHARE_MIN was chosen between
              these and the training speakers' speech.
  recorded/   7 of them (warble, wail, yelp, hi-lo, car alarm, smoke alarm,
              bird song) as a microphone would hear them, 4 ways each: pink
              noise 20 dB under it, brown noise (traffic's rumble) 10 dB
              under it, passing by (the level rising 12 dB and falling
              again), and reverberant (RT60 0.5 s). Made after the choice,
              to measure it; the CLI test uses them. Its failures in noise
              led to the test over the background (HIGH_ONLY_ABOVE_BG_MIN).
  unseen/     made after that test, to measure it: 8 other sirens, alarms
              and birds (other pitches, rates and partials), 4 ways each:
              pink noise 15 dB under, white noise 15 dB under, traffic 5 dB
              under, and reverberant (RT60 0.3 s) with pink noise 20 dB
              under.

Usage: tests/ref/make_alarms.py OUTDIR   (Debian python3-numpy)
"""
import os
import sys

import numpy as np

from make_noise import write_wav

SR = 16000
N = SR * 8


def glide(f_inst, harmonics=1):
    """harmonics k = 1.. of a pitch gliding along F_INST (Hz), amplitude 1/k"""
    phase = 2 * np.pi * np.cumsum(f_inst) / SR
    return sum(np.sin(k * phase) / k for k in range(1, harmonics + 1))


def rms(x):
    return np.sqrt(np.mean(x ** 2))


def plain_sounds(rng, t):
    out = {}
    out['warble_siren'] = glide(900 + 300 * np.sin(2 * np.pi * 6 * t))
    out['wail_siren'] = glide(700 + 500 * np.sin(2 * np.pi * 0.25 * t), 5)
    out['yelp_siren'] = glide(700 + 500 * ((t * 3) % 1), 5)
    out['hilo_siren'] = glide(np.where((t * 1.0) % 1 < 0.5, 600, 800), 7)
    out['smoke_alarm'] = np.sin(2 * np.pi * 3150 * t) * (((t * 2) % 1) < 0.5)
    out['car_alarm'] = glide(1000 + 600 * np.sign(np.sin(2 * np.pi * 3 * t)), 3)
    out['birdsong'] = sum(np.sin(2 * np.pi * np.cumsum(3000 + 1500 * np.sin(2 * np.pi * (20 + 5 * i) * t)) / SR) *
                          (((t * (1.5 + 0.3 * i) + i * 0.2) % 1) < 0.3) for i in range(3))
    chirps = np.zeros(N)
    for s in range(0, N - 3000, SR // 3):
        chirps[s:s + 2000] += np.sin(2 * np.pi * np.cumsum(np.linspace(2000, 4000, 2000)) / SR) * np.hanning(2000)
    out['chirps'] = chirps
    clock = np.zeros(N)
    for s in range(0, N - 800, SR // 2):
        clock[s:s + 800] += np.sin(2 * np.pi * 2500 * np.arange(800) / SR) * np.exp(-np.arange(800) / 100)
    out['clock'] = clock
    typing = np.zeros(N)
    for s in rng.integers(0, N - 400, 60):
        typing[s:s + 400] += rng.standard_normal(400) * np.exp(-np.arange(400) / 40)
    out['typing'] = typing
    bark = np.zeros(N)
    for s in range(SR // 4, N - 4000, SR * 3 // 4):
        phase = 2 * np.pi * np.cumsum(np.linspace(450, 300, 3000)) / SR
        bark[s:s + 3000] += (sum(np.sin(k * phase) / k for k in range(1, 15)) + 0.3 * rng.standard_normal(3000)) * \
            np.hanning(3000)
    out['dog_like'] = bark
    out['vibrato_tone'] = glide(220 + 8 * np.sin(2 * np.pi * 5 * t), 8)
    return out


def coloured(rng, slope):
    """noise whose power falls as f^-SLOPE"""
    X = np.fft.rfft(rng.standard_normal(N))
    f = np.arange(len(X))
    f[0] = 1
    return np.fft.irfft(X / f ** (slope / 2), N)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    out_dir = sys.argv[1]
    for sub in ('plain', 'recorded', 'unseen'):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    t = np.arange(N) / SR
    plain = plain_sounds(np.random.default_rng(11), t)
    for name, x in plain.items():
        write_wav(os.path.join(out_dir, 'plain', name + '.wav'), x / rms(x) * 0.1, SR)
    rng = np.random.default_rng(5)
    rt = int(SR * 0.5)
    ir = rng.standard_normal(rt) * np.exp(-6.9 * np.arange(rt) / rt)   # 60 dB down after 0.5 s
    ir[0] = 5
    for name in ('warble_siren', 'wail_siren', 'yelp_siren', 'hilo_siren', 'car_alarm', 'smoke_alarm', 'birdsong'):
        v = plain[name] / rms(plain[name])
        pink, brown = coloured(rng, 1), coloured(rng, 2)
        ways = {
            'noise20': v + pink / rms(pink) * 0.1,
            'traffic10': v + brown / rms(brown) * 10 ** (-10 / 20),
            'passing': v * 10 ** ((-12 * np.abs(t - 4) / 4) / 20),
            'reverb': np.convolve(v, ir)[:N],
        }
        for way, x in ways.items():
            write_wav(os.path.join(out_dir, 'recorded', f'{name}_{way}.wav'), x / rms(x) * 0.1, SR)

    unseen_sounds(out_dir, t)


def unseen_sounds(out_dir, t):
    rng = np.random.default_rng(23)
    base = {
        'warble8': glide(800 + 200 * np.sin(2 * np.pi * 8 * t), 2),
        'yelp4': glide(1200 + 400 * ((t * 4) % 1), 3),
        'twotone': glide(np.where((t * 0.8) % 1 < 0.5, 520, 690), 6),
        'wail_high': glide(1100 + 400 * np.sin(2 * np.pi * 0.3 * t), 4),
        'beeps3400': np.sin(2 * np.pi * 3400 * t) * (((t * 2) % 1.5) < 0.25),
        'reversing': np.sin(2 * np.pi * 1000 * t) * (((t * 1.2) % 1) < 0.5),
        'bird_high': sum(np.sin(2 * np.pi * np.cumsum(5000 + 800 * np.sin(2 * np.pi * (30 + 7 * i) * t)) / SR) *
                         (((t * (2.1 + 0.4 * i) + i * 0.3) % 1) < 0.2) for i in range(2)),
        'trill': np.sin(2 * np.pi * np.cumsum(2500 + 700 * np.sign(np.sin(2 * np.pi * 12 * t))) / SR) *
        (((t * 0.5) % 1) < 0.7),
    }
    rt = int(SR * 0.3)
    ir = rng.standard_normal(rt) * np.exp(-6.9 * np.arange(rt) / rt)
    ir[0] = 5
    for name, v in base.items():
        v = v / rms(v)
        pink, white, brown, pink2 = coloured(rng, 1), rng.standard_normal(N), coloured(rng, 2), coloured(rng, 1)
        ways = {
            'pink15': v + pink / rms(pink) * 10 ** (-15 / 20),
            'white15': v + white / rms(white) * 10 ** (-15 / 20),
            'traffic5': v + brown / rms(brown) * 10 ** (-5 / 20),
            'reverb_pink20': np.convolve(v, ir)[:N] / rms(np.convolve(v, ir)[:N]) + pink2 / rms(pink2) * 0.1,
        }
        for way, x in ways.items():
            write_wav(os.path.join(out_dir, 'unseen', f'{name}_{way}.wav'), x / rms(x) * 0.1, SR)


if __name__ == '__main__':
    main()
