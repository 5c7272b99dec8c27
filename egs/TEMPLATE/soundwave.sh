#!/usr/bin/env bash
# The shared stage script of every soundwave recipe (stages 1-7; see ARCHITECTURE.md at the
# repository root and egs/TEMPLATE/README.md).
# A recipe's run.sh does its own stage 0 (local/data.sh) and calls this with its options.
# All logic lives in the Python package; this only sequences `python -m soundwave.bin.*`.
set -euo pipefail

# ---- options (override with --name value; see --help) ----------------------------------
stage=1
stop_stage=7
nj=2                        # parallel jobs for feature extraction and decoding
train_set=train
valid_set=dev
test_sets="dev test"
tag=soundwave               # experiment name: exp/<tag>/
n_mels=80
min_duration=0.1
max_duration=30
align_config=conf/align.yaml
shrink_config=conf/shrink.yaml
sft_config=conf/sft.yaml
shrink_init=""              # Stage II starts from this dir (default: exp/<tag>/align);
                            # none: from the shrink config's own model; either way
                            # stage 3 (this run's Stage I) is skipped
decode_config=conf/decode.yaml
decode_args=""              # key=value overrides of the decode config (stage 6)
decode_stages="shrink sft"  # which stage outputs to decode
decode_tasks="asr"          # tasks decoded on every test set
train_args=""               # extra key=value overrides for every training stage
align_args=""               # ... for one stage only; they come after train_args and win
shrink_args=""
sft_args=""
pretrain_hook=""            # a recipe's own stage 2.5 (e.g. stand-in model pretraining)
encoder_cache=false         # true: stage 2.7 runs the frozen encoder (the align config's)
                            # once per utterance into data/enc/; decoding reads it, and the
                            # training configs must name data/enc/cuts_*.jsonl.gz with
                            # data.encoder_cache: true
shar=false                  # true: stage 2.8 exports the train set's cuts and their data
                            # (log-mel, or with --encoder-cache the encoder outputs) to lhotse
                            # Shar shards in data/shar/<train_set>; the training configs then
                            # name that directory where a cuts manifest goes
shar_shard_size=1000        # cuts per Shar shard
whisper_reference=""        # a Whisper dir (HF) whose own decoder also transcribes the
                            # test sets (stages 6-7, as exp/<tag>/whisper): the ASR bar
topline_tasks=""            # tasks the decoded model's LLM also answers from the reference
                            # transcripts (stages 6-7, as exp/<tag>/topline): the ceiling
hearing_tasks=""            # stage 7: is each decoded model hearing the audio of these
                            # tasks? (hearing_check on the valid set, in RESULTS.md)
hearing_utts=32
chrf=false                  # true: the translation tasks (st_*) get chrF beside BLEU
                            # (score_<task>.chrf.json, a table of its own in RESULTS.md)
asr_normalizer=""           # the asr task's scoring normaliser (default basic; english:
                            # Whisper's, as English ASR results are reported)
