#!/usr/bin/env bash
# Stage 0 of vocalsound/cls1: the unpacked VocalSound 16 kHz release (vs_release_16k.zip:
# audio_16k/, datafiles/{tr,val,te}.json) -> Kaldi data dirs data/{train,dev,test} on the
# official split, with utt2sound_event (the label) and spk2gender; no text.
set -euo pipefail

vocalsound=""  # the corpus dir

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 --vocalsound DIR"
# shellcheck source=/dev/null
. utils/parse_options.sh
[ -n "${vocalsound}" ] || { echo "${help_message}" >&2; exit 1; }

python -m soundwave.bin.prepare_vocalsound --corpus-dir "${vocalsound}" --data-dir data
for s in train dev test; do
  utils/validate_data_dir.sh --no-feats --no-text "data/${s}"
done
