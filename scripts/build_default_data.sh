#!/bin/bash
# The training data of the shipped model, in voxgender's layout, in DIR: every
# real speaker of ../shared/data that is not held out (models/default/
# splits.csv rows "train" and "validation") in Train, plus espeak-ng/flite
# voices (their validation voices in Validation, all others in Train). The
# held-out Test speakers are not linked. No real speaker validates: the
# recipe (epochs, augmentation) was chosen by speaker cross-validation
# (scripts/cv_default_recipe.sh), and the model of the last epoch is kept.
# Usage: scripts/build_default_data.sh BUILD_DIR DIR
set -euo pipefail
shopt -s nullglob
VG="$1/voxgender"
D="$2"
grep -v ',test$' models/default/splits.csv | sed 's/,validation$/,train/' > models/default/.trainval.csv
"$VG" split --manifest models/default/.trainval.csv --out "$D" >&2
rm -f models/default/.trainval.csv
scripts/make_tts_corpus.sh "$D.tts" 12 >&2
for split in Train Validation Test; do
    dest=Train; [ "$split" = Validation ] && dest=Validation
    for g in Male Female; do
        mkdir -p "$D/$dest/$g"
        for v in "$D.tts/$split/$g"/*; do
            ln -s "$(realpath "$v")" "$D/$dest/$g/tts-$(basename "$v")"
        done
    done
done
