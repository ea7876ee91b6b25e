#!/bin/bash
# End-to-end workflow: check, split, train (cnn, lenet, svm, sweep, resume),
# eval and predict on a tiny generated corpus, and their bad-input handling.
# Usage: tests/cli/test_workflow.sh BUILD_DIR     (from the repository root)
set -u
VG="$1/voxgender"
SHARED="${VG_SHARED:-../shared}"
T=$(mktemp -d /tmp/vg-wf-XXXXXX)
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME="$T/cache"
passed=0 failed=0
check() {
    local name="$1"; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   workflow: $name"
    else failed=$((failed + 1)); echo "FAIL workflow: $name"; fi
}
jget() {  # jget FILE KEY -> value of a top-level JSON key
    /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"
}
same_tensors() {  # same_tensors A B: two safetensors files hold the same tensor bytes (metadata aside)
    /usr/bin/python3 -c "
import struct, sys
def data(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; return b[8 + n:]
sys.exit(data(sys.argv[1]) != data(sys.argv[2]))" "$1" "$2"
}
export -f same_tensors   # for the checks' bash -c
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
with_meta() {  # with_meta MODEL OUT KEY VALUE: a copy of MODEL with one metadata value set
    /usr/bin/python3 -c "
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); h['__metadata__'][sys.argv[3]] = sys.argv[4]
j = json.dumps(h).encode(); j += b' ' * (-len(j) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(j)) + j + b[8 + n:])" "$@"
}

D="$T/tts"
scripts/make_tts_corpus.sh "$D" 4 >/dev/null
"$VG" check "$D" -q > "$T/check.txt"; rc=$?
check "check: usable corpus exits 0" test $rc -eq 0
check "check: counts per split and class" grep -qE "^train +female +40 +10 " "$T/check.txt"
check "check: reports speaker-disjoint splits" grep -q "speaker-disjoint" "$T/check.txt"
check "check --help documents its options" bash -c "'$VG' check --help | grep -q -- --manifest"

# ---- train each architecture; accuracy on held-out voices clearly above chance
"$VG" train "$D" --arch cnn --epochs 6 -o "$T/cnn.safetensors" -q > "$T/train_cnn.txt" 2> "$T/train_cnn.err"
check "train cnn: best and last models written" test -s "$T/cnn.safetensors" -a -s "$T/cnn.last.safetensors"
check "train cnn: each model file says which epoch it holds and why" bash -c \
    "grep -aq '\"selected_by\":\"lowest validation loss\"' '$T/cnn.safetensors' && grep -aq '\"selected_epoch\":\"6\",\"selected_by\":\"last epoch\"' '$T/cnn.last.safetensors'"
check "train cnn: per-epoch lines with train/val loss and accuracy" \
    bash -c "[ \$(grep -cE '^epoch +[0-9]+/6 +train loss [0-9.]+ acc +[0-9.]+% +val loss [0-9.]+ acc' '$T/train_cnn.err') -eq 6 ]"
check "train cnn: a final table of every epoch, the kept one marked" bash -c \
    "grep -qE '^epoch +train loss +train acc +val loss +val acc' '$T/train_cnn.txt' && [ \$(grep -cE '^ +[1-6] +[0-9.]+ ' '$T/train_cnn.txt') -eq 6 ] && grep -q '<- kept' '$T/train_cnn.txt'"