ngpu=0                      # GPUs per node of each training job
train_procs=""              # training processes per node (default: ngpu; 1 without GPUs)
train_nodes=1               # nodes of each training job (more than 1: Slurm)

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [options]
  --stage N / --stop-stage N   run stages N..M (1 manifests, 2 fbank, 2.5 recipe hook,
                               2.7 encoder cache, 2.8 Shar export, 3 align, 4 shrink,
                               5 sft, 6 decode, 7 score)
  --train-args \"k=v ...\"       overrides for stages 3-5; --align-args, --shrink-args,
                               --sft-args: for one stage (they win over --train-args)
  --align-config, --shrink-config, --sft-config, --decode-config FILE   the stage configs
  --decode-args \"k=v ...\"      overrides of the decode config
  --shrink-init DIR|none       what Stage II starts from (default exp/<tag>/align; a DIR
                               or none skips stage 3: e.g. another recipe's Stage I)
  --ngpu N, --train-procs N, --train-nodes M   training on M nodes x N processes
                               (torchrun; on Slurm srun + torchrun, c10d rendezvous)
  --encoder-cache true         stage 2.7: the frozen encoder's outputs, computed once
  --shar true                  stage 2.8: the train set as lhotse Shar shards (data/shar/)
  --whisper-reference DIR      also decode the test sets with this Whisper's own decoder
  --topline-tasks \"asr qa\"     also answer these tasks with the LLM on the reference text
  --hearing-tasks \"asr gender\" stage 7: does each decoded model hear the audio? (dev set)
  --chrf true                  stage 7: chrF beside BLEU for the st_* tasks
  --train-set, --valid-set, --test-sets, --tag, --nj, --n-mels, --decode-tasks, ...
  (every variable at the top of $0 is an option)"

# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. ./cmd.sh
# shellcheck source=/dev/null
. utils/parse_options.sh
: "${train_cmd:?cmd.sh must set train_cmd}" "${decode_cmd:?}" "${cuda_cmd:?}"

# shellcheck source=/dev/null
. utils/lib/stages.sh
log() { echo "$(date '+%F %T') ($(basename "$0")) $*"; }

exp=exp/${tag}
sets=$(echo "${train_set} ${valid_set} ${test_sets}" | tr ' ' '\n' | awk 'NF && !seen[$0]++')
train_py="python -m soundwave.bin.train"
procs=${train_procs:-${ngpu}}
[ "${procs}" -ge 1 ] || procs=1
# several processes: torchrun here, srun + torchrun (c10d rendezvous) inside a Slurm job
if [ "${procs}" -gt 1 ] || [ "${train_nodes}" -gt 1 ]; then
  train_py="python -m soundwave.bin.launch_train --nproc-per-node ${procs} --nodes ${train_nodes} --"
fi
train_job_opts=()
[ "${train_nodes}" -gt 1 ] && train_job_opts=(--nodes "${train_nodes}")

if stage_on 1; then
  log "stage 1: lhotse manifests"
  for s in ${sets}; do
    # a data dir without text (a classification corpus: no transcripts) is checked without it
    no_text=""
    [ -f "data/${s}/text" ] || no_text=--no-text
    utils/validate_data_dir.sh --no-feats ${no_text} "data/${s}"
    python -m soundwave.bin.make_manifests --data-dir "data/${s}" --out "data/manifests/cuts_${s}.jsonl.gz" \
      --min-duration "${min_duration}" --max-duration "${max_duration}"
  done
fi

if stage_on 2; then
  log "stage 2: Whisper log-mel features (${n_mels} bins, ${nj} jobs)"
  for s in ${sets}; do
    d=data/fbank/${s}
    ${train_cmd} JOB=1:"${nj}" "${d}/log/fbank.JOB.log" \
      python -m soundwave.bin.compute_fbank --cuts "data/manifests/cuts_${s}.jsonl.gz" --shard JOB/"${nj}" \
        --n-mels "${n_mels}" --storage "${d}/feats.JOB" --out-cuts "${d}/cuts.JOB.jsonl.gz" --no-progress
    # shellcheck disable=SC2046
    python -m soundwave.bin.combine_cuts "data/fbank/cuts_${s}.jsonl.gz" $(seq -f "${d}/cuts.%g.jsonl.gz" "${nj}")
  done
fi

if [ -n "${pretrain_hook}" ] && stage_on 2.5; then
  log "stage 2.5: ${pretrain_hook}"
  ${pretrain_hook}
fi

# the encoder of the cache: the align config's, with the model.* overrides of the command line
encoder_overrides=()
for a in ${train_args} ${align_args}; do
  case ${a} in model.*) encoder_overrides+=("${a}") ;; esac
done
feats=fbank  # what stages 6-7 read: data/<feats>/cuts_<set>.jsonl.gz
decode_cache_args=""
if "${encoder_cache}"; then
  feats=enc
  decode_cache_args="data.encoder_cache=true"
