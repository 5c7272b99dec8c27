#!/usr/bin/env bash
# Long recordings (stage 7.5): recordings of a few minutes made from the test set's
# sentences, decoded long-form (cut at the adapter's CTC blank runs and at pauses) and
# sentence by sentence with the same settings; WER of both, where each cut fell, seconds.
# Writes exp/<tag>/long_form/long_form.{json,md}; local/report.sh puts the table into
# RESULTS.md.
set -euo pipefail

tag=mini
decode_stage=sft
data=data/test
minutes="1 3 5"
max_segment_s=20

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--tag mini] [--decode-stage sft] [--data data/test] [--minutes \"1 3 5\"] [--max-segment-s 20]"
# shellcheck source=/dev/null
. ./path.sh
# shellcheck source=/dev/null
. utils/parse_options.sh

model=exp/${tag}/${decode_stage}
[ -f "${model}/soundwave_config.json" ] || { echo "$0: no model in ${model}: run ./run.sh --stop-stage 5 first" >&2; exit 1; }
# shellcheck disable=SC2086  # word lists on purpose
python "${SOUNDWAVE_ROOT}/bench/long_form.py" --model-dir "${model}" --data-dir "${data}" \
  --config conf/decode.yaml --out-dir "exp/${tag}/long_form" \
  --minutes ${minutes} --max-segment-s ${max_segment_s}
