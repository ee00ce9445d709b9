#!/usr/bin/env bash
# Set up paperbeam on a fresh Debian/Ubuntu machine: system packages, a virtual
# environment in .venv, and the package itself with the extras asked for.
#   scripts/setup.sh            -> the job (demo)
#   scripts/setup.sh test       -> the job plus everything the tests need
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-run}"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

APT_PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd"
if [ "$PROFILE" = "test" ]; then
  # Fonts make synthetic documents byte-identical across machines; PostgreSQL and
  # Chromium are real services the tests talk to (no mocks).
  APT_PACKAGES="$APT_PACKAGES fonts-dejavu-core fonts-liberation postgresql chromium systemd"
fi

missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "==> installing system packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/pip"

# torch first, pinned: a bare requirement would pull a multi-GB CUDA build.
"$PIP" install -q "torch==2.13.0"
EXTRAS="synth,model"
if [ "$PROFILE" = "test" ]; then EXTRAS="test"; fi
echo "==> installing paperbeam[$EXTRAS]"
"$PIP" install -q -e ".[$EXTRAS]"
"$VENV/bin/paperbeam" --version