check "train cnn: reports test accuracy and confusion matrix" bash -c "grep -q 'test split' '$T/train_cnn.txt' && grep -q 'confusion' '$T/train_cnn.txt'"
check "train: no checkpoint left after a finished run" test ! -e "$T/cnn.ckpt"
check "train: the model names the source revision that trained it (as --version does)" /usr/bin/python3 -c "
import json, re, struct, subprocess, sys
v = subprocess.run(['$VG', '--version'], capture_output=True, text=True).stdout
rev = re.search(r'revision ([^;]+);', v).group(1)
f = open('$T/cnn.safetensors', 'rb'); n = struct.unpack('<Q', f.read(8))[0]
sys.exit(0 if json.loads(f.read(n))['__metadata__'].get('trained_by_revision') == rev else 1)"
"$VG" eval -m "$T/cnn.safetensors" "$D" --format json -q > "$T/eval_cnn.json"
check "eval json has the required keys" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$T/eval_cnn.json'))
sys.exit(0 if all(k in d for k in ('n','accuracy','speaker_balanced_accuracy','confusion','auc','per_speaker')) and d['n']==32 else 1)"
check "cnn: test accuracy >= 0.75 on unseen voices" ge "$(jget "$T/eval_cnn.json" accuracy)" 0.75
# ---- ensemble: the best and last cnn as one model
"$VG" ensemble "$T/cnn.safetensors" "$T/cnn.last.safetensors" -o "$T/ens.safetensors" > "$T/ens.txt"
check "ensemble: writes one model of two members" bash -c "test -s '$T/ens.safetensors' && grep -q 'ensemble of 2 models' '$T/ens.txt'"
"$VG" eval -m "$T/ens.safetensors" "$D" --format json -q > "$T/eval_ens.json"
check "ensemble: evaluates like any model (accuracy >= 0.75)" ge "$(jget "$T/eval_ens.json" accuracy)" 0.75
Wv=$(ls "$D"/Test/Male/*/*.wav | head -1)
check "ensemble: its probability lies between its members'" /usr/bin/python3 -c "
import json,subprocess,sys
p=[json.loads(subprocess.run(['$VG','predict','-m',m,'--format','json','$Wv'],capture_output=True,text=True).stdout)['p_male'] for m in ('$T/cnn.safetensors','$T/cnn.last.safetensors','$T/ens.safetensors')]
sys.exit(0 if min(p[:2]) - 1e-4 <= p[2] <= max(p[:2]) + 1e-4 else 1)"
"$VG" ensemble "$T/cnn.safetensors" -o "$T/ens1.safetensors" 2> "$T/ens1.err"; rc=$?
check "ensemble: one model is a usage error, nothing written" bash -c "[ $rc -eq 2 ] && [ ! -e '$T/ens1.safetensors' ] && grep -q '2 to 16' '$T/ens1.err'"
check "ensemble --help documents its options" bash -c "'$VG' ensemble --help | grep -q -- --output"
# members trained on different data normalise their input differently: this
# cnn and the shipped model; the ensemble rescales the second one's input
if [ -f models/voxgender-default.safetensors ]; then
    "$VG" ensemble "$T/cnn.safetensors" models/voxgender-default.safetensors -o "$T/ens3.safetensors" > /dev/null 2>&1
    check "ensemble: members with different input normalisations answer the mean of their log-probabilities" \
        /usr/bin/python3 -c "
import json,math,struct,subprocess,sys
def meta(m):
    f = open(m, 'rb'); n = struct.unpack('<Q', f.read(8))[0]; return json.loads(f.read(n))['__metadata__']
ms = ('$T/cnn.safetensors', 'models/voxgender-default.safetensors', '$T/ens3.safetensors')
if meta(ms[0])['input_mean'] == meta(ms[1])['input_mean']: sys.exit('the members normalise alike: no test')
z = [json.loads(subprocess.run(['$VG','predict','-m',m,'--format','json','--window','first','$Wv'],capture_output=True,text=True).stdout)['logits'] for m in ms]
def lsm(v): mx = max(v); s = math.log(sum(math.exp(a - mx) for a in v)); return [a - mx - s for a in v]
want = [(a + b) / 2 for a, b in zip(lsm(z[0]), lsm(z[1]))]
sys.exit(0 if max(abs(a - b) for a, b in zip(lsm(z[2]), lsm(want))) < 1e-3 else 'got %s, want %s' % (z[2], want))"
fi
"$VG" train "$D" --arch lenet -o "$T/lenet.safetensors" -q > /dev/null 2>&1
"$VG" eval -m "$T/lenet.safetensors" "$D" --format json -q > "$T/eval_lenet.json"
"$VG" ensemble "$T/cnn.safetensors" "$T/lenet.safetensors" -o "$T/ens2.safetensors" 2> "$T/ens2.err"; rc=$?
check "ensemble: members with different inputs are refused in one line, nothing written" bash -c \
    "[ $rc -eq 1 ] && [ ! -e '$T/ens2.safetensors' ] && [ \$(wc -l < '$T/ens2.err') -eq 1 ] && grep -q 'differs' '$T/ens2.err'"
check "lenet (reference recipe): test accuracy >= 0.65" ge "$(jget "$T/eval_lenet.json" accuracy)" 0.65
"$VG" train "$D" --arch svm --svm-input mel -o "$T/svm_mel.safetensors" -q > /dev/null 2>&1
"$VG" eval -m "$T/svm_mel.safetensors" "$D" --format json -q > "$T/eval_svm.json"
check "svm on log-mel: test accuracy >= 0.65" ge "$(jget "$T/eval_svm.json" accuracy)" 0.65
"$VG" train "$D" --arch svm -o "$T/svm_raw.safetensors" -q > "$T/svm_raw.txt" 2>&1
check "svm on raw samples (the reference baseline) trains a model file" \
    bash -c "test -s '$T/svm_raw.safetensors' && grep -q 'test split' '$T/svm_raw.txt'"
check "eval text lists per-speaker accuracy" bash -c "'$VG' eval -m '$T/cnn.safetensors' '$D' -q | grep -q 'per-speaker accuracy'"

# ---- predict: formats, stdin, images, bad files
W=$(ls "$D"/Test/Male/*/*.wav | head -1); F=$(ls "$D"/Test/Female/*/*.wav | head -1)
# the SVM holds every row at once, so it checks the memory itself (train's
# --max-memory is for the cnn): a Train split of raw rows that would need a
# quarter more than this machine has free is refused at once, in one line,
# before anything is decoded (links to one recording, as many as it takes)
big="$T/svmbig"
need=$(awk '/MemAvailable/ {printf "%d", $2 * 1024 / 1.2e6 * 1.25 + 100}' /proc/meminfo)
/usr/bin/python3 -c "
import os, sys
root, src, n = sys.argv[1], os.path.realpath(sys.argv[2]), int(sys.argv[3])
for g in ('Male', 'Female'):
    d = os.path.join(root, 'Train', g); os.makedirs(d)
    for i in range(n // 2 + 1): os.symlink(src, os.path.join(d, f'{g[0]}{i}_x.wav'))
" "$big" "$W" "$need"
timeout 60 "$VG" train "$big" --arch svm -o "$T/svmbig.safetensors" -q > /dev/null 2> "$T/svmbig.err"; rc=$?
check "train --arch svm: rows that cannot fit in memory are refused at once, in one line, no model" bash -c \
    "[ $rc -eq 1 ] && [ ! -e '$T/svmbig.safetensors' ] && [ \$(wc -l < '$T/svmbig.err') -eq 1 ] &&
     grep -q 'training rows of 60000 values would take .* GB in memory, more than the .* GB available' '$T/svmbig.err'"
rm -rf "$big"
# a recording longer than predict reads (10 minutes) is classified from its
# start, and a note on stderr says so; with --window first there is nothing to say
ffmpeg -nostdin -loglevel error -stream_loop -1 -i "$W" -t 700 -c:a flac "$T/long700.flac"
"$VG" predict -m "$T/cnn.safetensors" -q "$T/long700.flac" > "$T/long.out" 2> "$T/long.err"; rc=$?
check "predict: a recording over 10 minutes is classified, and a note says from its first 600 s" bash -c \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$T/long.out') -eq 1 ] && [ \$(wc -l < '$T/long.err') -eq 1 ] &&
     grep -q 'long700.flac: note: 700 s long, classified from its first 600 s' '$T/long.err'"
"$VG" predict -m "$T/cnn.safetensors" -q --window first "$T/long700.flac" > /dev/null 2> "$T/long_first.err"; rc=$?
check "predict --window first on a long recording: no note" bash -c "[ $rc -eq 0 ] && [ ! -s '$T/long_first.err' ]"
# eval says it once for the run, with the count
mkdir -p "$T/longds/Test/Male/a" "$T/longds/Test/Female/b"
ln -s "$T/long700.flac" "$T/longds/Test/Male/a/"; ln -s "$T/long700.flac" "$T/longds/Test/Male/a/again.flac"; ln -s "$F" "$T/longds/Test/Female/b/"
"$VG" eval -m "$T/cnn.safetensors" "$T/longds" -q > /dev/null 2> "$T/long_eval.err"; rc=$?
check "eval: one note for the run counts the recordings classified from their first 600 s" bash -c \
    "[ $rc -eq 0 ] && [ \$(wc -l < '$T/long_eval.err') -eq 1 ] &&
     grep -qx 'voxgender: note: 2 recordings are longer than 600 s: each was classified from its first 600 s' '$T/long_eval.err'"
rm -rf "$T/long700.flac" "$T/longds"
"$VG" predict -m "$T/cnn.safetensors" "$W" "$F" -q --format json > "$T/pred.json"
check "predict json: one object per input with path,label,code,p_male,logits" /usr/bin/python3 -c "
import json,sys; rows=[json.loads(l) for l in open('$T/pred.json')]
ok = len(rows)==2 and all(set(r)=={'path','label','code','p_male','logits'} and len(r['logits'])==2 for r in rows)
ok = ok and all((r['code']==1)==(r['label']=='male') for r in rows)
sys.exit(0 if ok else 1)"
check "predict csv has a header and one row per input" bash -c \
    "out=\$('$VG' predict -m '$T/cnn.safetensors' '$W' --format csv -q); [ \"\$(head -1 <<<\"\$out\")\" = 'path,label,code,p_male,logit_female,logit_male' ] && [ \$(wc -l <<<\"\$out\") -eq 2 ]"
check "predict text: path, label, code, probability" bash -c \
    "'$VG' predict -m '$T/cnn.safetensors' '$W' -q | grep -qP '^\\Q$W\\E\\t(male|female)\\t[01]\\t0\\.[0-9]{4}$|^\\Q$W\\E\\t(male|female)\\t[01]\\t1\\.0000$'"
check "predict reads paths from stdin with -" bash -c \
    "printf '%s\n%s\n' '$W' '$F' | '$VG' predict -m '$T/cnn.safetensors' - -q | wc -l | grep -qx 2"
# a recording piped in is classified as '-' with the numbers the file gets, and
# no temporary copy is left; a list of paths longer than the first read still
# gives every path
want=$("$VG" predict -m "$T/cnn.safetensors" "$W" -q | cut -f2-)
mkdir -p "$T/tmpd"
check "predict -: a recording on stdin (FLAC, and WAV from a pipe) is classified as '-', no temporary file left" bash -c \
    "[ \"\$(TMPDIR='$T/tmpd' '$VG' predict -m '$T/cnn.safetensors' - -q < '$W')\" = \"-	$want\" ] &&
     [ \"\$(ffmpeg -nostdin -loglevel error -i '$W' -f wav - | TMPDIR='$T/tmpd' '$VG' predict -m '$T/cnn.safetensors' - -q --format csv | tail -1 | cut -d, -f1-2 | tr -d '\\\"')\" = \"-,\$(cut -f1 <<<'$want')\" ] &&
     [ -z \"\$(ls -A '$T/tmpd')\" ]"
TMPDIR=/nonexistent "$VG" predict -m "$T/cnn.safetensors" - "$F" -q < "$W" > "$T/stdin_bad.out" 2> "$T/stdin_bad.err"; rc=$?
check "predict -: a recording on stdin that cannot be kept is one line naming TMPDIR, the other inputs go on, exit 1" bash -c \
    "[ $rc -eq 1 ] && [ \$(wc -l < '$T/stdin_bad.out') -eq 1 ] && grep -q '^$F	' '$T/stdin_bad.out' &&
     grep -qx \"voxgender: -: cannot keep standard input's recording in /nonexistent: No such file or directory\" '$T/stdin_bad.err'"
check "predict -: 300 paths on stdin (more than one read's worth) are 300 inputs" bash -c \
    "for i in \$(seq 300); do echo '$T/nonexistent-path-to-make-the-list-long-enough-\$i.wav'; done | '$VG' predict -m '$T/cnn.safetensors' - 2>&1 | grep -c 'nonexistent-path.*: no such file' | grep -qx 300"
check "predict: a folder stands for every recording under it, in path order" bash -c \
    "diff <('$VG' predict -m '$T/cnn.safetensors' '$D/Test' -q -j 1 | cut -f1) <(find '$D/Test' -type f -o -type l | sort)"
mkdir -p "$T/looped" && cp -r "$D/Test/Female" "$T/looped/" && ln -s .. "$T/looped/Female/up" && ln -s "$T/looped" "$T/looped/Female/again"
check "predict: links back to a folder the walk is in are not followed (each recording once)" bash -c \
    "diff <('$VG' predict -m '$T/cnn.safetensors' '$T/looped' -q -j 1 | cut -f1) <(find '$T/looped' -type f | sort)"
check "segment: a folder stands for every recording under it" bash -c \
    "'$VG' segment -m '$T/cnn.safetensors' '$D/Test/Female' -q | tail -n +2 | cut -d, -f1 | sort -u | diff - <(find '$D/Test/Female' -type f -o -type l | sort)"
"$VG" predict -m "$T/cnn.safetensors" "$W" /nonexistent.wav "$F" > "$T/pred_bad.out" 2> "$T/pred_bad.err"; rc=$?
check "predict: a bad file is reported and skipped, exit 1" bash -c \
    "[ $rc -eq 1 ] && [ \$(wc -l < '$T/pred_bad.out') -eq 2 ] && grep -q '/nonexistent.wav: no such file' '$T/pred_bad.err'"
# each failure says its own cause: an image given to a recording model, and
# a WAV whose 3-bit samples FFmpeg does not decode (once both read "this
# model takes recordings, not images")
/usr/bin/python3 -c "
import struct, sys
x = bytes(3200); fmt = struct.pack('<HHIIHH', 1, 1, 16000, 32000, 2, 3)
open(sys.argv[1], 'wb').write(b'RIFF' + struct.pack('<I', 36 + len(x)) + b'WAVEfmt ' + struct.pack('<I', 16) + fmt + b'data' + struct.pack('<I', len(x)) + x)" "$T/bits3.wav"
"$VG" predict -m "$T/cnn.safetensors" "$SHARED/seed/test_image_male.jpg" "$T/bits3.wav" -q > /dev/null 2> "$T/pred_kinds.err"; rc=$?
check "predict: an image for a recording model and an undecodable WAV each get their own reason" bash -c \
    "[ $rc -eq 1 ] && grep -q 'test_image_male.jpg: this model takes recordings, not images' '$T/pred_kinds.err' && grep -q 'bits3.wav: unsupported audio codec or stream layout' '$T/pred_kinds.err'"
check "predict: lenet model classifies the reference project's test image" bash -c \
    "'$VG' predict -m '$T/lenet.safetensors' '$SHARED/seed/test_image_male.jpg' -q | grep -qP '\t(male|female)\t[01]\t'"
printf 'garbage' > "$T/bad.safetensors"
"$VG" predict -m "$T/bad.safetensors" "$W" 2> "$T/badmodel.err"; rc=$?
check "predict: unusable model file is a one-line error, exit 2" bash -c \
    "[ $rc -eq 2 ] && [ \$(wc -l < '$T/badmodel.err') -eq 1 ] && grep -q 'bad.safetensors: ' '$T/badmodel.err'"
# a model whose front end this code cannot run (a hop of one sample) is
# refused when it loads, naming the setting, before any recording is read
with_meta "$T/cnn.safetensors" "$T/hop1.safetensors" hop_length 1
"$VG" predict -m "$T/hop1.safetensors" "$W" > "$T/hop1.out" 2> "$T/hop1.err"; rc=$?
check "predict: a model with an impossible front-end setting is refused by name, exit 2, no output" bash -c \
    "[ $rc -eq 2 ] && [ ! -s '$T/hop1.out' ] && [ \$(wc -l < '$T/hop1.err') -eq 1 ] && grep -q 'hop1.safetensors: front-end setting hop_length 1 is out of range' '$T/hop1.err'"

# ---- sweep
"$VG" train "$D" --arch lenet --epochs 3 --sweep "lr=0.01,0.001;batch=16" -o "$T/sweep.safetensors" -q > "$T/sweep.txt" 2>/dev/null
check "sweep: ranked table with every combination" bash -c \
    "grep -qE '^1 +lr=0.0*1 batch=16' '$T/sweep.txt' && grep -qE '^2 +lr=' '$T/sweep.txt' && test -s '$T/sweep.safetensors'"
check "sweep: the kept model records its settings" bash -c "grep -q 'best of 2 by final validation loss' '$T/sweep.safetensors'"
for bad in "lr" "lr=" "frob=1" "lr=abc" "lr=0.1;lr=0.2" ";;"; do
    "$VG" train "$D" --arch lenet --sweep "$bad" -o "$T/x.safetensors" 2> "$T/sweep_err.txt"; rc=$?
    check "sweep syntax error '$bad' is a one-line error" bash -c \
        "[ $rc -eq 2 ] && [ \$(wc -l < '$T/sweep_err.txt') -eq 1 ] && [ ! -e '$T/x.safetensors' ]"
done

# ---- bad datasets
mkdir -p "$T/one/Train" "$T/one/Validation"
cp -r "$D/Train/Male" "$T/one/Train/"; cp -r "$D/Validation/Male" "$T/one/Validation/"
"$VG" train "$T/one" -o "$T/one.safetensors" -q 2> "$T/one.err"; rc=$?
check "train: one class only is a clear error and writes nothing" bash -c \
    "[ $rc -ne 0 ] && grep -q 'only male recordings' '$T/one.err' && [ ! -e '$T/one.safetensors' ]"
mkdir -p "$T/empty/Train/Male" "$T/empty/Train/Female"
"$VG" train "$T/empty" -o "$T/empty.safetensors" -q 2> "$T/empty.err"; rc=$?
check "train: empty split is a clear error" bash -c "[ $rc -ne 0 ] && grep -q 'Train split is empty' '$T/empty.err'"
"$VG" check "$T/nonexistent" 2> "$T/nx.err"; rc=$?
check "check: missing folder, exit 2" bash -c "[ $rc -eq 2 ] && grep -q 'not a folder' '$T/nx.err'"
cp -r "$D" "$T/withbad"; printf 'not audio' > "$T/withbad/Train/Male/m1/broken.wav"
"$VG" check "$T/withbad" -q > "$T/withbad.txt"; rc=$?
check "check: lists unreadable files and exits 1" bash -c "[ $rc -eq 1 ] && grep -q 'broken.wav' '$T/withbad.txt'"
"$VG" train "$T/withbad" --arch lenet --epochs 1 -o "$T/withbad.safetensors" -q > /dev/null 2> "$T/withbad.err"
check "train: an unreadable recording is skipped with a warning" bash -c \
    "grep -q 'broken.wav: .*(skipped)' '$T/withbad.err' && test -s '$T/withbad.safetensors'"
"$VG" train "$D" --arch lenet --epochs 2 --balance-speakers -o "$T/bspk.safetensors" -q > /dev/null 2>&1
check "train --balance-speakers: trains, and the model's recipe says so" \
    grep -aq '"training_recipe":"[^"]*speaker-balanced epochs"' "$T/bspk.safetensors"
check "train --help documents --balance-speakers" bash -c "'$VG' train --help | grep -q -- --balance-speakers"
"$VG" train "$D" --arch nonsense -o "$T/n.safetensors" 2>/dev/null; rc=$?
check "train: unknown architecture is a usage error" test $rc -eq 2
# features past --max-memory: without the cache to read them back from, a
# clear error early in the loading and no model
"$VG" train "$D" --arch cnn --max-memory 0.002 --no-cache -q -o "$T/mem.safetensors" > /dev/null 2> "$T/mem.err"; rc=$?
check "train --max-memory --no-cache: features past the limit stop the loading with a reason, exit 1, no model" bash -c \
    "[ $rc -eq 1 ] && grep -qE 'features do not fit in memory: [0-9]+ of the [0-9]+ Train and Validation recordings already take' '$T/mem.err' &&
     grep -q 'with the feature cache on, they would be read from it batch by batch' '$T/mem.err' &&
     n=\$(grep -oE '[0-9]+ of the' '$T/mem.err' | cut -d' ' -f1) && [ \$n -lt 20 ] && [ ! -e '$T/mem.safetensors' ]"
# with the cache, Train (and at a lower limit Validation too) is read back
# batch by batch: the same weights and validation losses, bit for bit
"$VG" train "$D" --arch cnn --epochs 1 --augment all,wavenoise -q -o "$T/inmem.safetensors" > /dev/null 2>&1
"$VG" train "$D" --arch cnn --epochs 1 --augment all,wavenoise --max-memory 0.008 -q -o "$T/streamed.safetensors" > /dev/null 2> "$T/streamed.err"; rc=$?
check "train --max-memory: Train streamed from the feature cache gives the in-memory weights bit for bit" bash -c \
    "[ $rc -eq 0 ] && grep -q 'did not fit in memory (--max-memory): each batch read them back from the feature cache' '$T/streamed.err' &&
     same_tensors '$T/inmem.safetensors' '$T/streamed.safetensors'"
"$VG" train "$D" --arch cnn --epochs 1 --augment all,wavenoise --max-memory 0.001 -q -o "$T/streamed2.safetensors" > /dev/null 2> "$T/streamed2.err"; rc=$?
check "train --max-memory: Train and Validation both streamed give the same weights and validation losses" bash -c \
    "[ $rc -eq 0 ] && grep -q 'each batch read them back' '$T/streamed2.err' &&
     /usr/bin/python3 -c \"
import json, struct, sys
def read(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
    return b[8 + n:], json.loads(b[8:8 + n])['__metadata__']['history']
a, b = read('$T/inmem.safetensors'), read('$T/streamed2.safetensors')
sys.exit(a != b)\""
# the pitch-shifted copies (librubberband) stream the same way
"$VG" train "$D" --arch cnn --epochs 1 --augment all,wavepitch -q -o "$T/wp-inmem.safetensors" > /dev/null 2>&1
"$VG" train "$D" --arch cnn --epochs 1 --augment all,wavepitch --max-memory 0.008 -q -o "$T/wp-streamed.safetensors" > /dev/null 2> "$T/wp-streamed.err"; rc=$?
check "train --augment wavepitch: trains, and streamed gives the in-memory weights bit for bit" bash -c \
    "[ $rc -eq 0 ] && grep -q 'each batch read them back' '$T/wp-streamed.err' &&
     same_tensors '$T/wp-inmem.safetensors' '$T/wp-streamed.safetensors'"
"$VG" train "$D" --arch lenet --epochs 1 --per-speaker 1 -o "$T/ps.safetensors" > /dev/null 2> "$T/ps.err"; rc=$?
check "train --per-speaker 1: says how many recordings it left out and trains on the rest" bash -c \
    "[ $rc -eq 0 ] && grep -qE '^train: --per-speaker 1: [1-9][0-9]* of [0-9]+ recordings left out of Train and Validation' '$T/ps.err' &&
     grep -aq '\"training_examples\":\"'\$(find '$D/Train' -mindepth 2 -maxdepth 2 -type d | wc -l)' train ' '$T/ps.safetensors'"
# an output that cannot be written fails before the training, not after it
"$VG" train "$D" --arch lenet --epochs 1 -o "$T/no/such/folder/m.safetensors" > "$T/nowrite.out" 2> "$T/nowrite.err"; rc=$?
check "train: an -o folder that does not exist fails at once (exit 2, no epoch run), naming the cause" bash -c \
    "[ $rc -eq 2 ] && grep -q 'm.safetensors: cannot write the model there (No such file or directory)' '$T/nowrite.err' &&
     ! grep -q epoch '$T/nowrite.out' '$T/nowrite.err' && [ ! -e '$T/no' ]"
"$VG" train "$D" --arch lenet --epochs 1 -o "$T" 2> "$T/nowrite2.err"; rc=$?
check "train: -o naming a folder fails at once" bash -c "[ $rc -eq 2 ] && grep -q 'Is a directory' '$T/nowrite2.err'"
"$VG" eval -m "$T/cnn.safetensors" "$D" --report "$T/cnn.safetensors/rep" -q > "$T/norep.out" 2> "$T/norep.err"; rc=$?
check "eval --report under a file fails before evaluating (exit 2, no results)" bash -c \
    "[ $rc -eq 2 ] && grep -q 'cannot write the report there (Not a directory)' '$T/norep.err' && [ ! -s '$T/norep.out' ]"
"$VG" ensemble "$T/cnn.safetensors" "$T/cnn.safetensors" -o "$T/no/e.safetensors" 2> "$T/nowrite3.err"; rc=$?
check "ensemble: an -o folder that does not exist is an error with the reason, exit 2" bash -c \
    "[ $rc -eq 2 ] && grep -q 'e.safetensors: cannot write the model there (No such file or directory)' '$T/nowrite3.err'"
"$VG" segment -m "$T/cnn.safetensors" "$(find "$D/Test" -type f | head -1)" -o "$T/no/s.csv" 2> "$T/nowrite4.err"; rc=$?
check "segment: an -o folder that does not exist is an error with the reason, exit 2" bash -c \
    "[ $rc -eq 2 ] && grep -q 's.csv: cannot write the segments there (No such file or directory)' '$T/nowrite4.err'"
"$VG" import "$SHARED/seed/CNN_handmade_1.pth" --arch lenet -o "$T/no/i.safetensors" 2> "$T/nowrite5.err"; rc=$?
check "import: an -o folder that does not exist is an error with the reason, exit 2" bash -c \
    "[ $rc -eq 2 ] && grep -q 'i.safetensors: cannot write the model there (No such file or directory)' '$T/nowrite5.err'"
# out of room while writing (a file-size limit here; a full disk says "No space left on device")
bash -c "ulimit -f 64; trap '' XFSZ; exec '$VG' ensemble '$T/cnn.safetensors' '$T/cnn.safetensors' -o '$T/big.safetensors'" 2> "$T/efbig.err"; rc=$?
check "ensemble: a write that runs out of room gives the system's reason, exit 1, and leaves no file" bash -c \
    "[ $rc -eq 1 ] && grep -q 'big.safetensors: cannot write (File too large)' '$T/efbig.err' && ! ls '$T' | grep -q '^big'"
ls -A "$T" | grep -q '^\.voxgender-write-' && leftover=1 || leftover=0
check "the write probes leave no file behind" test $leftover -eq 0

# ---- front-end FFT size and frequency warping; every recording in eval's JSON
"$VG" train "$D" --arch cnn --epochs 1 --n-fft 1024 --augment all,warp,pitch --data-name "TTS voices, 4 clips" \
    -o "$T/nfft.safetensors" -q > /dev/null 2>&1; rc=$?
check "train --n-fft 1024 --augment all,warp,pitch: the model's front end says 1024" bash -c \
    "[ $rc -eq 0 ] && grep -aq '\"n_fft\":\"1024\",\"win_length\":\"1024\"' '$T/nfft.safetensors'"
check "train --data-name: the model says what it was trained on" grep -aq '"trained_on":"TTS voices, 4 clips"' "$T/nfft.safetensors"
"$VG" eval -m "$T/nfft.safetensors" "$D" --format json -q > "$T/nfft.json"; rc=$?
check "eval --format json: per_recording gives each recording's P(male)" /usr/bin/python3 -c "
import json, sys
d = json.load(open('$T/nfft.json'))
r = d['per_recording']
ok = $rc == 0 and len(r) == d['n'] and all(0 <= x['p_male'] <= 1 and x['gender'] in ('male', 'female') for x in r)
acc = sum((x['p_male'] > 0.5) == (x['gender'] == 'male') for x in r) / len(r)
sys.exit(0 if ok and abs(acc - d['accuracy']) < 1e-9 else 1)"
"$VG" train "$D" --arch lenet --n-fft 1024 -o "$T/x.safetensors" -q 2> "$T/nfft_lenet.err"; rc=$?
check "train --n-fft on the seed-image front end is a clear error" bash -c \
    "[ $rc -ne 0 ] && grep -q 'new log-mel model only' '$T/nfft_lenet.err' && [ ! -e '$T/x.safetensors' ]"
"$VG" train "$D" --n-fft 512 --win-length 600 -o "$T/x.safetensors" -q 2> "$T/nfft_win.err"; rc=$?
check "train: a window longer than the FFT is refused" bash -c "[ $rc -ne 0 ] && grep -q 'window <= FFT size' '$T/nfft_win.err'"
"$VG" train "$D" --augment crop,bend -o "$T/x.safetensors" 2> "$T/aug.err"; rc=$?
check "train --augment: an unknown name is a usage error listing warp, pitch, codec, colour, white, wavenoise, wavepitch and hardcut" bash -c "[ $rc -eq 2 ] && grep -q \"unknown 'bend'.*warp, pitch, codec, colour, white, wavenoise, wavepitch, hardcut)\" '$T/aug.err'"
for a in lenet svm; do
    "$VG" train "$D" --arch $a --augment noise -o "$T/x.safetensors" -q 2> "$T/aug_$a.err"; rc=$?
    check "train --arch $a --augment: a usage error (no log-mel input to augment), no model" bash -c \
        "[ $rc -eq 2 ] && grep -qE 'log-mel models only|does not apply to svm' '$T/aug_$a.err' && [ ! -e '$T/x.safetensors' ]"
done
"$VG" train "$D" --arch svm --max-memory 2 -o "$T/x.safetensors" -q 2> "$T/svm_mem.err"; rc=$?
check "train --arch svm --max-memory: a usage error that says why (the SVM holds every row at once), no model" bash -c \
    "[ $rc -eq 2 ] && grep -q 'max-memory does not apply to svm (it holds every training row at once' '$T/svm_mem.err' && [ ! -e '$T/x.safetensors' ]"

# ---- interrupt and resume through the CLI
"$VG" train "$D" --arch cnn --epochs 4 -o "$T/int.safetensors" -q > /dev/null 2> "$T/int.err" &
pid=$!
for _ in $(seq 1 100); do grep -q '^epoch   1/4' "$T/int.err" 2>/dev/null && break; sleep 0.2; done
kill -INT $pid; wait $pid; rc=$?
check "Ctrl-C: exit 130, checkpoint written, no model" bash -c \
    "[ $rc -eq 130 ] && test -s '$T/int.ckpt' && [ ! -e '$T/int.safetensors' ] && grep -q 'continue with --resume' '$T/int.err'"
"$VG" train "$D" --arch cnn --epochs 4 -o "$T/int.safetensors" -q --resume > /dev/null 2>&1; rc=$?
check "--resume finishes the run" bash -c "[ $rc -eq 0 ] && test -s '$T/int.safetensors' && [ ! -e '$T/int.ckpt' ]"
"$VG" train "$D" --arch cnn --epochs 4 -o "$T/none.safetensors" -q --resume 2> "$T/noresume.err"; rc=$?
check "--resume without a checkpoint is a clear error" bash -c "[ $rc -ne 0 ] && grep -q 'no checkpoint' '$T/noresume.err'"

# ---- split
"$VG" split --manifest "$SHARED/data/vctk/manifest.csv" --out "$T/split1" --seed 3 > /dev/null; rc=$?
check "split by speaker builds a speaker-disjoint layout" bash -c \
    "[ $rc -eq 0 ] && '$VG' check '$T/split1' -q | grep -q 'speaker-disjoint'"
"$VG" split --manifest "$SHARED/data/vctk/manifest.csv" --out "$T/split2" --seed 3 > "$T/split2.txt"
"$VG" check "$T/split2" -q > "$T/split2_check.txt"
check "split's summary counts recordings and speakers per split and class, as check does" /usr/bin/python3 -c "
import re, sys
summ = {}
for l in open('$T/split2.txt'):
    m = re.match(r'  (Train|Validation|Test) +(\d+) +(\d+) +(\d+) +(\d+)$', l)
    if m: summ[m.group(1).lower()] = tuple(int(x) for x in m.groups()[1:])
chk = {}
for l in open('$T/split2_check.txt'):
    m = re.match(r'(train|validation|test) +(female|male) +(\d+) +(\d+) ', l)
    if m: chk.setdefault(m.group(1), {})[m.group(2)] = (int(m.group(3)), int(m.group(4)))
ok = len(summ) == 3 and all(summ[s] == chk[s]['female'] + chk[s]['male'] for s in summ)
sys.exit(0 if ok else 1)"
check "split is deterministic for a seed" bash -c "diff <(cd '$T/split1' && find . | sort) <(cd '$T/split2' && find . | sort) >/dev/null"
"$VG" split --manifest "$SHARED/data/vctk/manifest.csv" --out "$T/split3" --by recording --ratios 0.5,0.25,0.25 > /dev/null
check "split --by recording shares speakers (and check warns)" bash -c "'$VG' check '$T/split3' -q | grep -q 'inflate accuracy'"
# speakers counted once per split and class, and shared ones once per pair of splits:
# man A in all three splits, man B twice in Train, woman C in Train and Test
S="$T/shared_spk"
mapfile -t mv < <(ls -d "$D"/Train/Male/*/ | head -2); fv=$(ls -d "$D"/Train/Female/*/ | head -1)
mapfile -t ma < <(ls "${mv[0]}"*.wav | head -3); mapfile -t mb < <(ls "${mv[1]}"*.wav | head -2)
mapfile -t fc < <(ls "$fv"*.wav | head -2)
mkdir -p "$S"/{Train,Validation,Test}/{Male,Female}/{A,B,C}
ln -s "${ma[0]}" "$S/Train/Male/A/"; ln -s "${ma[1]}" "$S/Validation/Male/A/"; ln -s "${ma[2]}" "$S/Test/Male/A/"
ln -s "${mb[0]}" "$S/Train/Male/B/"; ln -s "${mb[1]}" "$S/Train/Male/B/"
ln -s "${fc[0]}" "$S/Train/Female/C/"; ln -s "${fc[1]}" "$S/Test/Female/C/"
"$VG" check "$S" -q > "$T/check_shared.txt"
check "check: recordings and speakers per split and class, speakers shared per pair of splits" bash -c "
grep -qE '^train +male +3 +2 ' '$T/check_shared.txt' && grep -qE '^train +female +1 +1 ' '$T/check_shared.txt' &&
grep -qE '^validation +male +1 +1 ' '$T/check_shared.txt' && grep -qE '^test +female +1 +1 ' '$T/check_shared.txt' &&
grep -qx '  train/validation: 1' '$T/check_shared.txt' && grep -qx '  train/test: 2' '$T/check_shared.txt' &&
grep -qx '  validation/test: 1' '$T/check_shared.txt' && grep -q 'do not all hold the same speakers' '$T/check_shared.txt'"
rm -rf "$S"/Train/Male/B "$S"/{Train,Test}/Female/C
"$VG" check "$S" -q > "$T/check_same.txt"
check "check: one speaker in every split is the reference project's layout" \
    grep -q 'every split holds the same speakers' "$T/check_same.txt"
"$VG" split --vox-meta "$SHARED/data/voxceleb1/metadata/vox1_meta.csv" --audio-root "$SHARED/data/voxceleb1/audio" --out "$T/split4" --by recording > /dev/null
check "split reads VoxCeleb's vox1_meta.csv" bash -c "[ \$(find '$T/split4' -type l | wc -l) -eq 14 ]"
# --from: recordings sorted only by sex, or a layout without Validation,
# which train refuses with the command that fixes it
mkdir -p "$T/flat" "$T/novalid"
cp -rs "$D/Train/Male" "$D/Train/Female" "$T/flat/"; cp -rs "$D/Train" "$D/Test" "$T/novalid/"
"$VG" train "$T/flat" -o "$T/flat.safetensors" -q 2> "$T/flat.err"; rc1=$?
"$VG" train "$T/novalid" -o "$T/flat.safetensors" -q 2> "$T/novalid.err"; rc2=$?
check "train: no splits, or no Validation, is one line naming 'voxgender split --from', exit 2" bash -c \
    "[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && [ \$(cat '$T/flat.err' '$T/novalid.err' | wc -l) -eq 2 ] &&
     grep -q 'flat: no Train/Validation/Test folders (.voxgender split --from $T/flat --out NEW' '$T/flat.err' &&
     grep -q 'novalid: the Validation split is empty.*voxgender split --from $T/novalid --out NEW' '$T/novalid.err' &&
     [ ! -e '$T/flat.safetensors' ]"
"$VG" check "$T/flat" -q > "$T/flat_check.txt"; rc1=$?
"$VG" check "$T/novalid" -q > "$T/novalid_check.txt"; rc2=$?
check "check: no split folders, or no Validation, is a problem (exit 1) said with 'voxgender split --from'" bash -c \
    "[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] &&
     grep -q \"^no Train/Validation/Test folders: train needs them ('voxgender split --from $T/flat --out NEW'\" '$T/flat_check.txt' &&
     grep -qx '  validation holds no readable recording (train picks its epoch by the validation loss):' '$T/novalid_check.txt' &&
     grep -qx \"  'voxgender split --from $T/novalid --out NEW' moves some Train speakers there, Test kept\" '$T/novalid_check.txt'"
"$VG" split --from "$T/flat" --out "$T/fsplit" > /dev/null; rc=$?
check "split --from a folder of Male/Female: every recording once, both classes in each split, speaker-disjoint" bash -c \
    "[ $rc -eq 0 ] && [ \$(find '$T/fsplit' -type l | wc -l) -eq 80 ] &&
     for s in Train Validation Test; do for g in Male Female; do [ -n \"\$(find '$T/fsplit/'\$s/\$g -type l)\" ] || exit 1; done; done &&
     '$VG' check '$T/fsplit' -q | grep -q 'speaker-disjoint'"
"$VG" split --from "$T/novalid" --out "$T/nvsplit" > /dev/null; rc=$?
check "split --from a layout without Validation: Test kept as it was, Validation taken from Train's speakers" bash -c \
    "[ $rc -eq 0 ] && diff <(find '$T/nvsplit/Test' -type l -exec readlink -f {} + | sort) <(find '$D/Test' -type f -exec readlink -f {} + | sort) &&
     [ \$(find '$T/nvsplit/Validation' -type l | wc -l) -gt 0 ] && [ \$(find '$T/nvsplit/Train' '$T/nvsplit/Validation' -type l | wc -l) -eq 80 ] &&
     '$VG' check '$T/nvsplit' -q | grep -q 'speaker-disjoint'"
"$VG" split --manifest "$SHARED/data/vctk/manifest.csv" --out "$T/split1" 2>/dev/null; rc=$?
check "split refuses a non-empty output folder" test $rc -eq 2
rcs=""
for r in 0.5,0.5 nan,0.5,0.5 0.8,0.1,0.1x; do   # nan was once taken: every recording in Train
    "$VG" split --manifest "$SHARED/data/vctk/manifest.csv" --out "$T/s5" --ratios "$r" 2>/dev/null; rcs+="$? "
done
check "split rejects bad --ratios (too few, nan, trailing text)" test "$rcs" = "2 2 2 "
# speaker ids that are not folder names: every link stays inside --out, a
# '/' does not make a sub-speaker, a hidden or empty id stays visible; a
# line longer than any buffer is one record (it used to be cut in two, the
# second half read as a record of its own)
mkdir -p "$T/odd"
for k in 1 2 3 4 5; do cp "$W" "$T/odd/r$k.wav"; done
long=$(printf 'x%.0s' $(seq 9000))
printf 'path,speaker,gender,split\nr1.wav,../../../escaped,f,train\nr2.wav,a/b,m,test\nr3.wav,.hidden,f,test\nr4.wav,,m,train\n%s,r5.wav,f,train\nr5.wav,s5,f,validation\n' "$long" > "$T/odd/manifest.csv"
"$VG" split --manifest "$T/odd/manifest.csv" --out "$T/odd_split" > "$T/odd_split.txt" 2> "$T/odd_split.err"; rc=$?
check "split: odd speaker ids become folders inside --out; a long line is one record" bash -c \
    "[ $rc -eq 1 ] && [ ! -e '$T/escaped' ] && [ \$(find '$T/odd_split' -type l | wc -l) -eq 5 ] &&
     [ -L '$T/odd_split/Train/Female/_.._.._.._escaped/r1.wav' ] && [ -L '$T/odd_split/Test/Male/a_b/r2.wav' ] &&
     [ -L '$T/odd_split/Test/Female/_.hidden/r3.wav' ] && [ -L '$T/odd_split/Train/Male/_/r4.wav' ] &&
     [ -L '$T/odd_split/Validation/Female/s5/r5.wav' ] && grep -c 'missing (skipped)' '$T/odd_split.err' | grep -qx 1"
# a link that cannot be made (two recordings of one speaker with the same
# 255-byte name: the second link, numbered "2_...", is too long a name)
# stops the split with the recording named, and leaves no half-built layout
n255=$(printf 'n%.0s' $(seq 250)).wav
mkdir -p "$T/toolong/a" "$T/toolong/b"; cp "$W" "$T/toolong/a/$n255"; cp "$W" "$T/toolong/b/$n255"
printf 'path,speaker,gender,split\na/%s,s1,f,train\nb/%s,s1,f,train\n' "$n255" "$n255" > "$T/toolong/manifest.csv"
"$VG" split --manifest "$T/toolong/manifest.csv" --out "$T/toolong_split" > /dev/null 2> "$T/toolong.err"; rc=$?
check "split: a link that cannot be made is an error naming the recording; nothing left behind" bash -c \
    "[ $rc -eq 1 ] && [ ! -e '$T/toolong_split' ] && [ -z \"\$(ls -d '$T'/toolong_split.* 2>/dev/null)\" ] &&
     [ \$(wc -l < '$T/toolong.err') -eq 1 ] && grep -q 'b/$n255: cannot create its link (File name too long)' '$T/toolong.err'"
mkdir "$T/toolong_empty"
"$VG" split --manifest "$T/toolong/manifest.csv" --out "$T/toolong_empty" > /dev/null 2> /dev/null; rc=$?
check "split into an empty folder that fails leaves it empty" bash -c "[ $rc -eq 1 ] && [ -d '$T/toolong_empty' ] && [ -z \"\$(ls -A '$T/toolong_empty')\" ]"
vg_abs=$(realpath "$VG")
(cd "$T/toolong_empty" && "$vg_abs" split --manifest "$T/odd/manifest.csv" --out . > /dev/null 2>&1)
check "split --out . (an empty folder one stands in) builds the layout there" test -L "$T/toolong_empty/Test/Male/a_b/r2.wav"

# ---- the reference project's models and PyTorch checkpoints (issue 5)
"$VG" predict -m "$SHARED/seed/CNN_handmade_1.pth" --arch lenet "$SHARED/seed/test_image_male.jpg" --format json > "$T/ref.json"
check "reference test: CNN_handmade_1.pth says male, code 1, PyTorch's logits" /usr/bin/python3 -c "
import json,sys; r=json.load(open('$T/ref.json'))
ok = r['label']=='male' and r['code']==1 and abs(r['logits'][0]+6.653227)<1e-3 and abs(r['logits'][1]-5.645844)<1e-3
sys.exit(0 if ok else 1)"
check "reference test: a raw recording through the seed image front end" bash -c \
    "'$VG' predict -m '$SHARED/seed/CNN_handmade_2.pth' --arch lenet '$SHARED/data/voxceleb1/audio/id10001/1zcIwhmdeo4_00001.flac' -q | grep -qP '\t(male|female)\t[01]\t'"
"$VG" import "$SHARED/seed/CNN_handmade_1.pth" --arch lenet -o "$T/h1.safetensors" > /dev/null
check "import writes a model that predicts the same" bash -c \
    "'$VG' predict -m '$T/h1.safetensors' '$SHARED/seed/test_image_male.jpg' --format csv -q | grep -q ',male,1,0.99999'"
"$VG" import tests/fixtures/pth/hostile_os_system_legacy.pth --arch lenet -o "$T/evil.safetensors" 2> "$T/evil.err"; rc=$?
check "import refuses a hostile pickle, writes nothing" bash -c \
    "[ $rc -eq 1 ] && grep -q 'refused: the pickle references posix.system' '$T/evil.err' && [ ! -e '$T/evil.safetensors' ] && [ \$(wc -l < '$T/evil.err') -eq 1 ]"
# without --arch a checkpoint's architecture is recognised from its tensors;
# one that matches no built-in one is refused, naming them
"$VG" predict -m "$SHARED/seed/CNN_handmade_1.pth" "$SHARED/seed/test_image_male.jpg" -q > "$T/noarch.out" 2> "$T/noarch.err"; rc=$?
check "a .pth without --arch: lenet recognised, the same answer as with --arch lenet" bash -c \
    "[ $rc -eq 0 ] && [ ! -s '$T/noarch.err' ] &&
     diff '$T/noarch.out' <('$VG' predict -m '$SHARED/seed/CNN_handmade_1.pth' --arch lenet '$SHARED/seed/test_image_male.jpg' -q)"
"$VG" import tests/fixtures/pth/vgg_small_zip.pth -o "$T/unknown.safetensors" 2> "$T/unknown.err"; rc=$?
check "import: a .pth of no built-in architecture, without --arch, is one line naming them, no file" bash -c \
    "[ $rc -eq 1 ] && [ \$(wc -l < '$T/unknown.err') -eq 1 ] && [ ! -e '$T/unknown.safetensors' ] &&
     grep -q 'its tensors are those of none of lenet, cnn, vgg11, vgg13, vgg16, vgg19, resnet18' '$T/unknown.err'"
"$VG" train "$D" --init "$SHARED/seed/CNN_handmade_1.pth" --arch lenet --epochs 2 -o "$T/ft.safetensors" -q > "$T/ft.txt" 2>/dev/null; rc=$?
check "train --init a .pth fine-tunes it (features frozen)" bash -c "[ $rc -eq 0 ] && grep -q 'test split' '$T/ft.txt' && grep -q 'features (conv, batch norm)' '$T/ft.safetensors'"
"$VG" train "$D" --freeze features -o "$T/nf.safetensors" 2>/dev/null; rc=$?
check "--freeze without --init is a usage error" test $rc -eq 2
# a full-size torchvision resnet18 (2-way fc, random weights), made now by
# PyTorch: 45 MB is too big to commit
mkdir -p "$T/r18"
/usr/bin/python3 tests/ref/make_resnet18_ref.py "$T/r18" "$SHARED/seed/test_image_male.jpg"
for fmt in legacy zip; do
    "$VG" predict -m "$T/r18/resnet18_$fmt.pth" --arch resnet18 "$SHARED/seed/test_image_male.jpg" --format json > "$T/r18/$fmt.json"
    check "resnet18 .pth ($fmt format) gives PyTorch's logits within 1e-4" /usr/bin/python3 -c "
import json,sys; r=json.load(open('$T/r18/$fmt.json')); e=[float(v) for v in open('$T/r18/expected.txt').read().split()]
sys.exit(0 if all(abs(a-b) <= 1e-4 * max(1, abs(b)) for a, b in zip(r['logits'], e)) else 1)"
done
check "resnet18 .pth without --arch: recognised, the same logits" bash -c \
    "diff <('$VG' predict -m '$T/r18/resnet18_zip.pth' '$SHARED/seed/test_image_male.jpg' --format json) '$T/r18/zip.json' &&
     '$VG' import '$T/r18/resnet18_zip.pth' -o '$T/r18/imp.safetensors' | grep -q '(resnet18, recognised from its tensors, '"
"$VG" train "$D" --init "$T/r18/resnet18_zip.pth" --arch resnet18 --epochs 2 -o "$T/r18/ft.safetensors" -q > "$T/r18/ft.txt" 2>/dev/null; rc=$?
check "train --init resnet18.pth fine-tunes its fc (features frozen, cached)" bash -c \
    "[ $rc -eq 0 ] && grep -q 'test split' '$T/r18/ft.txt' && grep -q 'layer4.1.bn2.running_var' '$T/r18/ft.safetensors' && '$VG' predict -m '$T/r18/ft.safetensors' '$SHARED/seed/test_image_male.jpg' -q >/dev/null"
rm -rf "$T/r18"

# labelled_share NAME FILE...: segment the files played one after another
# ($T/NAME.wav) and print the share of the time labelled male or female
labelled_share() {
    local name="$1"; shift
    ffmpeg -nostdin -loglevel error -f concat -safe 0 -i <(for f in "$@"; do echo "file '$f'"; done) "$T/$name.wav"
    "$VG" segment "$T/$name.wav" -q > "$T/$name.csv"
    /usr/bin/python3 -c "
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
sp = sum(float(x['end']) - float(x['start']) for x in r if x['label'] != 'nonspeech')
print('%.3f' % (sp / max(1e-9, max(float(x['end']) for x in r))))" "$T/$name.csv"
}

# ---- no speech: an answer, not a guess (issue 6)
ffmpeg -nostdin -loglevel error -f lavfi -i anullsrc=r=16000:cl=mono -t 2 "$T/silence.wav"
out=$("$VG" predict -m "$T/cnn.safetensors" "$T/silence.wav" --format json -q); rc=$?
check "predict: silence is 'unknown', code -1, with the reason, exit 0" /usr/bin/python3 -c "
import json,sys; r=json.loads(sys.argv[1])
sys.exit(0 if $rc == 0 and r['label']=='unknown' and r['code']==-1 and r['p_male'] is None and 'silence' in r['reason'] else 1)" "$out"

# ---- instrumental music: 'unknown' too (issue 6). TiMidity++ plays the
# fixtures' songs with the freepats samples and nothing else
# (freepats-only.cfg says why that takes a configuration of our own); the
# music cues were fitted on FluidSynth's renderings of other songs with
# another sound font, so these were never seen. Before the music cues, all
# 12 were classified.
mkdir -p "$T/music"
for f in tests/fixtures/music/*.mid; do
    timidity -c tests/fixtures/music/freepats-only.cfg -Ow -s 16000 --output-mono \
        -o "$T/music/$(basename "${f%.mid}").wav" "$f" >/dev/null 2>&1
done
check "timidity renders the 12 songs, none silent (over -40 dBFS)" /usr/bin/python3 -c "
import glob, sys, wave, numpy as np
f = sorted(glob.glob('$T/music/*.wav'))
def rms(p):
    w = wave.open(p); x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(float)
    return 20 * np.log10(np.sqrt(np.mean(x ** 2)) / 32768 + 1e-12)
sys.exit(0 if len(f) == 12 and min(rms(p) for p in f) > -40 else 1)"
"$VG" predict "$T"/music/*.wav --format csv -q > "$T/music.csv"; rc=$?
check "predict: at least 10 of 12 instrumental songs are 'unknown' (shipped model; 11 when written)" bash -c \
    "[ $rc -eq 0 ] && [ \$(grep -c ',unknown,-1,' '$T/music.csv') -ge 10 ]"
# speech with a song 10 dB under it is still speech, and still a woman's
/usr/bin/python3 - "$SHARED/data/vctk/audio/p225/p225_003.flac" "$T/music/song1000.wav" "$T/speech_music.wav" <<'EOF'
import subprocess, sys, wave, numpy as np
def pcm(p):
    return np.frombuffer(subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-i', p, '-f', 's16le', '-ac', '1',
                                         '-ar', '16000', '-'], stdout=subprocess.PIPE, check=True).stdout, np.int16).astype(float)
x, m = pcm(sys.argv[1]), pcm(sys.argv[2])
m = np.tile(m, len(x) // len(m) + 1)[:len(x)]
y = x + m * np.sqrt(np.mean(x ** 2) / np.mean(m ** 2) / 10)   # the song 10 dB under the speech
w = wave.open(sys.argv[3], 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(np.clip(np.round(y), -32768, 32767).astype(np.int16).tobytes()); w.close()
EOF
out=$("$VG" predict "$T/speech_music.wav" --format csv -q)
check "predict: speech over background music is still classified (female)" bash -c "grep -q ',female,0,' <<<'$out'"
# segment: the 12 songs one after another are nonspeech (before the music
# cues reached the segmenter, 80% of them was labelled male or female)
share=$(labelled_share songs "$T"/music/song*.wav)
check "segment: at most 5% of 12 songs in a row is labelled male or female ($share; 0.000 when written)" \
    awk -v a="$share" 'BEGIN { exit !(a != "" && a <= 0.05) }'
rm -rf "$T/music"

# ---- the CNN engine's two paths for cnn's 3x3 layers (issue 3): Winograd
# (VOXGENDER_WINOGRAD=1: wherever AVX2 is, AVX-512 CPUs too) and the direct
# kernels (=0) give the same answers on real recordings; on CPUs without
# AVX2 both runs take the direct path
paths=("$SHARED/data/vctk/audio/p225/p225_003.flac" "$SHARED/data/librispeech/audio/103/103-1240-0000.flac"
       "$SHARED/data/voxceleb1/audio/id10002/xTV-jFAUKcw_00001.flac" "$SHARED/data/cmu_arctic/audio/aew/cmu_arctic_us_aew_a0001.flac")
VOXGENDER_WINOGRAD=1 "$VG" predict "${paths[@]}" --format csv -q > "$T/wino1.csv"; rc1=$?
VOXGENDER_WINOGRAD=0 "$VG" predict "${paths[@]}" --format csv -q > "$T/wino0.csv"; rc0=$?
check "predict: Winograd and direct convolutions agree (labels; p(male) within 1e-4)" /usr/bin/python3 -c "
import csv, sys
a, b = ({r['path']: r for r in csv.DictReader(open(f))} for f in sys.argv[1:3])   # workers answer in any order
ok = $rc1 == 0 and $rc0 == 0 and len(a) == 4 and a.keys() == b.keys() and all(
    a[p]['label'] == b[p]['label'] != 'unknown' and abs(float(a[p]['p_male']) - float(b[p]['p_male'])) <= 1e-4
    for p in a)
sys.exit(0 if ok else 1)" "$T/wino1.csv" "$T/wino0.csv"

# ---- noise: 'unknown' too (issue 6). Coloured noise (a slope, a band,
# hum, swells) passed the frame-level cues: 16 of these 30 were classified
# before the noise test. Seed 4 was used neither to choose its threshold
# (seed 1) nor to measure it (seeds 2, 3).
mkdir -p "$T/noise"
/usr/bin/python3 tests/ref/make_noise.py "$T/noise" 30 4
"$VG" predict "$T"/noise/*.wav --format csv -q > "$T/noise.csv"; rc=$?
check "predict: at least 28 of 30 generated noises are 'unknown' (shipped model; 30 when written)" bash -c \
    "[ $rc -eq 0 ] && [ \$(grep -c ',unknown,-1,' '$T/noise.csv') -ge 28 ]"
# speech with brown noise 10 dB under it is still speech, and still a woman's
# (at 5 dB the shipped model calls her a man, p 0.53, with or without the
# noise test)
/usr/bin/python3 - "$SHARED/data/vctk/audio/p225/p225_003.flac" "$T/speech_noise.wav" <<'EOF'
import subprocess, sys, wave, numpy as np
x = np.frombuffer(subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-i', sys.argv[1], '-f', 's16le', '-ac', '1',
                                  '-ar', '16000', '-'], stdout=subprocess.PIPE, check=True).stdout, np.int16).astype(float)
n = np.cumsum(np.random.default_rng(1).standard_normal(len(x)))
n -= np.convolve(n, np.ones(801) / 801, 'same')             # brown, without its drift
y = x + n * np.sqrt(np.mean(x ** 2) / np.mean(n ** 2) / 10)   # 10 dB under the speech
w = wave.open(sys.argv[2], 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
w.writeframes(np.clip(np.round(y), -32768, 32767).astype(np.int16).tobytes()); w.close()
EOF
out=$("$VG" predict "$T/speech_noise.wav" --format csv -q)
check "predict: speech in brown noise at 10 dB SNR is still classified (female)" bash -c "grep -q ',female,0,' <<<'$out'"
# segment: the 30 noises one after another are nonspeech (before, 74% was
# labelled male or female; 4.2% when written, mostly around the joins, where
# one noise's balance jumps to the next's as a syllable's would)
share=$(labelled_share noises "$T"/noise/*.wav)
check "segment: at most 10% of 30 noises in a row is labelled male or female ($share; 0.042 when written)" \
    awk -v a="$share" 'BEGIN { exit !(a != "" && a <= 0.10) }'
rm -rf "$T/noise"

# ---- sirens, alarms, bird calls: 'unknown' too (issue 6). They passed the
# music and noise tests (a warbling siren was a man, p 0.91; a wailing one a
# woman, p 0.001): the steady-level and high-only window tests catch them.
# The plain set chose HIGH_ONLY_SHARE_MIN; the recorded set (in noise,
# traffic, passing by, reverberant) measured it, and its failures in noise
# led to the test over the background; the unseen set measured that.
mkdir -p "$T/alarms"
/usr/bin/python3 tests/ref/make_alarms.py "$T/alarms"
"$VG" predict "$T"/alarms/plain/*.wav --format csv -q > "$T/alarms_plain.csv"; rc=$?
check "predict: at least 10 of 12 sirens, alarms and bird calls are 'unknown' (shipped model; 11 when written, 6 before)" \
    bash -c "[ $rc -eq 0 ] && [ \$(grep -c ',unknown,-1,' '$T/alarms_plain.csv') -ge 10 ]"
"$VG" predict "$T"/alarms/recorded/*.wav --format csv -q > "$T/alarms_rec.csv"; rc=$?
check "predict: at least 25 of 28 sirens and alarms as recorded are 'unknown' (27 when written, 11 before)" \
    bash -c "[ $rc -eq 0 ] && [ \$(grep -c ',unknown,-1,' '$T/alarms_rec.csv') -ge 25 ]"
"$VG" predict "$T"/alarms/unseen/*.wav --format csv -q > "$T/alarms_unseen.csv"; rc=$?
check "predict: at least 26 of 32 unseen sirens, alarms and birds in noise are 'unknown' (28 when written, 14 before)" \
    bash -c "[ $rc -eq 0 ] && [ \$(grep -c ',unknown,-1,' '$T/alarms_unseen.csv') -ge 26 ]"
share=$(labelled_share alarms "$T"/alarms/recorded/*.wav)
check "segment: at most 10% of 28 recorded sirens and alarms in a row is labelled male or female ($share; 0.034 when written, 0.547 before)" \
    awk -v a="$share" 'BEGIN { exit !(a != "" && a <= 0.10) }'
rm -rf "$T/alarms"

# ---- evaluation report, rendered by headless Chromium (issue 6)
"$VG" eval -m "$T/cnn.safetensors" "$D" --report "$T/report" -q > /dev/null 2>&1
check "eval --report writes a self-contained index.html" bash -c \
    "test -s '$T/report/index.html' && [ \$(ls -A '$T/report' | wc -l) -eq 1 ] && grep -q 'ROC curve' '$T/report/index.html'"
# two reports into one folder at once: each writes temporary files of its own
# (with one fixed temporary name, one of the two failed in 2 of 3 tries)
"$VG" eval -m "$T/cnn.safetensors" "$D" --report "$T/report2" -q > /dev/null 2>&1 & p1=$!
"$VG" eval -m "$T/cnn.safetensors" "$D" --report "$T/report2" -q > /dev/null 2>&1; rc2=$?
wait $p1; rc1=$?
check "eval --report: two reports into one folder at once both complete, one whole page left" bash -c \
    "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ \$(ls -A '$T/report2' | wc -l) -eq 1 ] && tail -c 8 '$T/report2/index.html' | grep -q '</html>'"
# a model file from elsewhere may hold any history: rows too short, or not
# rows at all (both once crashed the report on a null pointer)
for h in short:'[[1,2],[2,1.5]]' flat:'[1,2,3]'; do
    with_meta "$T/cnn.safetensors" "$T/hist_${h%%:*}.safetensors" history "${h#*:}"
    "$VG" eval -m "$T/hist_${h%%:*}.safetensors" "$D" --report "$T/report_${h%%:*}" -q > /dev/null 2>&1
    echo $? > "$T/report_${h%%:*}.rc"
done
check "eval --report: a history with short rows or no rows still makes the report" bash -c \
    "[ \$(cat '$T/report_short.rc') -eq 0 ] && [ \$(cat '$T/report_flat.rc') -eq 0 ] &&
     grep -q 'train loss' '$T/report_short/index.html' && grep -q 'no readable training history' '$T/report_flat/index.html'"
if command -v chromium >/dev/null; then
    CH=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
        --disable-component-update --disable-sync --user-data-dir="$T/chromium")
    timeout 90 "${CH[@]}" --screenshot="$T/shot.png" --window-size=1200,2400 "file://$T/report/index.html" >/dev/null 2>&1
    check "the report renders in Chromium (1200x2400 screenshot)" /usr/bin/python3 -c "
from PIL import Image; import sys
im = Image.open('$T/shot.png'); sys.exit(0 if im.size == (1200, 2400) and len(set(im.convert('L').getdata())) > 50 else 1)"
    loaded=$(timeout 90 "${CH[@]}" --dump-dom "file://$T/report/index.html" 2>/dev/null | grep -o 'data-images-loaded="[0-9]*/[0-9]*"')
    check "every image of the report loaded in Chromium ($loaded)" bash -c \
        "[[ '$loaded' =~ ^data-images-loaded=\\\"([0-9]+)/([0-9]+)\\\"$ ]] && [ \${BASH_REMATCH[1]} -eq \${BASH_REMATCH[2]} ] && [ \${BASH_REMATCH[1]} -ge 1 ]"
fi

# ---- the shipped model (issue 6)
if [ -f models/voxgender-default.safetensors ]; then
    out=$("$VG" predict "$SHARED/data/vctk/audio/p226/p226_002.flac" -q 2>&1); rc=$?
    check "predict without -m uses the shipped model" bash -c "[ $rc -eq 0 ] && grep -qP '\t(male|female)\t[01]\t' <<<'$out'"
    check "the shipped model says what it was trained on (the data, not a temporary folder) and its training curves" /usr/bin/python3 -c "
import json, struct
b = open('models/voxgender-default.safetensors', 'rb').read()
m = json.loads(b[8:8 + struct.unpack('<Q', b[:8])[0]])['__metadata__']
ok = '../shared/data' in m['trained_on'] and 'espeak-ng' in m['trained_on'] and not m['trained_on'].startswith('/tmp') and len(json.loads(m['history'])) >= 10
raise SystemExit(0 if ok else 1)"
    # scripts/same_weights.py, the reproduction check: a copy with other
    # metadata has the same weights, another model has not
    with_meta models/voxgender-default.safetensors "$T/redated.safetensors" trained_date 1999-01-01T00:00:00Z
    scripts/same_weights.py models/voxgender-default.safetensors "$T/redated.safetensors" > "$T/same.out"; rc_same=$?
    scripts/same_weights.py models/voxgender-default.safetensors "$T/cnn.safetensors" > "$T/diff.out"; rc_diff=$?
    check "same_weights.py: same tensors whatever the metadata; another model differs" bash -c \
        "[ $rc_same -eq 0 ] && grep -q 'same 27 tensors' '$T/same.out' && [ $rc_diff -eq 1 ] && [ -s '$T/diff.out' ]"
    make -s install DESTDIR="$T/stage2" PREFIX=/usr/local BUILD="$(dirname "$VG")" >/dev/null 2>&1
    check "make install installs the shipped model" test -s "$T/stage2/usr/local/share/voxgender/voxgender-default.safetensors"
fi
if [ -f models/voxgender-default.safetensors ]; then
    { head -1 models/default/splits.csv; grep ',test$' models/default/splits.csv; } > models/default/.wf-test.csv
    "$VG" split --manifest models/default/.wf-test.csv --out "$T/heldout" > /dev/null; rm -f models/default/.wf-test.csv
    "$VG" eval -m models/voxgender-default.safetensors "$T/heldout" --format json -q > "$T/heldout.json" 2>/dev/null
    # regression guard: the README reports 96.2% on these speakers
    check "shipped model: >= 93% speaker-balanced on the held-out speakers" ge "$(jget "$T/heldout.json" speaker_balanced_accuracy)" 0.93
fi

# ---- scripts/degrade.sh: the held-out table's noisy copies (issue 6)
mkdir -p "$T/dg/Test/Male" "$T/dg/Test/Female"
ln -sf "$(realpath "$SHARED/data/vctk/audio/p226/p226_002.flac")" "$T/dg/Test/Male/a.flac"
ln -sf "$(realpath "$SHARED/data/vctk/audio/p225/p225_004.flac")" "$T/dg/Test/Female/b.flac"
scripts/degrade.sh noise10 "$T/dg" "$T/dg_n1" && scripts/degrade.sh noise10 "$T/dg" "$T/dg_n2"
check "degrade.sh noise10: white noise 10 dB below each clip's power, the same clips on every run" /usr/bin/python3 -c "
import subprocess, sys, wave, numpy as np
ok = True
for src, out in (('$T/dg/Test/Male/a.flac', '$T/dg_n1/Test/Male/a.wav'), ('$T/dg/Test/Female/b.flac', '$T/dg_n1/Test/Female/b.wav')):
    x = np.frombuffer(subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-i', src, '-f', 's16le', '-ac', '1', '-ar', '16000', '-'],
                                     stdout=subprocess.PIPE, check=True).stdout, dtype=np.int16).astype(np.float64)
    w = wave.open(out); y = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    ok &= w.getframerate() == 16000 and w.getnchannels() == 1 and len(y) == len(x)
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    ok &= abs(snr - 10) < 0.2
    ok &= open(out, 'rb').read() == open(out.replace('dg_n1', 'dg_n2'), 'rb').read()
