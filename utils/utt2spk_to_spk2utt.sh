#!/usr/bin/env bash
# Kaldi-compatible utt2spk_to_spk2utt: see `utils/utt2spk_to_spk2utt.sh --help`.
# The logic is in soundwave/bin/utt2spk_to_spk2utt.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.utt2spk_to_spk2utt "$@"
