#!/usr/bin/env bash
# Stage 2.5 of mini_synth: the "pretrained" models the Soundwave stages load with
# from_pretrained(). The encoder: OpenAI's Whisper tiny.en converted from the wheel
# tools/setup_env.sh installs (exp/whisper-tiny.en), or with --encoder standin a tiny
# Whisper-architecture encoder pretrained on the training speech (exp/standin/whisper).
# The LLM: always a stand-in pretrained on text-only task data (exp/standin/llm; no real
# instruction LLM can be had offline).
set -euo pipefail

encoder=tiny.en   # tiny.en | standin
encoder_config=conf/standin_encoder.yaml
llm_config=conf/standin_llm.yaml
encoder_steps=""  # default: train.max_steps of the encoder config
llm_steps=""      # default: train.max_steps of the LLM config

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--encoder tiny.en|standin] [--encoder-config FILE] [--llm-config FILE] [--encoder-steps N] [--llm-steps N]"
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh
: "${cuda_cmd:?cmd.sh must set cuda_cmd}"

# One after the other, each with every core: side by side with one thread each, their
# steps took about twice as long, which saves next to nothing.
runs=()
case ${encoder} in
  tiny.en)
    [ -f exp/whisper-tiny.en/conversion.json ] ||
      python -m soundwave.bin.convert_whisper --tiny-en --out exp/whisper-tiny.en ||
      { echo "$0: without the tiny.en wheel, run the recipe with --encoder standin" >&2; exit 1; } ;;
  standin)
    ${cuda_cmd} exp/standin/log/encoder.log \
      python -m soundwave.bin.pretrain_standin --config "${encoder_config}" \
        --exp-dir exp/standin/encoder_train --out-dir exp/standin/whisper ${encoder_steps:+"train.max_steps=${encoder_steps}"}
    runs+=(exp/standin/encoder_train) ;;
  *) echo "$0: --encoder must be tiny.en or standin, not '${encoder}'" >&2; exit 1 ;;
esac
${cuda_cmd} exp/standin/log/llm.log \
  python -m soundwave.bin.pretrain_standin --config "${llm_config}" \
    --exp-dir exp/standin/llm_train --out-dir exp/standin/llm ${llm_steps:+"train.max_steps=${llm_steps}"}
runs+=(exp/standin/llm_train)
grep -h "validation" "${runs[@]/%//train.log}"
python -m soundwave.bin.plot_curves --out exp/standin/curves.png "${runs[@]}"
