#!/usr/bin/env bash
# librispeech/asr1: Soundwave on LibriSpeech 960 h, scored as the field reports it (WER of
# each of dev-clean, dev-other, test-clean, test-other after Whisper's English
# normaliser).  The models are local HF dirs (nothing is downloaded):
#
#   ./run.sh --corpus /data/LibriSpeech \
#     --encoder-path /models/whisper-large-v2 --llm-path /models/Llama-3.1-8B-Instruct
#   # the paper's setting (conf/): 8 GPUs, FSDP; one node:
#   ./run.sh ... --ngpu 8
#   # on Slurm, 2 nodes x 8 GPUs (srun + torchrun, c10d rendezvous):
#   cmd_backend=slurm ./run.sh ... --ngpu 8 --train-nodes 2
#   # one GPU (conf/1gpu/: a 1.5 B LLM, DDP):
#   ./run.sh ... --setting 1gpu --llm-path /models/Qwen2.5-1.5B-Instruct --ngpu 1
#
# Stage 0 turns the corpus into data dirs (local/data.sh); stages 1-7 are ./soundwave.sh.
set -euo pipefail

stage=0
stop_stage=7
corpus=""          # the unpacked LibriSpeech/ directory (SPEAKERS.TXT, train-clean-100/, ...)
train_parts="train-clean-100 train-clean-360 train-other-500"
test_sets="dev_clean dev_other test_clean test_other"  # decoded and scored, one row each
setting=paper      # the stage configs: paper (conf/) | 1gpu (conf/1gpu/)
encoder_path=""    # the Whisper dir (default: the align config's model.encoder_path)
llm_path=""        # the LLM dir (default: the align config's model.llm_path)
whisper_reference=""  # a Whisper dir whose own decoder also transcribes the test sets
nj=8               # feature extraction and decoding jobs
ngpu=0             # GPUs per node (training processes per node)
train_procs=""     # training processes per node (default: ngpu)
train_nodes=1      # nodes of the training job (Slurm)
tag=""             # exp/<tag> (default: the setting)
decode_stages="sft"
train_args=""      # key=value overrides for stages 3-5; --align-args etc. for one stage
align_args=""
shrink_args=""
sft_args=""
decode_args=""     # key=value overrides of conf/decode.yaml

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 --corpus DIR [--encoder-path DIR] [--llm-path DIR] [--setting paper|1gpu]
  [--stage N] [--stop-stage N] [--ngpu N] [--train-nodes N] [--nj N] [--train-parts \"...\"]
  [--test-sets \"dev_clean ...\"] [--tag NAME] [--train-args \"k=v ...\"] [--align-args|--shrink-args|--sft-args|--decode-args \"k=v ...\"]"

# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh
# shellcheck source=/dev/null
. utils/lib/stages.sh

case ${setting} in
  paper) conf=conf ;;
  1gpu) conf=conf/1gpu ;;
  *) echo "$0: --setting must be paper or 1gpu, not '${setting}'" >&2; exit 1 ;;
esac
: "${tag:=${setting}}"
# the models are Stage I's; later stages take them from the stage they start from
align_args="${encoder_path:+model.encoder_path=${encoder_path} }${llm_path:+model.llm_path=${llm_path} }${align_args}"

if stage_on 0; then
  echo "stage 0: LibriSpeech (${corpus}) -> data/"
  local/data.sh --corpus "${corpus}" --train-parts "${train_parts}" --nj "${nj}"
fi

# the longest LibriSpeech utterance is 35 s: no test utterance may be left out
./soundwave.sh --stage "${stage}" --stop-stage "${stop_stage}" --nj "${nj}" --ngpu "${ngpu}" \
  --train-procs "${train_procs}" --train-nodes "${train_nodes}" --tag "${tag}" \
  --train-set train --valid-set dev --test-sets "${test_sets}" --max-duration 40 \
  --decode-tasks asr --decode-stages "${decode_stages}" --asr-normalizer english \
  --whisper-reference "${whisper_reference}" \
  --align-config "${conf}/align.yaml" --shrink-config "${conf}/shrink.yaml" \
  --sft-config "${conf}/sft.yaml" --decode-config "${conf}/decode.yaml" \
  --train-args "${train_args}" --align-args "${align_args}" --shrink-args "${shrink_args}" \
  --sft-args "${sft_args}" --decode-args "${decode_args}"
