#!/bin/bash
# A labelled, speaker-disjoint speech corpus from Debian's text-to-speech
# voices (espeak-ng variants and flite voices), in voxgender's dataset layout:
#   OUT/{Train,Validation,Test}/{Male,Female}/<voice>/<voice>_<n>.wav
# Each voice is one "speaker"; no voice appears in two splits.
# VG_TTS_PITCH_VARIANTS=1 adds 10 training voices whose pitch sits in the
# other class's range while their formants stay their own (session 26's
# C16): five female espeak-ng variants spoken low (-p 0-15, about
# 90-165 Hz) and five male ones spoken high (-p 85-99, about 150-205 Hz),
# named <voice>-low / <voice>-high.
# Usage: scripts/make_tts_corpus.sh OUT [CLIPS_PER_VOICE (default 12)]
set -euo pipefail
OUT="$1"
PER="${2:-12}"
mkdir -p "$OUT"

# voice lists: engine:name; split by position (train / validation / test)
FEMALE_TRAIN="espeak:f1 espeak:f2 espeak:f3 espeak:Alicia espeak:Andrea espeak:anika espeak:aunty espeak:belinda espeak:grandma espeak:steph"
FEMALE_VAL="espeak:f4 espeak:linda espeak:steph2"
FEMALE_TEST="espeak:f5 espeak:Annie espeak:steph3 flite:slt"
MALE_TRAIN="espeak:m1 espeak:m2 espeak:m3 espeak:m4 espeak:m5 espeak:Andy espeak:Denis espeak:Hugo espeak:Marco flite:awb"
MALE_VAL="espeak:m6 espeak:Lee espeak:antonio"
MALE_TEST="espeak:m7 espeak:m8 espeak:Henrique flite:rms"
if [ "${VG_TTS_PITCH_VARIANTS:-0}" = 1 ]; then
    FEMALE_TRAIN+=" espeak:f1@low espeak:f3@low espeak:Andrea@low espeak:aunty@low espeak:grandma@low"
    MALE_TRAIN+=" espeak:m1@high espeak:m3@high espeak:m5@high espeak:Denis@high espeak:Marco@high"
fi

# (language, sentence) pairs; espeak-ng speaks them all, flite only English.
SENTENCES=(
 "en|The quick brown fox jumps over the lazy dog and runs into the forest."
 "en|Please call Stella and ask her to bring these things with her from the store."
 "en|A rainbow is a division of white light into many beautiful colors."
 "en|We will meet again at the station tomorrow morning before nine."
 "en|The weather report says it will be cold and windy over the weekend."
 "de|Der schnelle braune Fuchs springt über den faulen Hund und läuft davon."
 "de|Morgen fahren wir mit dem Zug in die Berge und wandern den ganzen Tag."
 "fr|Le renard brun rapide saute par-dessus le chien paresseux et s'enfuit."
 "fr|Nous irons au marché demain matin pour acheter des fruits et du pain."
 "es|El rápido zorro marrón salta sobre el perro perezoso y se escapa."
 "es|Mañana vamos a la playa con nuestros amigos para nadar en el mar."
 "it|La volpe veloce salta sopra il cane pigro e scappa nel bosco."
 "nl|De snelle bruine vos springt over de luie hond en rent het bos in."
 "pt|A rápida raposa marrom pula sobre o cão preguiçoso e foge para longe."
)

jobs=()
add_voices() {  # add_voices SPLIT GENDER "engine:voice ..."
    local split="$1" gender="$2" v
    for v in $3; do
        local engine="${v%%:*}" name="${v#*:}"
        for ((k = 0; k < PER; k++)); do
            jobs+=("$split|$gender|$engine|$name|$k")
        done
    done
}
add_voices Train Female "$FEMALE_TRAIN"; add_voices Train Male "$MALE_TRAIN"
add_voices Validation Female "$FEMALE_VAL"; add_voices Validation Male "$MALE_VAL"
add_voices Test Female "$FEMALE_TEST"; add_voices Test Male "$MALE_TEST"

make_clip() {
    IFS='|' read -r split gender engine name k <<<"$1"
    # NAME@low / NAME@high: the voice at a pitch of the other class's range
    local pitch=() register="${name#*@}"
    [ "$register" = "$name" ] && register=""
    name="${name%@*}"
    local dir="$OUT/$split/$gender/$name${register:+-$register}" h n=${#SENTENCES[@]}
    mkdir -p "$dir"
    h=$(printf '%s' "$name$register" | cksum | cut -d' ' -f1)
    [ "$register" = low ] && pitch=(-p $(( (h + k * 7) % 16 )))
    [ "$register" = high ] && pitch=(-p $(( 85 + (h + k * 7) % 15 )))
    local idx=$(( (h + k * 5) % n ))
    local lang="${SENTENCES[$idx]%%|*}" text="${SENTENCES[$idx]#*|}"
    local speed=$(( 130 + (h + k * 17) % 50 ))
    local f="$dir/${name}${register:+-$register}_$k.wav"
    [ -s "$f" ] && return 0
    if [ "$engine" = flite ]; then
        while [ "$lang" != en ]; do idx=$(( (idx + 1) % n )); lang="${SENTENCES[$idx]%%|*}"; done
        text="${SENTENCES[$idx]#*|}"
        flite -voice "$name" -t "$text" -o "$f.tmp.wav" && mv "$f.tmp.wav" "$f"
    else
        espeak-ng -v "$lang+$name" -s "$speed" "${pitch[@]}" -w "$f.tmp.wav" "$text" && mv "$f.tmp.wav" "$f"
    fi
}
export -f make_clip
export OUT
SENT_FILE=$(mktemp); trap 'rm -f "$SENT_FILE"' EXIT
# bash cannot export arrays: pass the sentences through a file
printf '%s\n' "${SENTENCES[@]}" > "$SENT_FILE"
export SENT_FILE
make_clip_wrapper() { mapfile -t SENTENCES < "$SENT_FILE"; make_clip "$1"; }
export -f make_clip_wrapper
printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -I{} bash -c 'make_clip_wrapper "$@"' _ {}
echo "tts corpus: $(find "$OUT" -name '*.wav' | wc -l) clips, $(echo $FEMALE_TRAIN $FEMALE_VAL $FEMALE_TEST | wc -w) female and $(echo $MALE_TRAIN $MALE_VAL $MALE_TEST | wc -w) male voices in $OUT"
