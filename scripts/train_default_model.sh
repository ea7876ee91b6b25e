#!/bin/bash
# Retrain the shipped model, models/voxgender-default.safetensors, from
# scratch: the real speech of ../shared/data that is not held out (train and
# validation speakers of the committed models/default/splits.csv; the Test
# speakers never train or select the model) plus Debian text-to-speech voices
# (espeak-ng, flite; scripts/build_default_data.sh). The recipe was chosen by
# 5-fold speaker cross-validation on those speakers
# (scripts/cv_default_recipe.sh; README, "The shipped model"): a fixed 40
# epochs, and the model of the last epoch is shipped. Fixed seed; about 4
# minutes on 2 cores. Then run scripts/eval_default_model.sh.
# Usage: scripts/train_default_model.sh [BUILD_DIR] [OUTPUT]
set -euo pipefail
BUILD="${1:-build}"
OUT="${2:-models/voxgender-default.safetensors}"
VG="$BUILD/voxgender"
W=$(mktemp -d /tmp/vg-default-XXXXXX); trap 'rm -rf "$W"' EXIT
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$W/cache}"

scripts/build_default_data.sh "$BUILD" "$W/data"
"$VG" check "$W/data" -q >&2 || true
# cnn, every augmentation (level, noise, telephone band / low-pass, reverb,
# masks, random offsets and lengths), class-balanced loss, seed 1
real=$(grep -v ',test$' models/default/splits.csv | tail -n +2)
what="../shared/data: the $(cut -d, -f2 <<< "$real" | sort -u | wc -l) speakers ($(wc -l <<< "$real") recordings) of models/default/splits.csv that are not held out; 34 espeak-ng and flite voices (scripts/make_tts_corpus.sh)"
"$VG" train "$W/data" --arch cnn --epochs 40 --patience 0 --seed 1 --balance --data-name "$what" \
    -o "$W/model.safetensors" -q >&2
"$VG" predict -m "$W/model.last.safetensors" --help > /dev/null
mkdir -p "$(dirname "$OUT")"
cp "$W/model.last.safetensors" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2
