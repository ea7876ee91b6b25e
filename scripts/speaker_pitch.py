#!/usr/bin/python3
"""Median pitch (F0) of every speaker in models/default/splits.csv, from up to
three of their recordings, by a plain autocorrelation estimate (40 ms frames,
60-400 Hz, voiced when the peak is over half the energy; octave errors are
possible). Prints the women under 185 Hz and the men over 150 Hz, lowest
first, with their split, then each gender's percentiles. Analysis only: it
explains which held-out speakers the models miss; it chooses nothing.
  scripts/speaker_pitch.py [SPLITS.csv]   (run from the checkout; ../shared beside it)"""
import collections, csv, subprocess, sys

import numpy as np


def load(path):
    raw = subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-i', path, '-f', 'f32le', '-ac', '1',
                          '-ar', '16000', '-'], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32)


def pitches(x, sr=16000, frame=640, hop=320):
    out = []
    lo, hi = sr // 400, sr // 60
    for s in range(0, len(x) - frame, hop):
        f = x[s:s + frame] - x[s:s + frame].mean()
        if np.dot(f, f) < 1e-4 * frame:
            continue
        ac = np.correlate(f, f, 'full')[frame - 1:]
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.5 * ac[0]:
            out.append(sr / k)
    return out


def main():
    splits = sys.argv[1] if len(sys.argv) > 1 else 'models/default/splits.csv'
    paths, gender = collections.defaultdict(list), {}
    for r in csv.DictReader(open(splits)):
        paths[(r['speaker'], r['split'])].append(r['path'].replace('../../../shared', '../shared'))
        gender[r['speaker']] = r['gender']
    rows = []
    for (spk, split), ps in paths.items():
        f0 = [v for p in ps[:3] for v in pitches(load(p))]
        if f0:
            rows.append((spk, split, gender[spk], float(np.median(f0))))
    for spk, split, g, m in sorted(rows, key=lambda r: r[3]):
        if (g == 'female' and m < 185) or (g == 'male' and m > 150):
            print(f'{spk:24s} {split:10s} {g:6s} {m:6.1f} Hz')
    for g in ('female', 'male'):
        v = [m for _, _, gg, m in rows if gg == g]
        print(f'{g}: {len(v)} speakers, F0 percentiles 5/50/95: ' +
              ' '.join(f'{p:.0f}' for p in np.percentile(v, [5, 50, 95])) + ' Hz')


if __name__ == '__main__':
    main()
