#!/usr/bin/env bash
# Stage 2.5 of mini_synth: pretrain the stand-in encoder and LLM (HF layout under
# exp/standin/), which the Soundwave stages then load with from_pretrained().
set -euo pipefail

encoder_config=conf/standin_encoder.yaml
llm_config=conf/standin_llm.yaml
encoder_steps=""  # default: train.max_steps of the encoder config
llm_steps=""      # default: train.max_steps of the LLM config

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--encoder-config FILE] [--llm-config FILE] [--encoder-steps N] [--llm-steps N]"
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh
: "${cuda_cmd:?cmd.sh must set cuda_cmd}"

# One after the other, each with every core: side by side with one thread each, their
# steps took about twice as long, which saves next to nothing.
${cuda_cmd} exp/standin/log/llm.log \
  python -m soundwave.bin.pretrain_standin --config "${llm_config}" \
    --exp-dir exp/standin/llm_train --out-dir exp/standin/llm ${llm_steps:+"train.max_steps=${llm_steps}"}
${cuda_cmd} exp/standin/log/encoder.log \
  python -m soundwave.bin.pretrain_standin --config "${encoder_config}" \
    --exp-dir exp/standin/encoder_train --out-dir exp/standin/whisper ${encoder_steps:+"train.max_steps=${encoder_steps}"}
grep -h "validation" exp/standin/llm_train/train.log exp/standin/encoder_train/train.log
python -m soundwave.bin.plot_curves --out exp/standin/curves.png exp/standin/encoder_train exp/standin/llm_train