sys.exit(0 if ok else 1)"
scripts/degrade.sh hiss "$T/dg" "$T/dg_x" 2> "$T/dg.err"; rc=$?
check "degrade.sh: an unknown condition is a usage error naming the known ones" bash -c "[ $rc -eq 2 ] && grep -q 'telephone, noise10' '$T/dg.err'"

# ---- segmentation of long recordings (issue 7)
if [ -f models/voxgender-default.safetensors ]; then
    ffmpeg -nostdin -loglevel error -i "$SHARED/data/vctk/audio/p225/p225_003.flac" -f lavfi -t 2 -i anullsrc=r=16000:cl=mono \
        -i "$SHARED/data/librispeech/audio/1034/1034-121119-0000.flac" -filter_complex "[0][1][2]concat=n=3:v=0:a=1" \
        -ar 16000 -ac 1 "$T/long.wav"
    "$VG" segment "$T/long.wav" > "$T/seg.csv" 2> "$T/seg.err"; rc=$?
    check "segment: csv with file,start,end,label,p and a summary" bash -c \
        "[ $rc -eq 0 ] && head -1 '$T/seg.csv' | grep -qx 'file,start,end,label,p' && grep -q ',female,' '$T/seg.csv' && grep -q ',male,' '$T/seg.csv' && grep -q 'speech .*male .*female' '$T/seg.err'"
    for fmt in json rttm textgrid audacity; do
        "$VG" segment "$T/long.wav" --format $fmt -q -o "$T/seg.$fmt"
    done
    check "segment --format json: segments and summary shares" /usr/bin/python3 -c "
