#!/usr/bin/python3
"""Whether two safetensors model files hold the same tensors, bit for bit:
names, dtypes, shapes and bytes. The __metadata__ (training date, data
folder, ...) is not compared. Exit status 0 when they are the same, 1 when
not (naming the first difference), 2 on a bad file. Used to check that a
retrain reproduces a model (README: "Reproducing").
Usage: scripts/same_weights.py A.safetensors B.safetensors"""
import json
import struct
import sys


def tensors(path):
    with open(path, 'rb') as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f'{path}: too short for a safetensors file')
    n = struct.unpack('<Q', blob[:8])[0]
    if 8 + n > len(blob):
        raise ValueError(f'{path}: header longer than the file')
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    return {name: (t['dtype'], t['shape'], data[t['data_offsets'][0]:t['data_offsets'][1]])
            for name, t in header.items() if name != '__metadata__'}


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    except (OSError, ValueError) as e:
        print(f'same_weights: {e}', file=sys.stderr)
        return 2
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            print(f'{name}: only in {sys.argv[1] if name in a else sys.argv[2]}')
            return 1
        if a[name] != b[name]:
            what = 'dtype' if a[name][0] != b[name][0] else 'shape' if a[name][1] != b[name][1] else 'values'
            print(f'{name}: different {what}')
            return 1
    print(f'same {len(a)} tensors, bit for bit')
    return 0


if __name__ == '__main__':
    sys.exit(main())
