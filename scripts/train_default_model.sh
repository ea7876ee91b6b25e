#!/bin/bash
# Retrain the shipped model, models/voxgender-default.safetensors, from
# scratch: the real speech of ../shared/data (split by the committed
# models/default/splits.csv: held-out Test speakers never train or select the
# model) plus Debian text-to-speech voices (espeak-ng, flite) in training and
# validation only (scripts/build_default_data.sh). Fixed seed; about 2
# minutes on 2 cores with the feature cache warm (the training itself 1 min
# 47 s in session 28). Then run
# scripts/eval_default_model.sh.
# Usage: scripts/train_default_model.sh [BUILD_DIR [OUTPUT [-- TRAIN_OPTIONS...]]]
#   TRAIN_OPTIONS replace the shipped recipe's (below), to train a candidate
#   recipe on the same data the same way.
set -euo pipefail
BUILD="${1:-build}"
OUT="${2:-models/voxgender-default.safetensors}"
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
# cnn, every augmentation (level, noise, telephone band / low-pass, reverb,
# masks, random offsets and lengths), class-balanced loss, seed 1
RECIPE=(--arch cnn --epochs 40 --patience 10 --seed 1 --balance)
[ $# -gt 0 ] && RECIPE=("$@")
VG="$BUILD/voxgender"
W=$(mktemp -d /tmp/vg-default-XXXXXX); trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$W/cache}"

scripts/build_default_data.sh "$BUILD" "$W/data"
"$VG" check "$W/data" -q >&2 || true
# the model's trained_on metadata names the data, not this temporary folder
VOICES="34 espeak-ng and flite voices"
[ "${VG_TTS_PITCH_VARIANTS:-0}" = 1 ] &&
    VOICES="44 espeak-ng and flite voices (10 of them at the other class's pitch, VG_TTS_PITCH_VARIANTS=1)"
NAME="../shared/data (its train and validation speakers in models/default/splits.csv) and $VOICES, by scripts/build_default_data.sh"
"$VG" train "$W/data" --data-name "$NAME" "${RECIPE[@]}" -o "$W/model.safetensors" -q >&2
"$VG" predict -m "$W/model.safetensors" --help > /dev/null
mkdir -p "$(dirname "$OUT")"
cp "$W/model.safetensors" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2
