#!/usr/bin/env bash
# Stage 0 of covost2/st1: CoVoST 2's split TSVs over Common Voice English clips into Kaldi
# data dirs data/{train,dev,test} (text: the English transcript; text.<tgt>: one
# translation per language pair; utt2spk: Common Voice's client_id).
set -euo pipefail

covost_dir=""        # covost_v2.en_<tgt>.{train,dev,test}.tsv (CoVoST's get_covost_splits.py)
cv_root=""           # the Common Voice release: <cv_root>/en/clips/*.mp3
pairs="en_de en_zh-CN"  # CoVoST's names; text.<tgt> drops the region (text.zh)
skip_missing_clips=false  # true: leave out (and count) rows whose clip is not in clips/

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 --covost-dir DIR --cv-root DIR [--pairs \"en_de en_zh-CN\"] [--skip-missing-clips true]"
# shellcheck source=/dev/null
. utils/parse_options.sh
if [ -z "${covost_dir}" ] || [ -z "${cv_root}" ]; then
  echo "${help_message}" >&2
  exit 1
fi

skip=()
"${skip_missing_clips}" && skip=(--skip-missing-clips)
# shellcheck disable=SC2086  # pairs is a list
python -m soundwave.bin.prepare_covost2 --covost-dir "${covost_dir}" --cv-root "${cv_root}" \
  --pairs ${pairs} --out data ${skip[@]+"${skip[@]}"}
for s in train dev test; do
  utils/validate_data_dir.sh --no-feats "data/${s}"
done