fi
if "${encoder_cache}" && stage_on 2.7; then
  log "stage 2.7: encoder outputs of ${align_config}'s encoder (${nj} jobs)"
  for s in ${sets}; do
    d=data/enc/${s}
    ${train_cmd} JOB=1:"${nj}" "${d}/log/cache.JOB.log" \
      python -m soundwave.bin.cache_encoder --config "${align_config}" --cuts "data/fbank/cuts_${s}.jsonl.gz" \
        --shard JOB/"${nj}" --storage "${d}/enc.JOB" --out-cuts "${d}/cuts.JOB.jsonl.gz" --no-progress \
        ${encoder_overrides[@]+"${encoder_overrides[@]}"}
    # shellcheck disable=SC2046
    python -m soundwave.bin.combine_cuts "data/enc/cuts_${s}.jsonl.gz" $(seq -f "${d}/cuts.%g.jsonl.gz" "${nj}")
  done
fi

if "${shar}" && stage_on 2.8; then
  log "stage 2.8: lhotse Shar export of data/${feats}/cuts_${train_set}.jsonl.gz"
  ${train_cmd} "data/shar/log/export_${train_set}.log" \
    python -m soundwave.bin.export_shar --cuts "data/${feats}/cuts_${train_set}.jsonl.gz" \
      --out "data/shar/${train_set}" --shard-size "${shar_shard_size}" --no-progress
fi

# Stages 3-5: the three Soundwave training stages, each initialised from the previous one.
train_stage() {  # <stage-number> <name> <config> <init-from or ""> <the stage's own args>
  local n=$1 name=$2 config=$3 init=$4 own_args=$5
  stage_on "${n}" || return 0
  log "stage ${n}: ${name} (${config})"
  # shellcheck disable=SC2086
  ${cuda_cmd} --gpu "${ngpu}" ${train_job_opts[@]+"${train_job_opts[@]}"} "${exp}/${name}/log/train.log" \
    ${train_py} --config "${config}" --exp-dir "${exp}/${name}" ${init:+init_from=${init}} ${train_args} ${own_args}
}
# --shrink-init DIR|none: Stage II does not start from this run's Stage I, which is skipped
if [ -z "${shrink_init}" ]; then
  train_stage 3 align "${align_config}" "" "${align_args}"
  shrink_init=${exp}/align
else
  if stage_on 3; then log "stage 3: skipped (--shrink-init ${shrink_init}: Stage II does not start from it)"; fi
  if [ "${shrink_init}" = none ]; then shrink_init=""; fi
fi
train_stage 4 shrink "${shrink_config}" "${shrink_init}" "${shrink_args}"
train_stage 5 sft "${sft_config}" "${exp}/shrink" "${sft_args}"

# every decoded model: the stages, the Whisper reference (stage dir "whisper") and the
# text topline (stage dir "topline": the LLM of the last decoded stage, before any training)
scored_stages=${decode_stages}${whisper_reference:+ whisper}${topline_tasks:+ topline}

