#!/bin/bash
# The built-in demo (the README's main command), on a fresh machine after
# scripts/install-deps.sh and make: synthesise a speaker-disjoint corpus with
# Debian's text-to-speech voices, check it, train cnn, lenet and svm, compare
# their test accuracies and confusion matrices, and classify a few clips.
# Usage: scripts/demo.sh [BUILD_DIR]          everything goes to demo-out/
set -euo pipefail
BUILD="${1:-build}"
VG="$BUILD/voxgender"
OUT="demo-out"
export XDG_CACHE_HOME="$PWD/$OUT/cache"    # keep the feature cache with the demo
start=$(date +%s)
rm -rf "$OUT/data" "$OUT/models"
mkdir -p "$OUT/models"

step() { printf '\n== %s\n' "$*"; }

step "1. corpus: espeak-ng and flite voices, 12 clips each, no voice in two splits"
scripts/make_tts_corpus.sh "$OUT/data" 12

step "2. voxgender check"
"$VG" check "$OUT/data" -q || true

step "3. voxgender spectrogram (a few images, as the reference project's dataset step)"
"$VG" spectrogram $(ls "$OUT"/data/Test/*/*/*_0.wav | head -4) -o "$OUT/spectrograms" -q
"$VG" spectrogram --seed-compat --format jpeg $(ls "$OUT"/data/Test/*/*/*_0.wav | head -4) -o "$OUT/seed_images" -q
echo "images in $OUT/spectrograms (log-mel) and $OUT/seed_images (reference style)"

step "4. train cnn (voxgender's network on the full log-mel)"
"$VG" train "$OUT/data" --arch cnn -o "$OUT/models/cnn.safetensors" -q
step "5. train lenet (the reference project's CNN and recipe)"
"$VG" train "$OUT/data" --arch lenet -o "$OUT/models/lenet.safetensors" -q
step "6. train svm (the reference baseline: linear SVM on raw samples)"
"$VG" train "$OUT/data" --arch svm -o "$OUT/models/svm.safetensors" -q

step "7. test accuracy on voices none of the models has heard"
printf '%-7s %9s %17s %8s   %s\n' model accuracy speaker-balanced AUC "confusion [[F->F F->M] [M->F M->M]]"
for m in cnn lenet svm; do
    "$VG" eval -m "$OUT/models/$m.safetensors" "$OUT/data" --format json -q > "$OUT/models/$m.eval.json"
    /usr/bin/python3 - "$m" "$OUT/models/$m.eval.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
print(f"{sys.argv[1]:<7} {100*d['accuracy']:8.1f}% {100*d['speaker_balanced_accuracy']:16.1f}% "
      f"{d['auc']:8.3f}   {d['confusion']}")
PY
done

step "8. voxgender predict (male = 1, female = 0)"
"$VG" predict -m "$OUT/models/cnn.safetensors" $(ls "$OUT"/data/Test/Male/*/*_1.wav | head -2) \
    $(ls "$OUT"/data/Test/Female/*/*_1.wav | head -2) -q

printf '\ndemo: done in %d s. Models in %s/models, data in %s/data.\n' $(( $(date +%s) - start )) "$OUT" "$OUT"
