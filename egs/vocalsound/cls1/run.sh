#!/usr/bin/env bash
# vocalsound/cls1: vocal-sound classification (laughter, sigh, cough, throat clearing,
# sneeze, sniff) and speaker gender on VocalSound, the paper's sound task, in the paper's
# setting (conf/: whisper-large-v2, Llama-3.1-8B-Instruct, LoRA r=64 alpha=16, CTC 0.3, bf16).
#
# VocalSound has no transcripts, so this recipe has no Stage I of its own: Stage II builds
# the whole model (--shrink-init none, the default) or starts from another recipe's Stage I
# (--shrink-init ../../librispeech/asr1/exp/<tag>/align).
#
#   ./run.sh --vocalsound /corpora/vocalsound_16k          # everything
#   ./run.sh --stage 4 --stop-stage 5                     # the training stages
set -euo pipefail

stage=0
stop_stage=7
vocalsound=/corpora/vocalsound_16k  # the unpacked vs_release_16k.zip
nj=4
ngpu=1
tag=vocalsound
shrink_init=none   # or an ASR recipe's exp/<tag>/align (Stage I needs transcripts)
test_sets="dev test"
decode_stages="shrink sft"
train_args=""      # key=value overrides for stages 4-5; --shrink-args / --sft-args for one
shrink_args=""
sft_args=""

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--vocalsound DIR] [--stage N] [--stop-stage N] [--nj N] [--ngpu N] [--tag NAME] [--test-sets \"dev test\"] [--shrink-init DIR|none] [--decode-stages \"shrink sft\"] [--train-args|--shrink-args|--sft-args \"k=v ...\"]"

# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh

# shellcheck source=/dev/null
. utils/lib/stages.sh
if stage_on 0; then
  echo "stage 0: VocalSound -> data/{train,dev,test}"
  local/data.sh --vocalsound "${vocalsound}"
fi

./soundwave.sh --stage "${stage}" --stop-stage "${stop_stage}" --nj "${nj}" --ngpu "${ngpu}" --tag "${tag}" \
  --train-set train --valid-set dev --test-sets "${test_sets}" \
  --decode-tasks "sound_event gender" --decode-stages "${decode_stages}" --hearing-tasks sound_event \
  --shrink-init "${shrink_init}" --shrink-config conf/shrink.yaml --sft-config conf/sft.yaml \
  --train-args "${train_args}" --shrink-args "${shrink_args}" --sft-args "${sft_args}"
