#!/bin/bash
# CLI behaviour of `voxgender spectrogram` and the top-level options.
# Usage: tests/cli/test_cli.sh BUILD_DIR      (run from the repository root)
set -u
VG="$1/voxgender"
SHARED="${VG_SHARED:-../shared}"
T=$(mktemp -d /tmp/vg-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0

check() {   # check NAME CONDITION-COMMAND...
    local name="$1"; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   cli: $name"
    else failed=$((failed + 1)); echo "FAIL cli: $name"; fi
}

VCTK="$SHARED/data/vctk/audio/p225"
good1="$VCTK/p225_003.flac"; good2="$SHARED/data/librispeech/audio/103/103-1240-0000.flac"
short="$SHARED/data/audiomnist/audio/01/0_01_0.flac"
printf 'not audio\n' > "$T/text.wav"
: > "$T/empty.wav"

# --version and --help everywhere
check "--version" bash -c "'$VG' --version | grep -q '^voxgender [0-9]'"
check "--help lists commands" bash -c "'$VG' --help | grep -q spectrogram"
# the kernels asked for run, without OPENBLAS_CORETYPE set (switched in
# process where OpenBLAS can, else by starting again)
if grep -q avx2 /proc/cpuinfo; then
    check "VOXGENDER_BLAS_CORETYPE=Haswell: --version names Haswell kernels" bash -c \
        "env -u OPENBLAS_CORETYPE VOXGENDER_BLAS_CORETYPE=Haswell '$VG' --version | grep -q 'BLAS: OpenBLAS Haswell kernels'"
fi
if grep -q avx512f /proc/cpuinfo; then
    check "AVX-512 CPU: --version names AVX-512 kernels without OPENBLAS_CORETYPE" bash -c \
        "env -u OPENBLAS_CORETYPE '$VG' --version | grep -qE 'BLAS: OpenBLAS (SkylakeX|Cooperlake|SapphireRapids) kernels'"
fi
check "--help documents the environment variables" bash -c \
    "h=\$('$VG' --help); for v in VOXGENDER_MODEL VOXGENDER_BLAS_CORETYPE VOXGENDER_WINOGRAD OMP_WAIT_POLICY; do grep -q \"^  \$v \" <<<\"\$h\" || exit 1; done"
check "spectrogram --help documents every option" bash -c \
    "h=\$('$VG' spectrogram --help); for o in --output --seconds --offset --seed-compat --format --raw --jobs --quiet --help; do grep -q -- \"\$o\" <<<\"\$h\" || exit 1; done"
# every long option a command accepts (its getopt table) is in its --help
for c in spectrogram check split train eval segment import ensemble predict; do
    opts=$(grep -oE '\{"[a-z0-9-]+", (required|no|optional)_argument' "cli/cmd_$c.c" | sed -E 's/\{"([a-z0-9-]+)".*/\1/' | sort -u)
    check "$c --help documents every option it accepts ($(wc -w <<<"$opts"))" bash -c \
        "h=\$('$VG' $c --help) && [ -n '$opts' ] && for o in $(echo $opts); do grep -q -- \"--\$o\\b\" <<<\"\$h\" || { echo \"undocumented: --\$o\" >&2; exit 1; }; done"
done
check "unknown command exits 2" bash -c "'$VG' frobnicate 2>/dev/null; [ \$? -eq 2 ]"
check "missing -o is a usage error" bash -c "'$VG' spectrogram '$good1' 2>/dev/null; [ \$? -eq 2 ]"
check "bad --seconds is a usage error" bash -c "'$VG' spectrogram --seconds abc '$good1' -o '$T/x' 2>&1 | grep -q 'seconds'"

# Results that cannot be written to standard output (a full disk behind a
# redirection; /dev/full fails every write with ENOSPC) are an error, not exit 0
if [ -w /dev/full ]; then
    "$VG" predict -q "$good1" "$good2" > /dev/full 2> "$T/full.err"; rc=$?
    check "predict to a full disk: exit 1 and the system's reason" bash -c \
        "[ $rc -eq 1 ] && grep -qx 'voxgender: standard output: No space left on device' '$T/full.err'"
    "$VG" --version > /dev/full 2> "$T/full2.err"; rc=$?
    check "--version to a full disk: exit 1" bash -c "[ $rc -eq 1 ] && grep -q 'No space left' '$T/full2.err'"
fi

# File names may hold any byte but '/' and NUL: a comma, a quote, a tab, a
# newline, a terminal escape sequence. Outputs stay one record per line.
mkdir -p "$T/odd"
cp "$good1" "$T/odd/Smith, \"J\" one.flac"
cp "$good1" "$T/odd/$(printf 'two\nlines\t\033[31mred.flac')"
printf 'x' > "$T/odd/$(printf 'bad\033]0;title\007.wav')"
"$VG" predict -q "$T/odd" > "$T/odd.txt" 2> "$T/odd.err"
check "predict text: control characters in file names escaped, one line per input" bash -c \
    "[ \$(wc -l < '$T/odd.txt') -eq 2 ] && grep -qF 'two\\nlines\\t\\x1b[31mred.flac'\$'\\t''female' '$T/odd.txt' &&
     grep -qF 'Smith, \"J\" one.flac'\$'\\t''female' '$T/odd.txt'"
check "errors: a file name's escape sequence is escaped, on one line" bash -c \
    "[ \$(wc -l < '$T/odd.err') -eq 1 ] && grep -qF 'bad\\x1b]0;title\\x07.wav: not a readable audio file' '$T/odd.err' && ! grep -q \$'\\033' '$T/odd.err'"
"$VG" predict -q --format csv "$T/odd" > "$T/odd.csv" 2>/dev/null
"$VG" segment -q "$T/odd" > "$T/odd_seg.csv" 2>/dev/null
check "predict and segment CSV: every file name read back whole by a CSV reader" /usr/bin/python3 -c "
import csv, os, sys
d = '$T/odd'
want = {os.path.join(d, f) for f in os.listdir(d) if f.endswith('.flac')}
pred = [r[0] for r in csv.reader(open('$T/odd.csv', newline=''))][1:]
seg = {r[0] for r in csv.reader(open('$T/odd_seg.csv', newline=''))} - {'file'}
sys.exit(not (set(pred) == want and len(pred) == 2 and seg == want))"

mkdir -p "$T/spk/Male/$(printf 'bad\tname\033[1m')" "$T/spk/Female/f1"
cp "$good2" "$T/spk/Female/f1/" && cp "$good1" "$T/spk/Male/$(printf 'bad\tname\033[1m')/"
check "eval: a speaker folder's control characters are escaped in the per-speaker table" bash -c \
    "'$VG' eval -q -m models/voxgender-default.safetensors '$T/spk' | grep -qF '  bad\\tname\\x1b[1m '"
# JSON must be UTF-8, which a file name need not be: names in JSON output
# are UTF-8 as they are, control characters escaped, and other bytes as
# \udcXX, which Python's surrogateescape turns back into the name's bytes
mkdir -p "$T/json8/Male/$(printf 'caf\351')" "$T/json8/Female/$(printf 'Zo\303\253 \033[1m')"
cp "$good1" "$T/json8/Male/$(printf 'caf\351')/$(printf 'a\351\n.flac')"
cp "$good2" "$T/json8/Female/$(printf 'Zo\303\253 \033[1m')/b.flac"
"$VG" predict -q --format json -m models/voxgender-default.safetensors "$T/json8" > "$T/json8.pred"
"$VG" segment -q --format json "$T/json8" > "$T/json8.seg"
"$VG" eval -q --format json -m models/voxgender-default.safetensors "$T/json8" > "$T/json8.eval"
check "JSON output: names that are not UTF-8 read back exactly (predict, segment, eval)" /usr/bin/python3 -c "
import json, os, sys
d = b'$T/json8'
want = {os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs}
text = lambda path: open(path, encoding='utf-8', errors='strict').read()
pred = {os.fsencode(json.loads(l)['path']) for l in text('$T/json8.pred').splitlines()}
seg = {os.fsencode(o['file']) for o in json.loads(text('$T/json8.seg'))}
ev = json.loads(text('$T/json8.eval'))
spk = {os.fsencode(s['speaker']) for s in ev['per_speaker']}
rec = {os.path.join(d, os.fsencode(r['path'])) for r in ev['per_recording']}
ok = pred == want and seg == want and rec == want and spk == {b'caf\\xe9', b'Zo\\xc3\\xab \\x1b[1m'}
print(pred, seg, spk, file=sys.stderr) if not ok else None
sys.exit(not ok)"
"$VG" eval -q -m models/voxgender-default.safetensors "$T/json8" --report "$T/json8.report" > /dev/null
check "eval --report: names escaped as in messages (bytes not UTF-8, a newline), the page valid UTF-8" /usr/bin/python3 -c "
import sys
page = open('$T/json8.report/index.html', encoding='utf-8', errors='strict').read()
sys.exit(not ('caf\\\\xe9/a\\\\xe9\\\\n.flac' in page and 'Zo\\u00eb \\\\x1b[1m' in page))"
ln -s "$T/json8" "$T/$(printf 'ck\033[1m')"
check "check and eval: the folder named in their summary line is escaped" bash -c \
    "'$VG' check -q '$T/'\$'ck\\033[1m' | head -1 | grep -qF 'ck\\x1b[1m: 2 files' &&
     '$VG' eval -q -m models/voxgender-default.safetensors '$T/'\$'ck\\033[1m' | head -1 | grep -qF 'ck\\x1b[1m (all recordings)'"
mkdir -p "$T/allbad/Test/Male/a" "$T/allbad/Test/Female/b"
cp "$T/text.wav" "$T/allbad/Test/Male/a/"; cp "$T/text.wav" "$T/allbad/Test/Female/b/"
"$VG" eval -q "$T/allbad" > "$T/allbad.out" 2> "$T/allbad.err"; rc=$?
check "eval: when no recording can be classified, one line says so, exit 1, no 0% metrics" bash -c \
    "[ $rc -eq 1 ] && [ ! -s '$T/allbad.out' ] && grep -q 'allbad: none of its 2 recordings could be classified' '$T/allbad.err'"
check "eval without -m evaluates the default model (as predict and segment do), or \$VOXGENDER_MODEL" bash -c \
    "diff <('$VG' eval -q '$T/spk' --format json | grep -v '\"model\"') <('$VG' eval -q -m models/voxgender-default.safetensors '$T/spk' --format json | grep -v '\"model\"') &&
     ! VOXGENDER_MODEL='$T/none.safetensors' '$VG' eval -q '$T/spk' 2> /dev/null"

# A good batch
"$VG" spectrogram "$good1" "$good2" "$short" -o "$T/out" --raw 2> "$T/err1"; rc=$?
check "good batch exits 0" test $rc -eq 0
check "writes one PNG per input" test -s "$T/out/p225_003.png" -a -s "$T/out/103-1240-0000.png" -a -s "$T/out/0_01_0.png"
check "summary counts files, padded, failed" grep -q "3 files: 3 written (1 padded), 0 failed" "$T/err1"
check "short file is reported as padded" grep -q "0_01_0.flac: note: .*zero-padded" "$T/err1"
check "no progress bar when stderr is not a tty" bash -c "! grep -q \$'\\r' '$T/err1'"
check ".npy loads in numpy with shape (128, 481)" /usr/bin/python3 -c "
import numpy as np, sys
a = np.load('$T/out/p225_003.npy'); sys.exit(0 if a.shape == (128, 481) and a.dtype == np.float32 else 1)"
check "PNG is 481x128 8-bit grey" /usr/bin/python3 -c "
from PIL import Image; import sys
im = Image.open('$T/out/p225_003.png'); sys.exit(0 if im.size == (481, 128) and im.mode == 'L' else 1)"

# Seed-compatible mode
"$VG" spectrogram --seed-compat "$good1" -o "$T/seed" -q; rc=$?
check "--seed-compat writes a 301x128 image" /usr/bin/python3 -c "
from PIL import Image; import sys
im = Image.open('$T/seed/p225_003.png'); sys.exit(0 if $rc == 0 and im.size == (301, 128) else 1)"
"$VG" spectrogram --seed-compat --format jpeg "$good1" -o "$T/seedj" -q
check "--format jpeg writes an RGB JPEG" /usr/bin/python3 -c "
from PIL import Image; import sys
im = Image.open('$T/seedj/p225_003.jpg'); sys.exit(0 if im.size == (301, 128) and im.mode == 'RGB' else 1)"

# Bad input in a batch: others complete, each bad file gets one line, exit 1.
"$VG" spectrogram "$good1" "$T/text.wav" "$T/empty.wav" /nonexistent.wav -o "$T/bad" 2> "$T/err2"; rc=$?
check "batch with bad files exits 1" test $rc -eq 1
check "good file in a bad batch still written" test -s "$T/bad/p225_003.png"
check "no output for bad files" bash -c "[ ! -e '$T/bad/text.png' ] && [ ! -e '$T/bad/empty.png' ] && [ -z \"\$(ls '$T/bad' | grep -v p225_003)\" ]"
check "one line per bad file naming it" bash -c "grep -c '^voxgender: .*\\(text.wav\\|empty.wav\\|nonexistent.wav\\): ' '$T/err2' | grep -qx 3"
check "empty file cause" grep -q "empty.wav: file is empty" "$T/err2"
check "missing file cause" grep -q "nonexistent.wav: no such file" "$T/err2"
check "summary reports failures" grep -q "4 files: 1 written (0 padded), 3 failed" "$T/err2"

"$VG" spectrogram --offset 100 "$good1" -o "$T/off" 2> "$T/err3"; rc=$?
check "offset past the end is an error" bash -c "[ $rc -eq 1 ] && grep -q 'p225_003.flac: offset is past the end' '$T/err3' && [ ! -e '$T/off/p225_003.png' ]"

mkdir -p "$T/a" "$T/b"; cp "$good1" "$T/a/same.flac"; cp "$good2" "$T/b/same.flac"
"$VG" spectrogram "$T/a/same.flac" "$T/b/same.flac" -o "$T/clash" 2> "$T/err4"; rc=$?
check "two inputs with one output name: the second fails" bash -c "[ $rc -eq 1 ] && grep -q 'b/same.flac: output name already used' '$T/err4'"

# A folder as INPUT: every file under it, written with its path inside the
# folder, so that names repeated from folder to folder (VoxCeleb's
# 00001.wav) do not clash; a file that is not audio fails alone
mkdir -p "$T/tree/x/deep" "$T/tree/y" "$T/emptydir"
cp "$good1" "$T/tree/x/deep/same.flac"; cp "$good2" "$T/tree/y/same.flac"; cp "$T/text.wav" "$T/tree/notes.wav"
"$VG" spectrogram "$T/tree/" -o "$T/treeout" 2> "$T/err5"; rc=$?
check "a folder input: its files keep their paths, the non-audio one fails" bash -c \
    "[ $rc -eq 1 ] && [ -s '$T/treeout/x/deep/same.png' ] && [ -s '$T/treeout/y/same.png' ] && grep -q '3 files: 2 written (0 padded), 1 failed' '$T/err5' && grep -q 'tree/notes.wav: not a readable audio file' '$T/err5'"
# '-' typed at a terminal (script(1) gives it one) says what it waits for
(sleep 1; printf '%s\n' "$good1"; sleep 0.5; printf '\004') |
    script -qec "'$VG' predict -m models/voxgender-default.safetensors - -q" /dev/null > "$T/tty.out" 2>&1
check "predict - at a terminal says it reads paths until Ctrl-D, then classifies them" bash -c \
    "grep -q 'voxgender: -: reading paths from the terminal, one per line; Ctrl-D ends them' '$T/tty.out' &&
     grep -qP '^\\Q$good1\\E\t(male|female)\t[01]\t' '$T/tty.out'"
# a list of paths whose file names hold control characters (not tab): read
# as paths, since its first line names a file, not spooled as a recording
ctl="$T/ctl$(printf '\001')name.flac"
cp "$good1" "$ctl"
check "predict -: a list whose file names hold control characters is read as paths, not as a recording" bash -c \
    "out=\$(printf '%s\n' '$ctl' | '$VG' predict -m models/voxgender-default.safetensors - -q) &&
     [ \$(wc -l <<<\"\$out\") -eq 1 ] && [ \"\$(cut -f1 <<<\"\$out\")\" != - ] &&
     [ \"\$(cut -f2- <<<\"\$out\")\" = \"\$('$VG' predict -m models/voxgender-default.safetensors '$good1' -q | cut -f2-)\" ]"
# a recording's header cut after 6 bytes ("RIFF$\xfa") has no control
# character, but a byte that is not UTF-8: a recording, not a path (the fuzzer
# found it read as one, with the raw byte in the message); a list in Latin-1
# whose first line names a file is still a list
check "predict -: a header cut short on stdin is a recording that cannot be read, not a path" bash -c \
    "printf 'RIFF\$\\372' | '$VG' predict -q - 2> '$T/cut.err'; [ \$? -eq 1 ] &&
     [ \"\$(cat '$T/cut.err')\" = 'voxgender: -: not a readable audio file (unknown format or corrupt header)' ]"
latin="$T/caf$(printf '\351').flac"
cp "$good1" "$latin"
check "predict -: a Latin-1 list whose first line names a file is read as paths" bash -c \
    "out=\$(printf '%s\n' '$latin' | '$VG' predict -m models/voxgender-default.safetensors - -q) &&
     [ \$(wc -l <<<\"\$out\") -eq 1 ] && grep -qF 'caf\\xe9.flac' <<<\"\$out\""
# messages print UTF-8 file names as they are, and escape bytes that are not
# UTF-8 and the C1 controls (which some terminals obey)
zoe="Zo$(printf '\303\253').wav"
"$VG" predict -q "$T/$zoe" "$T/bad$(printf '\351 \302\233')x.wav" 2> "$T/utf8.err"
check "errors: UTF-8 names as they are, other bytes and C1 controls escaped, valid UTF-8 throughout" bash -c \
    "grep -qF '$zoe: no such file' '$T/utf8.err' && grep -qF 'bad\\xe9 \\xc2\\x9bx.wav: no such file' '$T/utf8.err' &&
     /usr/bin/python3 -c 'import sys; open(sys.argv[1], encoding=\"utf-8\", errors=\"strict\").read()' '$T/utf8.err'"
check "spectrogram -: a recording on stdin is OUTDIR/stdin.png, the image the file gives" bash -c \
    "'$VG' spectrogram - -o '$T/stdinout' -q < '$good1' && '$VG' spectrogram '$good1' -o '$T/fileout' -q &&
     [ \"\$(ls '$T/stdinout')\" = stdin.png ] && cmp -s '$T/stdinout/stdin.png' '$T/fileout/p225_003.png'"
"$VG" spectrogram "$T/emptydir" -o "$T/emptyout" 2> "$T/err6"; rc=$?
check "a folder with no files is a one-line error naming it" bash -c "[ $rc -eq 1 ] && grep -q 'emptydir: the folder holds no files' '$T/err6'"
"$VG" segment "$T/emptydir" > "$T/seg_empty.out" 2> "$T/seg_empty.err"; rc=$?
check "segment: empty folders alone are no inputs, exit 2, and no CSV header (as predict)" bash -c \
    "[ $rc -eq 2 ] && [ ! -s '$T/seg_empty.out' ] && grep -q 'emptydir: the folder holds no files' '$T/seg_empty.err' && grep -q 'segment: no inputs' '$T/seg_empty.err'"

# Output folder that cannot be created
check "unwritable output folder is an error before any file, exit 2, with the reason" bash -c \
    "'$VG' spectrogram '$good1' -o /proc/nope 2>&1 | grep -q 'cannot create output folder (No such file or directory)'; [ \${PIPESTATUS[0]} -eq 2 ]"

# Parallel and serial runs give identical files
"$VG" spectrogram -j 1 "$good1" "$good2" -o "$T/j1" -q --raw
"$VG" spectrogram -j 2 "$good1" "$good2" -o "$T/j2" -q --raw
check "-j 1 and -j 2 give identical outputs" bash -c "cmp -s '$T/j1/p225_003.npy' '$T/j2/p225_003.npy' && cmp -s '$T/j1/103-1240-0000.png' '$T/j2/103-1240-0000.png'"

# A progress bar when stderr is a terminal (script gives us a pty)
if command -v script >/dev/null; then
    script -qec "'$VG' spectrogram '$good1' '$good2' -o '$T/tty'" "$T/typescript" >/dev/null 2>&1
    check "progress bar on a terminal" grep -q "spectrogram \[" "$T/typescript"
fi

# make install into a staging folder; a program builds against it with pkg-config
make -s install DESTDIR="$T/stage" PREFIX=/usr/local BUILD="$(dirname "$VG")" >/dev/null 2>&1
cat > "$T/hello.c" <<'C'
#include <voxgender.h>
#include <stdio.h>
int main(void) { printf("%s %s\n", vg_version(), vg_strerror(VG_EEMPTY)); return 0; }
C
check "make install + pkg-config builds a program" bash -c "
  export PKG_CONFIG_PATH='$T/stage/usr/local/lib/pkgconfig'
  cc ${VG_TEST_CFLAGS:-} '$T/hello.c' -o '$T/hello' \$(pkg-config --define-variable=prefix='$T/stage/usr/local' --cflags --libs voxgender) &&
  LD_LIBRARY_PATH='$T/stage/usr/local/lib' '$T/hello' | grep -q 'file is empty' && [ -x '$T/stage/usr/local/bin/voxgender' ]"

# The library exports its API and nothing else. A program of one's own may
# define functions named like the library's internals (rng_uniform, fnv1a,
# forward_linear, checkpoint_load): it must link against either library and
# the library must keep calling its own, not the program's (with the shared
# library, an exported internal would be interposed by the program's).
cat > "$T/clash.c" <<'C'
#include <voxgender.h>
#include <stdio.h>
#include <stdlib.h>
void forward_linear(void) { puts("interposed forward_linear"); exit(3); }
double rng_uniform(void) { puts("interposed rng_uniform"); exit(3); }
unsigned fnv1a(void) { puts("interposed fnv1a"); exit(3); }
int checkpoint_load(void) { puts("interposed checkpoint_load"); exit(3); }
int main(int argc, char **argv) {
    vg_model *m; char err[256]; float p, logits[2];
    if (vg_model_load(argv[1], &m, err, sizeof err)) { printf("load: %s\n", err); return 1; }
    int rc = vg_predict_file(m, argv[2], 0, &p, logits);
    if (rc) { printf("predict: %s\n", vg_strerror(rc)); return 1; }
    printf("%.4f\n", p); vg_model_destroy(m); return 0;
}
C
model="models/voxgender-default.safetensors"
want=$("$VG" predict -m "$model" "$good1" 2>/dev/null | awk -F'\t' 'NR == 1 { printf "%.4f", $4 }')
for kind in shared static; do
    if [ $kind = shared ]; then libs="-L$T/stage/usr/local/lib -lvoxgender"
    else  # the archive, and what the installed voxgender.pc says a static link needs
          # (its Requires.private linked as shared libraries, and its Libs.private)
        pc="$T/stage/usr/local/lib/pkgconfig/voxgender.pc"
        libs="$T/stage/usr/local/lib/libvoxgender.a $(pkg-config --libs $(sed -n 's/^Requires.private: //p' "$pc")) $(sed -n 's/^Libs.private: //p' "$pc")"; fi
    check "a program with functions named like the library's internals links ($kind) and predicts alike" bash -c "
      cc ${VG_TEST_CFLAGS:-} -I'$T/stage/usr/local/include' '$T/clash.c' -o '$T/clash-$kind' $libs 2>'$T/clash-$kind.err' &&
      got=\$(LD_LIBRARY_PATH='$T/stage/usr/local/lib' '$T/clash-$kind' '$model' '$good1') && [ -n '$want' ] && [ \"\$got\" = '$want' ]"
done
check "a C++ program uses the header and the shared library alike" bash -c "
  g++ -x c++ ${VG_TEST_CFLAGS:-} -Wall -Wextra -I'$T/stage/usr/local/include' '$T/clash.c' -o '$T/clash-cxx' -L'$T/stage/usr/local/lib' -lvoxgender &&
  got=\$(LD_LIBRARY_PATH='$T/stage/usr/local/lib' '$T/clash-cxx' '$model' '$good1') && [ \"\$got\" = '$want' ]"
# Every symbol either library defines for the outside is declared in the
# header, and the header's functions are all there.
api=$(grep -oE '\bvg_[a-z0-9_]+ *\(' include/voxgender.h | tr -d ' (' | sort -u)
nm -D --defined-only "$T/stage/usr/local/lib/libvoxgender.so.0" 2>/dev/null |
    awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u > "$T/so.syms"
nm -g --defined-only "$T/stage/usr/local/lib/libvoxgender.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u > "$T/a.syms"
check "libvoxgender.so exports the header's functions and nothing else" bash -c "diff <(echo '$api') '$T/so.syms' >&2"
check "libvoxgender.a defines the header's functions as globals and nothing else" bash -c "diff <(echo '$api') '$T/a.syms' >&2"

# another PREFIX after the build: the installed CLI looks for the shipped
# model under that prefix (a copy of the build, so the binary under test stays)
cp -a "$(dirname "$VG")" "$T/build-prefix"
make -s install DESTDIR="$T/stage3" PREFIX=/opt/vg-prefix BUILD="$T/build-prefix" >/dev/null 2>&1
check "make install PREFIX=... after make: predict looks under the new prefix" bash -c "
  grep -aq '/opt/vg-prefix/share/voxgender' '$T/stage3/opt/vg-prefix/bin/voxgender' &&
  ! grep -aq '/usr/local/share/voxgender' '$T/stage3/opt/vg-prefix/bin/voxgender'"

# without /proc (some containers), the shipped model beside the executable
# is found from the path the program was started by, or through $PATH
mkdir -p "$T/noproc/Female"
ln -s "$(realpath "$good1")" "$T/noproc/Female/a.flac"
printf '#!/bin/sh\nmount -t tmpfs none /proc && exec "$@"\n' > "$T/hide-proc.sh"
chmod +x "$T/hide-proc.sh"
shipped="$(pwd)/models/voxgender-default.safetensors"
if [ -f "$shipped" ] && unshare -m "$T/hide-proc.sh" test ! -e /proc/self 2>/dev/null; then
    exe="$(realpath "$VG")"
    check "without /proc: the model beside an executable started by its path" bash -c \
        "cd '$T' && unshare -m '$T/hide-proc.sh' env -u VOXGENDER_MODEL '$exe' eval noproc -q | head -1 | grep -qF 'model $shipped on'"
    check "without /proc: the model beside an executable found through \$PATH" bash -c \
        "cd '$T' && unshare -m '$T/hide-proc.sh' env -u VOXGENDER_MODEL PATH='/nonexistent:$(dirname "$exe")' voxgender eval noproc -q | head -1 | grep -qF 'model $shipped on'"
else
    echo "skip cli: without /proc (unshare -m and mount not permitted here, or no shipped model)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
