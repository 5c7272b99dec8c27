#!/usr/bin/env bash
# Kaldi-compatible spk2utt_to_utt2spk: see `utils/spk2utt_to_utt2spk.sh --help`.
# The logic is in soundwave/bin/spk2utt_to_utt2spk.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.spk2utt_to_utt2spk "$@"
