#!/bin/bash
# Retrain the shipped model, models/voxgender-default.safetensors, from
# scratch: the real speech of ../shared/data (split by the committed
# models/default/splits.csv: held-out Test speakers never train or select the
# model) plus Debian text-to-speech voices (espeak-ng, flite) in training and
# validation only (scripts/build_default_data.sh). Fixed seed; about 8
# minutes on 2 cores. Then run
# scripts/eval_default_model.sh.
# Usage: scripts/train_default_model.sh [BUILD_DIR] [OUTPUT]
set -euo pipefail
BUILD="${1:-build}"
OUT="${2:-models/voxgender-default.safetensors}"
VG="$BUILD/voxgender"
W=$(mktemp -d /tmp/vg-default-XXXXXX); trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$W/cache}"

scripts/build_default_data.sh "$BUILD" "$W/data"
"$VG" check "$W/data" -q >&2 || true
# cnn with a stem of stride 1x2 (conv2 sees all 128 mel bands), every
# augmentation (level, noise, telephone band / low-pass, reverb, masks,
# random offsets and lengths), class-balanced loss, speaker-balanced epochs,
# seed 1: the recipe that cross-validated at 95.4% (README, session 7)
ARCH='input 1 128 0; conv1: conv 16 k=3 s=1x2 p=1 bias=0; bn1: bn; relu; conv2: conv 32 k=3 p=1 bias=0; bn2: bn; relu; maxpool k=2; conv3: conv 64 k=3 p=1 bias=0; bn3: bn; relu; maxpool k=2; conv4: conv 128 k=3 p=1 bias=0; bn4: bn; relu; maxpool k=2; conv5: conv 128 k=3 p=1 bias=0; bn5: bn; relu; timepool; flatten; dropout p=0.3; fc: linear 2'
"$VG" train "$W/data" --arch "$ARCH" --epochs 40 --patience 10 --seed 1 --balance --balance-speakers \
    -o "$W/model.safetensors" -q >&2
"$VG" predict -m "$W/model.safetensors" --help > /dev/null
mkdir -p "$(dirname "$OUT")"
cp "$W/model.safetensors" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2