if stage_on 6; then
  for s in ${whisper_reference:+${test_sets}}; do
    log "stage 6: decoding ${s} (asr) with ${whisper_reference}'s own decoder"
    out="${exp}/whisper/decode_${s}_asr"
    ${decode_cmd} JOB=1:"${nj}" "${exp}/whisper/log/decode_${s}.JOB.log" \
      python -m soundwave.bin.decode_whisper --whisper-dir "${whisper_reference}" \
        --cuts "data/fbank/cuts_${s}.jsonl.gz" --out-dir "${out}" --shard JOB/"${nj}"
    python -m soundwave.bin.decode --merge "${nj}" --tasks asr --out-dir "${out}"
  done
  for s in ${topline_tasks:+${test_sets}}; do
    log "stage 6: answering ${s} (${topline_tasks}) with the LLM on the reference transcripts"
    out="${exp}/topline/decode_${s}_{task}"
    # shellcheck disable=SC2086  # topline_tasks is a list
    ${decode_cmd} JOB=1:"${nj}" "${exp}/topline/log/decode_${s}.JOB.log" \
      python -m soundwave.bin.decode_topline --model-dir "${exp}/${decode_stages##* }" --config "${decode_config}" \
        --cuts "data/${feats}/cuts_${s}.jsonl.gz" --tasks ${topline_tasks} --out-dir "${out}" --shard JOB/"${nj}"
    # shellcheck disable=SC2086
    python -m soundwave.bin.decode --merge "${nj}" --tasks ${topline_tasks} --out-dir "${out}"
  done
  for m in ${decode_stages}; do
    for s in ${test_sets}; do
      log "stage 6: decoding ${s} (${decode_tasks}) with ${m}"
      out="${exp}/${m}/decode_${s}_{task}"
      # shellcheck disable=SC2086  # decode_tasks is a list
      ${decode_cmd} JOB=1:"${nj}" "${exp}/${m}/log/decode_${s}.JOB.log" \
        python -m soundwave.bin.decode --model-dir "${exp}/${m}" --config "${decode_config}" \
          --cuts "data/${feats}/cuts_${s}.jsonl.gz" --tasks ${decode_tasks} --out-dir "${out}" --shard JOB/"${nj}" \
          ${decode_cache_args} ${decode_args}
      # shellcheck disable=SC2086
      python -m soundwave.bin.decode --merge "${nj}" --tasks ${decode_tasks} --out-dir "${out}"
    done
  done
fi

if stage_on 7; then
  log "stage 7: scoring"
  for m in ${scored_stages}; do
    config=${exp}/${m}/soundwave_config.json tasks=${decode_tasks}
    [ "${m}" = whisper ] && config=${whisper_reference}/config.json tasks=asr
    # no stage config: an untrained LLM (its weights' hash is in decode.json)
    [ "${m}" = topline ] && config="" tasks=${topline_tasks}
    for s in ${test_sets}; do
      for t in ${tasks}; do
        d=${exp}/${m}/decode_${s}_${t}
        norm=()
        [ "${t}" = asr ] && [ -n "${asr_normalizer}" ] && norm=(--normalizer "${asr_normalizer}")
        scored=(--task "${t}" --ref "${d}/ref.txt" --hyp "${d}/hyp.txt" --set "${s}" --stage "${m}")
        [ -n "${config}" ] && scored+=(--config "${config}")
        python -m soundwave.bin.score "${scored[@]}" --out "${d}/score_${t}.json" ${norm[@]+"${norm[@]}"}
        if "${chrf}" && [[ ${t} == st_* ]]; then
          python -m soundwave.bin.score "${scored[@]}" --metric chrf --out "${d}/score_${t}.chrf.json"
        fi
      done
    done
  done
  for m in ${hearing_tasks:+${decode_stages}}; do
    for t in ${hearing_tasks}; do
      # shellcheck disable=SC2086  # decode_cache_args: zero or one override
      python -m soundwave.bin.hearing_check --model-dir "${exp}/${m}" --task "${t}" --utts "${hearing_utts}" \
        --cuts "data/${feats}/cuts_${valid_set}.jsonl.gz" --out "${exp}/${m}/hearing_${valid_set}_${t}.json" \
        --config "${decode_config}" ${decode_cache_args}
    done
  done
  python -m soundwave.bin.make_results "${exp}" --out "${exp}/RESULTS.md"
  dirs=()
  for m in align shrink sft; do [ -f "${exp}/${m}/history.json" ] && dirs+=("${exp}/${m}"); done
  [ ${#dirs[@]} -gt 0 ] && python -m soundwave.bin.plot_curves --out "${exp}/curves.png" "${dirs[@]}"
  last_test=${test_sets##* }  # "dev test": the picture shows an evaluation utterance
  if [ -f "${exp}/shrink/soundwave_config.json" ]; then  # (no CTC head: it says so, plots nothing)
    python -m soundwave.bin.plot_alignment --model-dir "${exp}/shrink" --index 0 \
      --cuts "data/fbank/cuts_${last_test}.jsonl.gz" --out "${exp}/alignment.png"
  fi
  cat "${exp}/RESULTS.md"
fi
log "done (stages ${stage}-${stop_stage})"
