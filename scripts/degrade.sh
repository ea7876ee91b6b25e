#!/bin/bash
# Degraded copies of a dataset folder, with the same layout (real WAV files,
# not links), so that `voxgender eval` scores a model on what users feed it:
#   telephone  8 kHz round trip through the 300-3400 Hz band (FFmpeg)
#   noise10    white noise 10 dB below each clip's own power (numpy; the
#              noise is seeded by the file's path, so every model and every
#              run sees the same clips)
#   opusN      an Opus round trip at N kbit/s (FFmpeg's libopus, in Ogg)
#   mp3N       an MP3 round trip at N kbit/s (FFmpeg's libmp3lame)
#   lenN       the first N seconds
# Usage: scripts/degrade.sh CONDITION SRC_DIR DST_DIR
set -euo pipefail
COND="$1" SRC="$2" DST="$3"
case "$COND" in
    telephone|noise10|len[0-9]*|opus[0-9]*|mp3[0-9]*) ;;
    *) echo "degrade.sh: unknown condition '$COND' (telephone, noise10, opusN, mp3N, lenN)" >&2; exit 2 ;;
esac
files() { (cd "$SRC" && find . \( -type l -o -type f \) | sort); }
if [ "$COND" = noise10 ]; then
    # one Python process for all files (numpy's start-up dominates a clip)
    files | /usr/bin/python3 -c "
import os, subprocess, sys, wave, zlib, numpy as np
src, dst = sys.argv[1], sys.argv[2]
for f in sys.stdin.read().splitlines():
    out = os.path.join(dst, os.path.splitext(f)[0] + '.wav')
    os.makedirs(os.path.dirname(out), exist_ok=True)
    pcm = subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-i', os.path.join(src, f),
                          '-f', 's16le', '-ac', '1', '-ar', '16000', '-'], stdout=subprocess.PIPE, check=True).stdout
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    rng = np.random.default_rng(zlib.crc32(f.encode()))   # seeded by the path: the same clip for every model
    p = np.mean(x ** 2)
    y = x + rng.standard_normal(len(x)) * np.sqrt(p / 10 ** (10 / 10))
    w = wave.open(out, 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(np.clip(np.round(y), -32768, 32767).astype(np.int16).tobytes()); w.close()
" "$SRC" "$DST"
    exit 0
fi
files | while read -r f; do
    mkdir -p "$DST/$(dirname "$f")"
    out="$DST/${f%.*}.wav"
    case "$COND" in
    telephone) ffmpeg -nostdin -loglevel error -i "$SRC/$f" -af "highpass=f=300,lowpass=f=3400" -ar 8000 -c:a pcm_s16le "$out" ;;
    opus*|mp3*)
        if [ "${COND#opus}" != "$COND" ]; then enc=(-c:a libopus -b:a "${COND#opus}k" -f ogg); else enc=(-c:a libmp3lame -b:a "${COND#mp3}k" -f mp3); fi
        ffmpeg -nostdin -loglevel error -i "$SRC/$f" -ac 1 "${enc[@]}" - |
        ffmpeg -nostdin -loglevel error -i - -ar 16000 -c:a pcm_s16le "$out" ;;
    len*) ffmpeg -nostdin -loglevel error -i "$SRC/$f" -t "${COND#len}" -c:a pcm_s16le "$out" ;;
    esac
done
