#!/bin/bash
# Labelled speech from Debian's Festival voices (diphone and HTS voices built
# from recordings of real speakers: more natural than espeak-ng's formant
# synthesis), added to a text-to-speech corpus in voxgender's layout:
#   OUT/{Train,Validation}/{Male,Female}/fest-<voice>/<voice>_<n>.wav
# Each voice is one "speaker"; no voice appears in two splits. Each clip is
# two sentences in the voice's language at one of several speaking rates.
# Packages: festival and the festvox-* voices in scripts/install-deps.sh.
# Usage: scripts/make_festival_corpus.sh OUT [CLIPS_PER_VOICE (default 12)]
set -euo pipefail
OUT="$1"
PER="${2:-12}"
command -v text2wave > /dev/null || { echo "make_festival_corpus: text2wave (festival) is not installed" >&2; exit 1; }

# voice:gender:language:split. suo_fi_lj_diphone is a woman's diphones
# spoken at the male voice's pitch (its int_lr_params copy hy_fi_mv's 110 Hz
# target): a female vocal tract at a low pitch, which the real data has too
# few of.
VOICES="
kal_diphone:Male:en:Train
cmu_us_slt_arctic_hts:Female:en:Train
pc_diphone:Male:it:Train
lp_diphone:Female:it:Train
czech_machac:Male:cs:Train
czech_dita:Female:cs:Train
hy_fi_mv_diphone:Male:fi:Train
msu_ru_nsh_clunits:Male:ru:Train
suo_fi_lj_diphone:Female:fi:Train
ked_diphone:Male:en:Validation
upc_ca_ona_hts:Female:ca:Validation
czech_ph:Male:cs:Validation
"

# sentences of each language (Festival reads 8-bit text: see ENCODING)
declare -A ENCODING=([en]=latin1 [it]=latin1 [ca]=latin1 [fi]=latin1 [cs]=iso-8859-2 [ru]=utf-8)
declare -A TEXT
TEXT[en]="The quick brown fox jumps over the lazy dog and runs into the forest.|Please call Stella and ask her to bring these things with her from the store.|A rainbow is a division of white light into many beautiful colors.|We will meet again at the station tomorrow morning before nine.|The weather report says it will be cold and windy over the weekend.|My brother bought a small boat and painted it bright yellow last summer."
TEXT[it]="La volpe veloce salta sopra il cane pigro e scappa nel bosco.|Domani andiamo al mare con i nostri amici per nuotare.|Il treno per Milano parte alle otto e arriva prima di mezzogiorno.|Mia sorella ha comprato un libro nuovo e lo ha letto in due giorni."
TEXT[cs]="Rychlá hnědá liška skáče přes líného psa a utíká do lesa.|Zítra pojedeme vlakem do hor a budeme celý den chodit.|Moje sestra koupila novou knihu a přečetla ji za dva dny.|Vlak do Prahy odjíždí v osm hodin ráno z hlavního nádraží."
TEXT[fi]="Nopea ruskea kettu hyppää laiskan koiran yli ja juoksee metsään.|Huomenna menemme junalla vuorille ja kävelemme koko päivän.|Siskoni osti uuden kirjan ja luki sen kahdessa päivässä.|Juna Helsinkiin lähtee kahdeksalta ja saapuu ennen puoltapäivää."
TEXT[ca]="Demà anirem a la platja amb els nostres amics per nedar al mar.|La guineu marró salta per sobre del gos mandrós i fuig al bosc.|El tren cap a Barcelona surt a les vuit i arriba abans del migdia.|La meva germana va comprar un llibre nou i el va llegir en dos dies."
TEXT[ru]="Быстрая коричневая лиса прыгает через ленивую собаку.|Завтра мы поедем на поезде в горы и будем гулять весь день.|Моя сестра купила новую книгу и прочитала её за два дня.|Поезд в Москву отправляется в восемь часов утра."

make_clip() {   # make_clip VOICE GENDER LANG SPLIT K
    local voice="$1" gender="$2" lang="$3" split="$4" k="$5"
    local dir="$OUT/$split/$gender/fest-$voice" f
    f="$dir/${voice}_$k.wav"
    [ -s "$f" ] && return 0
    mkdir -p "$dir"
    IFS='|' read -r -a s <<<"${TEXT[$lang]}"
    local n=${#s[@]}
    # pair k: sentences k and k+1+k/n (mod n), so that pairs differ; rate
    # 0.85-1.25 of the voice's own
    local a=$((k % n)) b=$(((k + 1 + k / n) % n))
    local stretch
    stretch=$(awk -v k="$k" 'BEGIN { printf "%.2f", 0.85 + 0.08 * ((k * 5) % 6) }')
    printf '%s %s\n' "${s[$a]}" "${s[$b]}" | iconv -f utf-8 -t "${ENCODING[$lang]}" > "$f.txt"
    text2wave -eval "(voice_$voice)" -eval "(Parameter.set 'Duration_Stretch $stretch)" \
        -o "$f.tmp.wav" "$f.txt" 2> /dev/null && mv "$f.tmp.wav" "$f"
    rm -f "$f.txt"
}
export -f make_clip
export OUT
jobs=()
for v in $VOICES; do
    IFS=: read -r voice gender lang split <<<"$v"
    for ((k = 0; k < PER; k++)); do jobs+=("$voice $gender $lang $split $k"); done
done
# TEXT and ENCODING are associative arrays, which bash cannot export: each
# job re-reads this script's definitions
DEFS=$(declare -p TEXT ENCODING)
export DEFS
printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -I{} bash -c 'eval "$DEFS"; make_clip $@' _ {}
echo "festival corpus: $(find "$OUT" -path '*fest-*' -name '*.wav' | wc -l) clips of $(echo $VOICES | wc -w) voices in $OUT" >&2
