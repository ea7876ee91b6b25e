#!/usr/bin/python3
"""Fit the logistic model of src/dsp/music_cues.c and print its constants,
and the percentiles NOISE_MODULATION_MAX was chosen between.

Speech: the recordings of the training and validation speakers of
models/default/splits.csv (never the test speakers), clean, through the
telephone band and with white noise at 10 dB (scripts/degrade.sh), and with
music mixed 10 and 5 dB under them (speech over background music is still
speech). Music: songs 0-199 of tests/ref/make_music_midi.py rendered by
FluidSynth with its General MIDI sound font. Every 2 s window that
build/music_features scores is one example; the two classes weigh the same.
Gradient descent from zero on standardised statistics, a fixed number of
steps: the same data give the same constants. The noise threshold is not
fitted: the script prints the modulation ratio's percentiles on the same
speech and on 200 noises of tests/ref/make_noise.py (seed 1), and what the
threshold calls noise in each; likewise the extremes that the steady-level
and high-only thresholds were set between (speech, and the plain sounds of
tests/ref/make_alarms.py).

Needs (not installed by scripts/install-deps.sh, only for refitting):
    apt-get install fluidsynth fluid-soundfont-gm python3-mido
Usage: scripts/fit_music_cues.py [BUILD [WORKDIR]]   (after make build/music_features)
"""
import glob
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'ref'))
import make_music_midi  # noqa: E402

SOUNDFONT = '/usr/share/sounds/sf2/FluidR3_GM.sf2'
SONGS = range(0, 200)


def pcm(path):
    out = subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-i', path, '-f', 's16le', '-ac', '1',
                          '-ar', '16000', '-'], stdout=subprocess.PIPE, check=True).stdout
    return np.frombuffer(out, dtype=np.int16).astype(np.float64)


def write_wav(path, x):
    with wave.open(path, 'wb') as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(np.clip(np.round(x), -32768, 32767).astype(np.int16).tobytes())


SCORED = 5            # the music score's statistics; the sixth is the modulation ratio
NOISE_MODULATION_MAX = 0.8
STEADY_LEVEL_SD_MAX = 0.5   # the second statistic (level spread, dB)
HIGH_ONLY_SHARE_MIN = 0.9   # the seventh (share of high-only frames)
HIGH_ONLY_ABOVE_BG_MIN = 0.8   # the eighth (the same over the window's background)


