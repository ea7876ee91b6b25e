#!/bin/sh
# Installs voxgender's Debian build/test dependencies with apt-get.
# Idempotent: packages already present are skipped, and apt-get is not
# called at all when nothing is missing.
#   scripts/install-deps.sh          build + test + demo dependencies
#   scripts/install-deps.sh --build  only what `make` needs
set -eu

BUILD_PKGS="build-essential pkg-config libavformat-dev libavcodec-dev libavutil-dev \
libswresample-dev libfftw3-dev libpng-dev libjpeg62-turbo-dev libopenblas-dev liblinear-dev \
libcjson-dev libzip-dev librubberband-dev"
# Tests compare against PyTorch/torchaudio and generate speech with TTS voices;
# make bench runs the PyTorch peers on jemalloc (bench/run.sh says why);
# TiMidity++ and its sampled instruments play the music the tests feed
# predict (tests/fixtures/music).
TEST_PKGS="python3 python3-numpy python3-torch python3-torchaudio python3-torchvision \
python3-pil python3-matplotlib espeak-ng flite ffmpeg chromium libjemalloc2 timidity freepats"

pkgs="$BUILD_PKGS"
[ "${1:-}" = "--build" ] || pkgs="$pkgs $TEST_PKGS"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all dependencies present"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
