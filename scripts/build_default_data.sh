#!/bin/bash
# The training data of the shipped model, in voxgender's layout, in DIR:
# ../shared/data's Train and Validation speakers (models/default/splits.csv)
# plus espeak-ng/flite voices (their validation voices validate, all others
# train). The held-out Test speakers are not linked.
# VG_DEFAULT_ALL_SPEAKERS=1 puts the real Validation speakers in Train too
# (the Validation split then holds only text-to-speech voices).
# Usage: scripts/build_default_data.sh BUILD_DIR DIR
set -euo pipefail
VG="$1/voxgender"
D="$2"
if [ "${VG_DEFAULT_ALL_SPEAKERS:-0}" = 1 ]; then
    grep -v ',test$' models/default/splits.csv | sed 's/,validation$/,train/' > models/default/.trainval.csv
else
    grep -v ',test$' models/default/splits.csv > models/default/.trainval.csv
fi
"$VG" split --manifest models/default/.trainval.csv --out "$D" >&2
rm -f models/default/.trainval.csv
scripts/make_tts_corpus.sh "$D.tts" 12 >&2
for split in Train Validation Test; do
    dest=Train; [ "$split" = Validation ] && dest=Validation
    for g in Male Female; do
        for v in "$D.tts/$split/$g"/*; do
            mkdir -p "$D/$dest/$g"
            ln -s "$(realpath "$v")" "$D/$dest/$g/tts-$(basename "$v")"
        done
    done
done
