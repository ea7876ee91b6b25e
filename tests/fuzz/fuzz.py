#!/usr/bin/python3
"""Structured fuzzing of voxgender's file readers, run against a sanitizer build.

    tests/fuzz/fuzz.py TARGET VOXGENDER SEED N      (make fuzz runs all three)

TARGET
  model  the shipped model with its metadata (front end, architecture, history),
         tensor entries, header bytes or length mutated; `predict -m` on a clip
  pth    the reference checkpoint and the zip-format test checkpoint with their
         pickles' integers, opcodes and bytes mutated, storages cut, zip members
         dropped; `import --arch lenet`, and `import` recognising the architecture
  media  WAV headers (rate, channels, bits, sizes) and PNG/JPEG bytes mutated;
         `predict` (on the file, and on it piped in), `spectrogram` and `segment`
         (its streaming reader) on them

A case is bad when the program crashes (a sanitizer report, a signal), runs
over 120 s, or fails without exactly one clean line on stderr (no control
characters: errors quote the file's own strings) or leaves an output file
behind. Bad inputs are kept in the work folder. Exit status 1 if any case
was bad. Run from the repository root, with ../shared beside it.
"""
import io, json, os, pickletools, random, struct, subprocess, sys, tempfile, zipfile
from collections import Counter

SHARED = os.environ.get('VG_SHARED', '../shared')
CLIP = f'{SHARED}/data/librispeech/audio/103/103-1240-0000.flac'
WEIRD = ['0', '-1', '1', '2', '3', '1e9', '1e30', 'nan', 'inf', '-inf', '', ' ', 'x', '0.5', '4294967296',
         '-2147483648', '99999999999999999999', '1e-30', '65536', '481', '16000']


def flip(b, most, within=None):
    """b (a bytearray) with 1 to MOST random bytes replaced, in its first WITHIN bytes"""
    for _ in range(random.randint(1, most)):
        b[random.randrange(min(within or len(b), len(b)))] = random.randrange(256)
    return b


