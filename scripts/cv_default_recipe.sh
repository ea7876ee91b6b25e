#!/bin/bash
# K-fold speaker cross-validation of a training recipe for the shipped model,
# on the real speakers that are NOT held out (models/default/splits.csv rows
# "train" and "validation"; the "test" speakers are never read). Each fold's
# speakers are classified by a model trained on the other folds plus the
# text-to-speech training voices; the TTS validation voices are the
# validation split (a model-selection signal that involves no real speaker).
# The model of the last epoch is evaluated, so use a fixed epoch count
# (--patience 0). Prints the pooled speaker-balanced accuracy, per-class
# speaker recall and the mean per-recording log-loss over all folds, for the
# clean recordings and for their telephone, noisy and Opus (12 kbit/s)
# copies (the conditions of the held-out table, scripts/degrade.sh).
# This is how recipe changes for the shipped model are compared without
# touching the held-out speakers.
# VG_CV_TRAIN_FOLDS=N trains each fold's model on N of the other K-1 folds
# (fold k is scored; folds k+1 .. k+K-1-N, mod K, are left out of it): with
# fewer speakers in training, the same scored speakers, for a learning curve.
# Usage: scripts/cv_default_recipe.sh BUILD_DIR OUT_DIR K -- TRAIN_OPTIONS...
#   e.g. scripts/cv_default_recipe.sh build /tmp/cv-base 5 -- --arch cnn \
#          --epochs 40 --patience 0 --seed 1 --balance
set -euo pipefail
shopt -s nullglob
BUILD="$1"; OUT="$2"; K="$3"; shift 3
[ "${1:-}" = "--" ] && shift
VG="$BUILD/voxgender"
mkdir -p "$OUT"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-/tmp/vg-cv-cache}"
TTS="${VG_CV_TTS:-/tmp/vg-cv-tts}"
[ -d "$TTS/Train" ] || scripts/make_tts_corpus.sh "$TTS" 12 >&2

# fold of each non-test speaker: speakers of one gender sorted by a hash of
# their id, dealt round-robin (stratified by gender, independent of order)
/usr/bin/python3 - "$K" "$OUT" "${VG_CV_TRAIN_FOLDS:-$((K - 1))}" <<'EOF'
import csv, sys, zlib, collections
K, out, n_train = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if not 1 <= n_train <= K - 1:
    sys.exit(f'cv_default_recipe: VG_CV_TRAIN_FOLDS must be 1..{K - 1}, got {n_train}')
rows = [r for r in csv.DictReader(open('models/default/splits.csv')) if r['split'] != 'test']
spk = sorted({(r['gender'], r['speaker']) for r in rows})
fold = {}
for g in ('female', 'male'):
    s = sorted((zlib.crc32(x.encode()), x) for gg, x in spk if gg == g)
    for i, (_, x) in enumerate(s): fold[x] = i % K
for k in range(K):
    with open(f'{out}/fold{k}.csv', 'w', newline='') as f:
        w = csv.writer(f); w.writerow(['path', 'speaker', 'gender', 'split'])
        left_out = {(k + j) % K for j in range(1, K - n_train)}
        for r in rows:
            f_r = fold[r['speaker']]
            if f_r not in left_out:
                w.writerow([r['path'], r['speaker'], r['gender'], 'test' if f_r == k else 'train'])
EOF

for ((k = 0; k < K; k++)); do
    D="$OUT/data$k"
    if [ ! -f "$OUT/eval$k.json" ]; then
        rm -rf "$D"
        cp "$OUT/fold$k.csv" models/default/.cvfold.csv
        "$VG" split --manifest models/default/.cvfold.csv --out "$D" >&2
        rm -f models/default/.cvfold.csv
        for split in Train Validation; do
            for g in Male Female; do
                mkdir -p "$D/$split/$g"
                for v in "$TTS/$split/$g"/*; do ln -s "$(realpath "$v")" "$D/$split/$g/tts-$(basename "$v")"; done
            done
        done
        "$VG" train "$D" "$@" -o "$OUT/model$k.safetensors" -q >&2
        "$VG" eval -m "$OUT/model$k.last.safetensors" "$D" --format json -q > "$OUT/eval$k.json.tmp"
        mv "$OUT/eval$k.json.tmp" "$OUT/eval$k.json"
        echo "fold $k done" >&2
    fi
    # the fold's speakers after a telephone round trip, with noise and
    # through Opus, as the held-out evaluation does (scripts/degrade.sh)
    for c in telephone noise10 opus12; do
        [ -f "$OUT/eval$k.$c.json" ] && continue
        rm -rf "$OUT/$c$k"
        scripts/degrade.sh "$c" "$D/Test" "$OUT/$c$k/Test"
        "$VG" eval -m "$OUT/model$k.last.safetensors" "$OUT/$c$k" --format json -q > "$OUT/eval$k.$c.json.tmp"
        mv "$OUT/eval$k.$c.json.tmp" "$OUT/eval$k.$c.json"
        rm -rf "$OUT/$c$k"
    done
done

/usr/bin/python3 scripts/cv_score.py "$K" "$OUT"
