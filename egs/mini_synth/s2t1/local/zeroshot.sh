#!/usr/bin/env bash
# Zero-shot transfer check: Stages II-III without any translation data, then En->De
# speech translation anyway. The paper's claim: a text-aligned bridge lets the LLM's text
# skills (here: the stand-in LLM's text translation) carry over to speech.
# Reuses Stage I of the main run (it never sees translations either).
set -euo pipefail

tag=mini
nj=2
train_args=""

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--tag mini] [--nj 2] [--train-args '...']"
# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. utils/parse_options.sh

[ -f "exp/${tag}/align/trained.safetensors" ] || { echo "$0: run ./run.sh --stop-stage 3 first" >&2; exit 1; }
mkdir -p "exp/${tag}_zeroshot"
ln -sfn "../${tag}/align" "exp/${tag}_zeroshot/align"
./soundwave.sh --stage 4 --stop-stage 7 --tag "${tag}_zeroshot" --nj "${nj}" --encoder-cache true \
  --shrink-config conf/zeroshot/shrink.yaml --sft-config conf/zeroshot/sft.yaml \
  --test-sets test --decode-stages "shrink sft" --decode-tasks "asr st_en_de" --train-args "${train_args}"
