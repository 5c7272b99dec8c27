#!/usr/bin/env bash
# Bridge ablation at equal data and steps (Stage II only, then decoding on test):
#   soft    - the recipe's bridge: CTC peaks, look-back to the dropped frames, soft tokens
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
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh
: "${cuda_cmd:?}" "${decode_cmd:?}"

align=exp/${tag}/align
[ -f "${align}/trained.safetensors" ] || { echo "$0: run ./run.sh --stop-stage 3 first" >&2; exit 1; }
dir=exp/ablation
common=("train.valid_interval=${valid_interval}" "train.save_interval=${valid_interval}")
[ -n "${steps}" ] && common+=("train.max_steps=${steps}")
# linear5 has no Stage I to start from: it takes the main run's encoder, LLM, LoRA, loss
# and prompt settings from that run's Stage I config
mapfile -t shared < <(python - "${align}/soundwave_config.json" <<'PY'
import json, sys
model = json.load(open(sys.argv[1]))["model"]
for key in ("encoder_path", "llm_path", "lora_rank", "lora_alpha", "lm_loss_average", "system_prompt"):
    print(f"model.{key}={model[key]}")
PY
)
runs=()
for v in ${variants}; do
  case ${v} in
    soft) model=("init_from=${align}") ;;  # the main run's Stage II, as configured
    runs|peaks) model=("init_from=${align}" "model.bridge=${v}" "model.lookback=kept" "model.soft_tokens=false") ;;
    none) model=("init_from=${align}" "model.bridge=none" "model.soft_tokens=false") ;;
    linear5) model=("${shared[@]}" "model.bridge=linear" "model.stack=5") ;;
    *) echo "$0: unknown variant ${v}" >&2; exit 1 ;;
  esac
  echo "ablation: ${v}"
  ${cuda_cmd} "${dir}/${v}/shrink/log/train.log" \
    python -m soundwave.bin.train --config conf/shrink.yaml --exp-dir "${dir}/${v}/shrink" "${model[@]}" "${common[@]}"
  out="${dir}/${v}/shrink/decode_test_{task}"
  ${decode_cmd} JOB=1:"${nj}" "${dir}/${v}/shrink/log/decode.JOB.log" \
    python -m soundwave.bin.decode --model-dir "${dir}/${v}/shrink" --config conf/decode.yaml \
      --cuts data/fbank/cuts_test.jsonl.gz --tasks asr st_en_de gender --out-dir "${out}" --shard JOB/"${nj}" with_ctc=false generation.max_new_tokens=24
  python -m soundwave.bin.decode --merge "${nj}" --tasks asr st_en_de gender --out-dir "${out}"
  for t in asr st_en_de gender; do
    d=${dir}/${v}/shrink/decode_test_${t}
    python -m soundwave.bin.score --task "${t}" --ref "${d}/ref.txt" --hyp "${d}/hyp.txt" --out "${d}/score_${t}.json" >/dev/null
  done
  runs+=("${v}=${dir}/${v}/shrink")
done
python -m soundwave.bin.compare_runs --set test --reference linear5 --tokenizer exp/standin/llm \
  --out "${dir}/ABLATION.md" "${runs[@]}"
# shellcheck disable=SC2086  # variants is a list
python -m soundwave.bin.plot_curves --out "${dir}/curves.png" --metric valid_asr_wer \
  --labels ${variants} -- "${runs[@]#*=}"
