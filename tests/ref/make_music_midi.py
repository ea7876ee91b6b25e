#!/usr/bin/python3
"""Instrumental music as MIDI, for the music cues (src/dsp/music_cues.c):
scripts/fit_music_cues.py renders songs 0-199 with FluidSynth to fit them,
and the tests render the fixtures written here (songs 1000-1011, under
tests/fixtures/music/) with TiMidity++ and the freepats samples only
(tests/fixtures/music/freepats-only.cfg), another synthesizer and other
instruments' samples, so that what the tests check was not fitted.

A song is 12 s at 70-150 beats per minute in a random key: a melody on one
of 13 General MIDI instruments (piano to synth lead), and any of chords on
one of 8 others, a bass line and a drum kit. Seeded: the same song number
gives the same file.

Usage: tests/ref/make_music_midi.py FIRST LAST OUTDIR   (songs FIRST..LAST-1)
       tests/ref/make_music_midi.py                     (the test fixtures)
"""
import os
import random
import sys

import mido

LEAD = [0, 4, 11, 19, 24, 26, 40, 56, 65, 71, 73, 80, 81]
CHORDS = [0, 4, 16, 24, 48, 52, 88, 89]
BASS = [32, 33, 34, 38]
SCALE = [0, 2, 4, 5, 7, 9, 11]


def song(seed, path, seconds=12):
    r = random.Random(seed)
    mid = mido.MidiFile(ticks_per_beat=480)
    tempo = r.choice([70, 90, 110, 128, 150])
    key = r.choice(range(48, 60))
    lead, chords = r.choice(LEAD), r.choice(CHORDS)
    beats = int(seconds * tempo / 60) + 1
    meta = mido.MidiTrack()
    mid.tracks.append(meta)
    meta.append(mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(tempo), time=0))

    def track(channel, program, notes):
        t = mido.MidiTrack()
        mid.tracks.append(t)
        if channel != 9:
            t.append(mido.Message('program_change', program=program, channel=channel, time=0))
        events = []
        for start, length, note, velocity in notes:
            events += [(start, 1, note, velocity), (start + length, 0, note, 0)]
        events.sort(key=lambda e: (e[0], e[1]))
        now = 0
        for tick, on, note, velocity in events:
            t.append(mido.Message('note_on' if on else 'note_off', note=note, velocity=velocity,
                                  channel=channel, time=tick - now))
            now = tick

    parts = r.sample(['lead', 'chords', 'bass', 'drums'], r.randint(1, 4))
    if 'lead' not in parts and 'chords' not in parts:
        parts.append('lead')
    if 'lead' in parts:
        notes, pos = [], 0
        while pos < beats * 480:
            d = r.choice([240, 480, 480, 960, 120])
            notes.append((pos, d, key + 12 + SCALE[r.randrange(7)] + 12 * r.choice([0, 0, 1]), r.randint(70, 110)))
            pos += d
        track(0, lead, notes)
    if 'chords' in parts:
        notes = []
        for b in range(0, beats, 2):
            root = r.randrange(7)
            notes += [(b * 480, 960, key + SCALE[(root + k) % 7], 70) for k in (0, 2, 4)]
        track(1, chords, notes)
    if 'bass' in parts:
        track(2, r.choice(BASS), [(b * 480, 400, key - 12 + SCALE[r.randrange(7)], 90) for b in range(beats)])
    if 'drums' in parts:
        notes = []
        for b in range(beats):
            notes += [(b * 480, 100, 36 if b % 2 == 0 else 38, 100), (b * 480 + 240, 100, 42, 80)]
        track(9, 0, notes)
    mid.save(path)


def main():
    if len(sys.argv) == 4:
        first, last, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    else:
        first, last = 1000, 1012
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'music')
    os.makedirs(out, exist_ok=True)
    for s in range(first, last):
        song(s, os.path.join(out, f'song{s:04d}.mid'))


if __name__ == '__main__':
    main()
