#!/usr/bin/env bash
# Bridge ablation at equal data and steps (Stage II only, then decoding on test), one
# config a variant (conf/ablation/<variant>.yaml, each conf/shrink.yaml with its bridge):
#   soft    - the recipe's bridge: CTC peaks, look-back to the dropped frames, soft tokens,
#             the utterance vector
#   runs    - the Soundwave bridge as released (CTC-selected runs, look-back to kept frames)
#   peaks   - non-blank CTC peaks only, released look-back, no soft tokens
#   none    - the unshrunk 25 Hz adapter (CTC still trained)
#   linear5 - a linear projector over 5 stacked 50 Hz frames, no CTC, no Stage I (SLAM-LLM style)
# All but linear5 start from the main run's Stage I; every other setting (LoRA, loss) is
# the main run's.
# Writes exp/ablation/ABLATION.md (WER, BLEU, accuracy, LLM positions per second and per
# transcript token, step time, steps to reach the linear baseline's final WER) and
# exp/ablation/curves.png.
set -euo pipefail

tag=mini
nj=2
variants="soft runs peaks none linear5"
steps=""            # Stage II steps (default: conf/shrink.yaml's)
valid_interval=50

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--tag mini] [--variants 'soft runs peaks none linear5'] [--steps N] [--valid-interval N]"
# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. utils/parse_options.sh

align=exp/${tag}/align
[ -f "${align}/trained.safetensors" ] || { echo "$0: run ./run.sh --stop-stage 3 first" >&2; exit 1; }
dir=exp/ablation
# every variant trains to the end: the slow learners are the point of the comparison (their
# hearing checks are still logged)
shrink_args="train.valid_interval=${valid_interval} train.save_interval=${valid_interval} train.stop_if_deaf=false"
[ -n "${steps}" ] && shrink_args+=" train.max_steps=${steps}"
runs=()
for v in ${variants}; do
  [ -f "conf/ablation/${v}.yaml" ] || { echo "$0: unknown variant ${v} (no conf/ablation/${v}.yaml)" >&2; exit 1; }
  init=${align}
  [ "${v}" = linear5 ] && init=none  # builds its whole model: there is no Stage I to start from
  echo "ablation: ${v}"
  sw=(./soundwave.sh --tag "ablation/${v}" --nj "${nj}" --encoder-cache true --shrink-config "conf/ablation/${v}.yaml"
    --shrink-init "${init}" --shrink-args "${shrink_args}" --decode-config conf/ablation/decode.yaml
    --test-sets test --decode-stages shrink --decode-tasks "asr st_en_de gender")
  "${sw[@]}" --stage 4 --stop-stage 4  # Stage II only
  "${sw[@]}" --stage 6 --stop-stage 7
  runs+=("${v}=${dir}/${v}/shrink")
done
python -m soundwave.bin.compare_runs --set test --reference linear5 --tokenizer exp/standin/llm \
  --out "${dir}/ABLATION.md" "${runs[@]}"
# shellcheck disable=SC2086  # variants is a list
python -m soundwave.bin.plot_curves --out "${dir}/curves.png" --metric valid_asr_wer \
  --labels ${variants} -- "${runs[@]#*=}"