def safetensors_parts(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


# ---- model: the shipped model file, mutated
def mutate_arch(a):
    t = a.split(' ')
    for _ in range(random.randint(1, 3)):
        i = random.randrange(len(t))
        r = random.random()
        if r < 0.3:
            del t[i]
        elif r < 0.5:
            t.insert(i, t[random.randrange(len(t))])
        elif r < 0.8 and '=' in t[i]:
            t[i] = t[i].split('=')[0] + '=' + random.choice(WEIRD + ['1x0', '0x1', '3x', 'x3', '2x2x2'])
        else:
            t[i] = random.choice(WEIRD + [';', ':', 'conv', 'bn', 'relu', 'timepool', 'flatten', 'linear',
                                          'maxpool', 'lifter', 'timestats', 'gap'])
        t = t or ['x']
    return ' '.join(t)


def model_case(work, base):
    h = json.loads(json.dumps(base[0]))
    data = bytearray(base[1])
    kind = random.random()
    if kind < 0.35:   # metadata values
        m = h['__metadata__']
        for _ in range(random.randint(1, 3)):
            k = random.choice(list(m))
            r = random.random()
            if r < 0.15:
                del m[k]
            elif k == 'arch':
                m[k] = mutate_arch(m[k])
            elif k in ('labels', 'label_codes'):
                m[k] = random.choice(['', 'a', 'a,b,c', ',', 'female', '1,1', 'male,female', '1,0', '0,1,2'])
            elif k == 'history':
                m[k] = random.choice(['[', '[[1,2]]', '[[]]', '{}', 'null', '[[1,"a",null]]', '[' * 10000])
            else:
                m[k] = random.choice(WEIRD)
    elif kind < 0.65:   # one tensor entry
        k = random.choice([k for k in h if k != '__metadata__'])
        t = h[k]
        r = random.random()
        if r < 0.3:
            t['shape'] = random.choice([[], [0], [1], [2**31], [2**32 + 16], [-1], [1e30], t['shape'][::-1],
                                        t['shape'] + [1]])
        elif r < 0.5:
            t['dtype'] = random.choice(['F16', 'F64', 'I32', 'BF16', 'U8', 'f32', '', 'F32 '])
        elif r < 0.8:
            a, b = t['data_offsets']
            t['data_offsets'] = random.choice([[b, a], [a, a], [a, b + 4], [a - 4, b], [0, len(data) + 4],
                                               [2**63, 2**63 + 4], [-4, 0], [a, 2**64 - 1], [a], ['0', b]])
        elif r < 0.9:
            del h[k]
        else:
            h[k + '\n\x1b[2J'] = dict(t)   # a name no terminal should see as is
    elif kind < 0.8:   # weights
        flip(data, 8)
    hb = json.dumps(h).encode()
    out = bytearray(struct.pack('<Q', len(hb)) + hb + data)
    if kind >= 0.8:   # raw bytes: truncation, header bytes, header length
        r = random.random()
        if r < 0.4:
            out = out[:random.randrange(len(out))]
        elif r < 0.7:
            for _ in range(random.randint(1, 4)):
                out[random.randrange(8, 8 + len(hb))] = random.randrange(32, 127)
        else:
            out[:8] = struct.pack('<Q', random.choice([0, 1, len(hb) - 1, len(hb) + 1, len(out), 2**63, 2**64 - 1]))
    p = f'{work}/model.safetensors'
    open(p, 'wb').write(out)
    return bytes(out), '.safetensors', [['predict', '-q', '-m', p, CLIP]], None


# ---- pth: PyTorch checkpoints, mutated
INTS = [0, 1, -1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, -2**63, 2**64, 3, 7, 16, 1 << 40, 10**30]


def mutate_pickle(pk):
    ops = list(pickletools.genops(pk))
    b = bytearray(pk)
    r = random.random()
    ints = [(op, arg, pos) for op, arg, pos in ops
            if op.name in ('BININT', 'BININT1', 'BININT2', 'BINPUT', 'BINGET', 'LONG_BINPUT', 'LONG_BINGET')]
    if r < 0.5 and ints:   # one integer argument (sizes, offsets, strides, memo slots)
        op, arg, pos = random.choice(ints)
        v = random.choice(INTS + [arg + 1, arg - 1, arg * 2, arg * 1000])
        if op.name == 'BININT2' and 0 <= v < 65536:
            b[pos + 1:pos + 3] = struct.pack('<H', v)
        elif op.name == 'BININT' and -2**31 <= v < 2**31:
            b[pos + 1:pos + 5] = struct.pack('<i', v)
        elif op.name in ('LONG_BINPUT', 'LONG_BINGET') and 0 <= v < 2**32:
            b[pos + 1:pos + 5] = struct.pack('<I', v)
        elif 0 <= v < 256:
            b[pos + 1] = v
        else:
            b[pos + 1] = random.randrange(256)
    elif r < 0.7:   # drop an opcode's bytes
        pos = random.choice(ops)[2]
        del b[pos:pos + random.randint(1, 6)]
    elif r < 0.85:
        flip(b, 4)
    else:   # stray structural opcodes
        pos = random.choice(ops)[2]
        b[pos:pos] = bytes([random.choice(b'()]}ltRs.0123456789NJKMXqh')]) * random.randint(1, 3)
    return bytes(b)


def pth_case(work, base):
    src = random.choice(base)
    b = open(src, 'rb').read()
    if b[:2] == b'PK' and random.random() < 0.1:   # the archive's own bytes
        out = bytes(flip(bytearray(b), 8))
    elif b[:2] == b'PK':   # its members, rezipped
        z = zipfile.ZipFile(io.BytesIO(b))
        files = {n: z.read(n) for n in z.namelist()}
        r = random.random()
        if r < 0.67:
            pk = next(n for n in files if n.endswith('data.pkl'))
            files[pk] = mutate_pickle(files[pk])
        elif r < 0.89:
            d = random.choice([n for n in files if '/data/' in n])
            files[d] = files[d][:random.randrange(len(files[d]) + 1)]
        else:
            del files[random.choice(list(files))]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as zo:
            for n, d in files.items():
                zo.writestr(n, d)
        out = buf.getvalue()
    else:   # legacy: five pickles, then the storages' raw bytes
        f = io.BytesIO(b)
        spans = []
        for _ in range(5):
            start = f.tell()
            list(pickletools.genops(f))
            spans.append((start, f.tell()))
        r = random.random()
        if r < 0.75:
            s, e = spans[random.choice([1, 2, 3, 3, 3, 4])]
            out = b[:s] + mutate_pickle(b[s:e]) + b[e:]
        elif r < 0.9:
            out = b[:random.randrange(len(b))]
        else:   # bytes of the pickles
            out = bytes(flip(bytearray(b), 8, spans[4][1]))
    p, o = f'{work}/in.pth', f'{work}/out.safetensors'
    open(p, 'wb').write(out)
    if os.path.exists(o):
        os.unlink(o)
    # named, and recognised from its tensors (no --arch)
    return out, '.pth', [['import', p, '--arch', 'lenet', '-o', o], ['import', p, '-o', o]], o


# ---- media: recordings and images, mutated
def wav_bytes(ch, bits):
    n = 16000
    x = bytes(random.randrange(256) for _ in range(n * ch * bits // 8))
    fmt = struct.pack('<HHIIHH', 3 if bits == 32 else 1, ch, 16000, 16000 * ch * bits // 8, ch * bits // 8, bits)
    return bytearray(b'RIFF' + struct.pack('<I', 36 + len(x)) + b'WAVEfmt ' + struct.pack('<I', 16) + fmt +
                     b'data' + struct.pack('<I', len(x)) + x)


def media_case(work, base):
    lenet, png = base
    if random.random() < 0.6:
        b = wav_bytes(random.choice([1, 2]), random.choice([16, 32]))
        fields = [(4, '<I'), (16, '<I'), (20, '<H'), (22, '<H'), (24, '<I'), (28, '<I'), (32, '<H'), (34, '<H'),
                  (40, '<I')]
        r = random.random()
        for _ in range(random.randint(1, 3)):
            if r < 0.7:
                off, f = random.choice(fields)
                v = random.choice([0, 1, 2, 3, 7, 8, 255, 256, 65535, 2**31 - 1, 2**31, 2**32 - 1, 8000, 44100,
                                   768000, 768001, 999])
                b[off:off + struct.calcsize(f)] = struct.pack(f, v & (0xFFFF if f == '<H' else 0xFFFFFFFF))
            elif r < 0.85:
                b = b[:random.randrange(60)]
            else:
                b[random.randrange(44)] = random.randrange(256)
        p = f'{work}/in.wav'
        open(p, 'wb').write(b)
        # and piped in: predict's '-' keeps a recording it sees on stdin
        return bytes(b), '.wav', [['predict', '-q', p], (['predict', '-q', '-'], p),
                                  ['spectrogram', '-q', p, '-o', f'{work}/spec'], ['segment', '-q', p]], None
    src = random.choice([f'{SHARED}/seed/test_image_male.jpg', png])
    b = bytearray(open(src, 'rb').read())
    r = random.random()
    if r < 0.4:   # the header
        flip(b, 6, 400)
    elif r < 0.7:
        b = b[:random.randrange(len(b))]
    else:
        flip(b, 20)
    ext = os.path.splitext(src)[1]
    p = f'{work}/in{ext}'
    open(p, 'wb').write(b)
    return bytes(b), ext, [['predict', '-q', '-m', lenet, p]], None


def media_base(vg, work):
    """a lenet model (trained on a few TTS clips) and a grey PNG of the seed's size"""
    import zlib
    raw = b''.join(b'\0' + bytes(random.randrange(256) for _ in range(301)) for _ in range(128))
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    png = f'{work}/base.png'
    open(png, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 301, 128, 8, 0, 0, 0, 0)) +
                          chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    subprocess.run(['scripts/make_tts_corpus.sh', f'{work}/tts', '2'], check=True, capture_output=True)
    lenet = f'{work}/lenet.safetensors'
    subprocess.run([vg, 'train', f'{work}/tts', '--arch', 'lenet', '--epochs', '1', '-o', lenet, '-q'],
                   check=True, capture_output=True)
    return lenet, png


def judge(r, output):
    err = r.stderr.strip()
    if r.returncode == 99 or r.returncode < 0 or 'Sanitizer' in err or 'runtime error' in err:
        return 'crash: ' + err[-1500:]
    if r.returncode == 0:
        return None
    if len(err.splitlines()) != 1:
        return 'not one line: ' + repr(err[:300])
    if any(ord(c) < 32 or c == '\x7f' or c == '\ufffd' for c in err):
        return 'unprintable: ' + repr(err[:300])
    if output and os.path.exists(output):
        return 'output left behind'
    return None


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ('model', 'pth', 'media'):
        sys.exit(__doc__)
    target, vg, seed, n = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    random.seed(seed)
    work = tempfile.mkdtemp(prefix=f'vg-fuzz-{target}-')
    base = {'model': lambda: safetensors_parts('models/voxgender-default.safetensors'),
            'pth': lambda: [f'{SHARED}/seed/CNN_handmade_1.pth', 'tests/fixtures/pth/lenet_legacy.pth',
                            'tests/fixtures/pth/lenet_zip.pth'],
            'media': lambda: media_base(vg, work)}[target]()
    make = {'model': model_case, 'pth': pth_case, 'media': media_case}[target]
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=1:exitcode=99',
               UBSAN_OPTIONS='halt_on_error=1:exitcode=99:print_stacktrace=1')
    outcomes, bad = Counter(), 0
    for i in range(n):
        data, ext, cmds, output = make(work, base)
        for cmd in cmds:
            cmd, stdin_path = cmd if isinstance(cmd, tuple) else (cmd, None)   # (command, file for its stdin)
            if output and os.path.exists(output):   # each command is judged on its own output
                os.unlink(output)
            try:
                with open(stdin_path or os.devnull, 'rb') as stdin:
                    r = subprocess.run([vg] + cmd, stdin=stdin, capture_output=True, text=True, errors='replace',
                                       timeout=120, env=env)
                why = judge(r, output)
                outcomes[f'{cmd[0]} exit {r.returncode}'] += 1
            except subprocess.TimeoutExpired:
                why = 'over 120 s'
            if why:
                bad += 1
                keep = f'{work}/bad-{i}{ext}'
                open(keep, 'wb').write(data)
                print(f'BAD case {i} ({" ".join(cmd[:1])}): {why}\n    input kept as {keep}')
    print(f'fuzz {target}: {n} cases, seed {seed}: ' + ', '.join(f'{k} x{v}' for k, v in sorted(outcomes.items())))
    print(f'fuzz {target}: {bad} bad')
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