def features(build, files):
    rows = []
    for k in range(0, len(files), 64):
        out = subprocess.run([os.path.join(build, 'music_features')] + files[k:k + 64], stdout=subprocess.PIPE,
                             check=True, text=True).stdout
        rows += [[float(v) for v in line.split()[2:10]] for line in out.splitlines()]
    return np.array(rows)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build'))
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix='vg-music-')
    if not os.path.exists(SOUNDFONT):
        sys.exit(f'fit_music_cues.py: {SOUNDFONT} missing: apt-get install fluidsynth fluid-soundfont-gm')
    os.makedirs(f'{work}/music', exist_ok=True)
    music = []
    for s in SONGS:
        mid, wav = f'{work}/music/song{s:04d}.mid', f'{work}/music/song{s:04d}.wav'
        if not os.path.exists(wav):
            make_music_midi.song(s, mid)
            subprocess.run(['fluidsynth', '-ni', '-q', '-F', wav, '-r', '16000', SOUNDFONT, mid],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        music.append(wav)
    # the speech of the training and validation speakers, as links in one folder
    speech = []
    with open(os.path.join(ROOT, 'models', 'default', 'splits.csv')) as f:
        next(f)
        for line in f:
            path, _, _, split = line.rstrip('\n').split(',')
            if split != 'test':
                speech.append(os.path.normpath(os.path.join(ROOT, 'models', 'default', path)))
    os.makedirs(f'{work}/clean', exist_ok=True)
    for i, p in enumerate(speech):
        link = f'{work}/clean/{i:03d}_{os.path.basename(p)}'
        if not os.path.lexists(link):
            os.symlink(p, link)
    conditions = [f'{work}/clean']
    for cond in ('telephone', 'noise10'):
        if not os.path.isdir(f'{work}/{cond}'):
            subprocess.run([os.path.join(ROOT, 'scripts', 'degrade.sh'), cond, f'{work}/clean', f'{work}/{cond}'],
                           check=True)
        conditions.append(f'{work}/{cond}')
    os.makedirs(f'{work}/mix', exist_ok=True)
    for i, p in enumerate(speech):
        if os.path.exists(f'{work}/mix/{i:03d}_snr5.wav'):
            continue
        x, m = pcm(p), pcm(music[i % len(music)])
        m = np.tile(m, len(x) // len(m) + 1)[:len(x)]
        for snr in (10, 5):
            g = np.sqrt(np.mean(x ** 2) / (np.mean(m ** 2) + 1e-9) / 10 ** (snr / 10))
            write_wav(f'{work}/mix/{i:03d}_snr{snr}.wav', x + g * m)
    conditions.append(f'{work}/mix')
    # features by condition, kept in WORKDIR (delete them after changing the statistics)
    def cached(name, files):
        path = f'{work}/features8_{name}.npy'
        if not os.path.exists(path):
            np.save(path, features(build, files))
        return np.load(path)
    sets = {os.path.basename(d): cached(os.path.basename(d), sorted(glob.glob(f'{d}/*'))) for d in conditions}
    Xm = cached('music', music)
    os.makedirs(f'{work}/noise', exist_ok=True)
    if not glob.glob(f'{work}/noise/*.wav'):
        make_noise = os.path.join(ROOT, 'tests', 'ref', 'make_noise.py')
        subprocess.run([sys.executable, make_noise, f'{work}/noise', '200', '1'], check=True)
    Xn = cached('noise', sorted(glob.glob(f'{work}/noise/*.wav')))
    ratio = lambda A: A[:, SCORED]
    print('# modulation ratio: noise (seed 1) 99th percentile %.2f, max %.2f; speech 1st percentile: %s' %
          (np.percentile(ratio(Xn), 99), ratio(Xn).max(),
           ', '.join(f'{k} {np.percentile(ratio(A), 1):.2f}' for k, A in sets.items())))
    print(f'# windows under NOISE_MODULATION_MAX {NOISE_MODULATION_MAX}: ' +
          ', '.join(f'{k} {np.mean(ratio(A) < NOISE_MODULATION_MAX) * 100:.1f}%' for k, A in sets.items()) +
          f', music {np.mean(ratio(Xm) < NOISE_MODULATION_MAX) * 100:.1f}%' +
          f', noise {np.mean(ratio(Xn) < NOISE_MODULATION_MAX) * 100:.1f}%')
    # the steady-level and high-only tests (session 17): speech's extremes
    # and the plain set of tests/ref/make_alarms.py, which they fall between
    if not glob.glob(f'{work}/alarms/plain/*.wav'):
        subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'ref', 'make_alarms.py'), f'{work}/alarms'],
                       check=True)
    Xa = cached('alarms', sorted(glob.glob(f'{work}/alarms/plain/*.wav')))
    print('# level spread (dB): speech minimum ' + ', '.join(f'{k} {A[:, 1].min():.2f}' for k, A in sets.items()) +
          f'; windows under STEADY_LEVEL_SD_MAX {STEADY_LEVEL_SD_MAX}: ' +
          ', '.join(f'{k} {np.sum(A[:, 1] < STEADY_LEVEL_SD_MAX)} (noise too: '
                    f'{np.sum((A[:, 1] < STEADY_LEVEL_SD_MAX) & (ratio(A) < NOISE_MODULATION_MAX))})'
                    for k, A in sets.items()))
    high = Xa[:, 6]
    print('# high-only share: speech maximum ' + ', '.join(f'{k} {A[:, 6].max():.2f}' for k, A in sets.items()) +
          f'; plain alarms: {np.sum(high > HIGH_ONLY_SHARE_MIN)} of {len(high)} windows above '
          f'HIGH_ONLY_SHARE_MIN {HIGH_ONLY_SHARE_MIN}, the smallest of those above 0.8 {high[high > 0.8].min():.2f}')
    print('# high-only over the background: speech maximum ' +
          ', '.join(f'{k} {A[:, 7].max():.2f}' for k, A in sets.items()) +
          f'; plain alarms: {np.sum(Xa[:, 7] > HIGH_ONLY_ABOVE_BG_MIN)} of {len(Xa)} windows above '
          f'HIGH_ONLY_ABOVE_BG_MIN {HIGH_ONLY_ABOVE_BG_MIN}')
    sets = {k: A[:, :SCORED] for k, A in sets.items()}
    Xm = Xm[:, :SCORED]
    Xs = np.concatenate(list(sets.values()))
    X = np.concatenate([Xs, Xm])
    y = np.r_[np.zeros(len(Xs)), np.ones(len(Xm))]
    mean, sd = X.mean(0), X.std(0)
    Z = (X - mean) / sd
    weight = np.where(y == 1, len(y) / (2 * len(Xm)), len(y) / (2 * len(Xs)))
    w, b = np.zeros(Z.shape[1]), 0.0
    for _ in range(5000):
        p = 1 / (1 + np.exp(-(Z @ w + b)))
        g = (p - y) * weight
        w -= 0.2 * (Z.T @ g / len(y) + 1e-3 * w)
        b -= 0.2 * g.mean()
    score = lambda A: 1 / (1 + np.exp(-(((A - mean) / sd) @ w + b)))
    print(f'# {len(Xs)} speech windows ({len(speech)} recordings), {len(Xm)} music windows ({len(music)} songs)')
    print('# windows called music: ' + ', '.join(f'{k} {np.mean(score(A) > 0.5) * 100:.1f}%' for k, A in sets.items()) +
          f', music {np.mean(score(Xm) > 0.5) * 100:.1f}%')
    fmt = lambda v: ', '.join(f'{x:.6g}' for x in v)
    print(f'static const double MEAN[MUSIC_SCORED] = {{{fmt(mean)}}};')
    print(f'static const double SD[MUSIC_SCORED] = {{{fmt(sd)}}};')
    print(f'static const double W[MUSIC_SCORED] = {{{fmt(w)}}};')
    print(f'static const double BIAS = {b:.6g};')


if __name__ == '__main__':
    main()
