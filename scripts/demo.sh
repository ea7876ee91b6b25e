#!/bin/bash
# The built-in demo (README's main command): synthesise a few labelled
# recordings with Debian's text-to-speech voices, then run voxgender on them.
# Usage: scripts/demo.sh [BUILD_DIR]      output goes to demo-out/
set -euo pipefail
BUILD="${1:-build}"
VG="$BUILD/voxgender"
OUT="demo-out"
rm -rf "$OUT"
mkdir -p "$OUT/audio/Male" "$OUT/audio/Female"

say() {  # say GENDER NAME ENGINE VOICE TEXT
    local dir="$OUT/audio/$1" name="$2" engine="$3" voice="$4" text="$5"
    case "$engine" in
        espeak) espeak-ng -v "$voice" -s 150 -w "$dir/$name.wav" "$text" ;;
        flite)  flite -voice "$voice" -t "$text" -o "$dir/$name.wav" ;;
    esac
}

echo "demo: synthesising recordings with espeak-ng and flite"
TEXT_EN="The quick brown fox jumps over the lazy dog, and then it runs far away into the forest."
say Male   espeak_en_m3  espeak en+m3 "$TEXT_EN"
say Male   espeak_de_m1  espeak de+m1 "Der schnelle braune Fuchs springt über den faulen Hund und läuft davon."
say Male   flite_awb     flite  awb   "$TEXT_EN"
say Male   flite_rms     flite  rms   "$TEXT_EN"
say Female espeak_en_f3  espeak en+f3 "$TEXT_EN"
say Female espeak_fr_f2  espeak fr+f2 "Le renard brun rapide saute par-dessus le chien paresseux et s'enfuit."
say Female espeak_es_f4  espeak es+f4 "El rápido zorro marrón salta sobre el perro perezoso y se escapa."
say Female flite_slt     flite  slt   "$TEXT_EN"

echo "demo: writing log-mel spectrogram images (6 s windows, 16 kHz, 128 mel bands)"
"$VG" spectrogram "$OUT"/audio/*/*.wav -o "$OUT/spectrograms" --raw

echo "demo: the reference project's images (--seed-compat, 301x128)"
"$VG" spectrogram --seed-compat "$OUT"/audio/*/*.wav -o "$OUT/seed_images" -q

echo
echo "demo: done."
echo "  recordings:   $(ls "$OUT"/audio/*/*.wav | wc -l) in $OUT/audio/{Male,Female}"
echo "  spectrograms: $(ls "$OUT"/spectrograms/*.png | wc -l) PNG + $(ls "$OUT"/spectrograms/*.npy | wc -l) .npy in $OUT/spectrograms"
echo "  seed images:  $(ls "$OUT"/seed_images/*.png | wc -l) PNG in $OUT/seed_images"
echo "(training and classification arrive with the CNN engine and training workflow)"
