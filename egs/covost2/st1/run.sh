#!/usr/bin/env bash
# covost2/st1: Soundwave on CoVoST 2 speech translation, English -> German and -> Chinese.
#
# Stage 0 turns CoVoST 2's split TSVs and the Common Voice English clips into Kaldi data
# dirs (local/data.sh); stages 1-7 are the shared ./soundwave.sh: manifests (MP3 through
# ffmpeg), Whisper log-mel, the three Soundwave stages, decoding of ASR and both
# translation directions, and scoring (WER; BLEU with sacrebleu's default signature per
# language pair, 13a for German and zh for Chinese; chrF) into exp/<tag>/RESULTS.md.
#
#   ./run.sh --covost-dir /data/covost2 --cv-root /data/cv-corpus-4-2019-12-10 --ngpu 8
#   ./run.sh --conf conf/1gpu --ngpu 1 ...          # one GPU, a smaller LLM
#   ./run.sh --stage 3 --stop-stage 5               # just the three training stages
set -euo pipefail

stage=0
stop_stage=7
covost_dir=""       # stage 0: the CoVoST 2 split TSVs
cv_root=""          # stage 0: the Common Voice release (<cv_root>/en/clips)
pairs="en_de en_zh-CN"  # CoVoST's language pairs (the stage configs train both)
conf=conf           # the stage configs: conf (the paper's setting) | conf/1gpu
encoder_path=""     # a local HF Whisper dir (default: the align config's, whisper-large-v2)
llm_path=""         # a local HF instruction LLM dir (default: the align config's)
nj=4
ngpu=0
tag=covost2
test_sets="dev test"
decode_stages="sft"
decode_config=conf/decode.yaml
topline=false       # true: the LLM also translates the reference transcripts (the cascade
                    # bound, exp/<tag>/topline in RESULTS.md)
train_args=""       # key=value overrides for stages 3-5; --align-args etc. for one stage
align_args=""
shrink_args=""
sft_args=""

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 --covost-dir DIR --cv-root DIR [--stage N] [--stop-stage N] [--pairs \"en_de en_zh-CN\"] [--conf conf|conf/1gpu] [--encoder-path DIR] [--llm-path DIR] [--ngpu N] [--nj N] [--tag NAME] [--test-sets \"dev test\"] [--decode-config FILE] [--topline true] [--train-args \"k=v ...\"] [--align-args|--shrink-args|--sft-args \"k=v ...\"]"

# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh

# the models live in local dirs (no download at run time): name them on the command line
align_args="${encoder_path:+model.encoder_path=${encoder_path} }${llm_path:+model.llm_path=${llm_path} }${align_args}"
decode_tasks="asr"
for p in ${pairs}; do  # en_zh-CN -> st_en_zh (text.zh)
  tgt=${p#*_}
  decode_tasks+=" st_${p%%_*}_${tgt%%-*}"
done
topline_tasks=""
"${topline}" && topline_tasks=${decode_tasks#asr }

# shellcheck source=/dev/null
. utils/lib/stages.sh
if stage_on 0; then
  echo "stage 0: CoVoST 2 (${pairs}) into data/{train,dev,test}"
  local/data.sh --covost-dir "${covost_dir}" --cv-root "${cv_root}" --pairs "${pairs}"
fi

./soundwave.sh --stage "${stage}" --stop-stage "${stop_stage}" --nj "${nj}" --ngpu "${ngpu}" --tag "${tag}" \
  --train-set train --valid-set dev --test-sets "${test_sets}" \
  --decode-tasks "${decode_tasks}" --decode-stages "${decode_stages}" --decode-config "${decode_config}" \
  --asr-normalizer english --chrf true --topline-tasks "${topline_tasks}" \
  --align-config "${conf}/align.yaml" --shrink-config "${conf}/shrink.yaml" --sft-config "${conf}/sft.yaml" \
  --train-args "${train_args}" --align-args "${align_args}" --shrink-args "${shrink_args}" \
  --sft-args "${sft_args}"