import json,sys; d=json.load(open('$T/seg.json'))[0]
s=d['summary']; ok=len(d['segments'])>=2 and abs(s['male_share']+s['female_share']-1)<1e-6 and s['speech']<=d['duration']
sys.exit(0 if ok else 1)"
    check "segment --format rttm: SPEAKER lines for speech" bash -c "grep -qE '^SPEAKER long 1 [0-9.]+ [0-9.]+ <NA> <NA> (male|female) <NA> <NA>$' '$T/seg.rttm'"
    check "segment --format textgrid: a Praat interval tier" bash -c "grep -q 'class = \"IntervalTier\"' '$T/seg.textgrid' && grep -q 'text = \"male\"' '$T/seg.textgrid'"
    check "segment --format audacity: label lines" bash -c "grep -qP '^[0-9.]+\t[0-9.]+\t(male|female|nonspeech)$' '$T/seg.audacity'"
    check "segment reads a recording from stdin (-)" bash -c "cmp -s <('$VG' segment - -q < '$T/long.wav' | cut -d, -f2-) <(cut -d, -f2- '$T/seg.csv')"
    ffmpeg -nostdin -loglevel error -i "$T/long.wav" -f s16le -ac 1 -ar 16000 - | "$VG" segment --live -q > "$T/live.csv"
    rc=${PIPESTATUS[1]}
    check "segment --live: raw PCM from stdin, same segments, exit 0" bash -c "[ $rc -eq 0 ] && diff <(tail -n +2 '$T/live.csv' | cut -d, -f2-) <(tail -n +2 '$T/seg.csv' | cut -d, -f2-) >/dev/null"
    "$VG" segment -m "$T/lenet.safetensors" "$T/long.wav" 2> "$T/seg_bad.err"; rc=$?
    check "segment with a non-log-mel model is a clear error" bash -c "[ $rc -ne 0 ] && grep -q 'needs a log-mel' '$T/seg_bad.err'"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
