#!/bin/bash
# Retrain the shipped model, models/voxgender-default.safetensors, from
# scratch: the real speech of ../shared/data (split by the committed
# models/default/splits.csv: held-out speakers never train or select the
# model) plus Debian text-to-speech voices (espeak-ng, flite) in training and
# validation only. Fixed seed; about 10 minutes on 2 cores.
# Usage: scripts/train_default_model.sh [BUILD_DIR] [OUTPUT]
set -euo pipefail
BUILD="${1:-build}"
OUT="${2:-models/voxgender-default.safetensors}"
VG="$BUILD/voxgender"
W=$(mktemp -d /tmp/vg-default-XXXXXX); trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$W/cache}"

# 1. real speech, as the committed lists say (the Test split is not linked)
grep -v ',test$' models/default/splits.csv > "$W/trainval.csv"
cp "$W/trainval.csv" models/default/trainval.tmp.csv
"$VG" split --manifest models/default/trainval.tmp.csv --out "$W/data" >&2
rm -f models/default/trainval.tmp.csv

# 2. synthetic voices: their validation voices validate, all others train
scripts/make_tts_corpus.sh "$W/tts" 12 >&2
for split in Train Validation Test; do
    dest=Train; [ "$split" = Validation ] && dest=Validation
    for g in Male Female; do
        for v in "$W/tts/$split/$g"/*; do
            mkdir -p "$W/data/$dest/$g"
            ln -s "$v" "$W/data/$dest/$g/tts-$(basename "$v")"
        done
    done
done
"$VG" check "$W/data" -q >&2 || true

# 3. train (cnn, all augmentations, seed 1)
"$VG" train "$W/data" --arch cnn --epochs 40 --patience 10 --seed 1 --balance -o "$W/model.safetensors" -q >&2
mkdir -p "$(dirname "$OUT")"
cp "$W/model.safetensors" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2
