#!/usr/bin/env bash
# Stage 0 of librispeech/asr1: the unpacked LibriSpeech/ directory (openslr.org/12: the
# subsets' tarballs unpack into one LibriSpeech/ with SPEAKERS.TXT) into Kaldi data dirs:
#   data/<subset with _>  every subset named (lhotse's prepare_librispeech, spk2gender
#                         from SPEAKERS.TXT; utterance ids <spk>-<chapter>-<nnnn>)
#   data/train            the training subsets combined (960 h by default)
#   data/dev              dev_clean + dev_other: the validation set of training
set -euo pipefail

corpus=""   # the LibriSpeech/ directory
train_parts="train-clean-100 train-clean-360 train-other-500"
nj=4

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 --corpus DIR [--train-parts \"train-clean-100 ...\"] [--nj N]"
# shellcheck source=/dev/null
. utils/parse_options.sh

if [ -z "${corpus}" ] || [ ! -f "${corpus}/SPEAKERS.TXT" ]; then
  echo "$0: --corpus must name the unpacked LibriSpeech/ directory (with SPEAKERS.TXT), not '${corpus}'" >&2
  exit 1
fi
eval_parts="dev-clean dev-other test-clean test-other"
# shellcheck disable=SC2086  # lists of subsets
python -m soundwave.bin.prepare_librispeech --corpus-dir "${corpus}" --data-dir data --nj "${nj}" \
  ${train_parts} ${eval_parts}
train_dirs=()
for p in ${train_parts}; do train_dirs+=("data/${p//-/_}"); done
utils/combine_data.sh data/train "${train_dirs[@]}"
utils/combine_data.sh data/dev data/dev_clean data/dev_other
# (stage 1 validates every data dir it reads)
