#!/bin/bash
# Speaker-disjoint split of ../shared/data for the shipped model, written as
# models/default/splits.csv (path relative to that folder, speaker, gender,
# split). Run once; the committed list is what training and evaluation use,
# so the held-out speakers stay held out.
# Usage: scripts/make_default_splits.sh [BUILD_DIR]
set -euo pipefail
BUILD="${1:-build}"
SHARED="${VG_SHARED:-../shared}"
OUT=models/default/splits.csv
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
args=()
for c in librispeech vctk voxceleb1 cmu_arctic audiomnist; do args+=(--manifest "$SHARED/data/$c/manifest.csv"); done
# 45% of each gender's speakers for test (>= 60 per gender), 10% for validation
"$BUILD/voxgender" split "${args[@]}" --out "$T/layout" --ratios 0.45,0.10,0.45 --seed 2026 >&2
echo "path,speaker,gender,split" > "$OUT.tmp"
(cd "$T/layout" && find . -type l | sort) | while read -r link; do
    IFS=/ read -r _ split gender speaker _ <<<"$link"
    target=$(readlink "$T/layout/$link")
    rel=$(realpath --relative-to="$(dirname "$OUT")" "$target")
    echo "$rel,$speaker,$(tr 'A-Z' 'a-z' <<<"$gender"),$(tr 'A-Z' 'a-z' <<<"$split")"
done >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT: $(($(wc -l < "$OUT") - 1)) recordings" >&2
for s in train validation test; do
    for g in male female; do
        printf '%s %s: %s speakers\n' "$s" "$g" "$(awk -F, -v s=$s -v g=$g '$4 == s && $3 == g { print $2 }' "$OUT" | sort -u | wc -l)" >&2
    done
done
