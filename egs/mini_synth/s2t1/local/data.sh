#!/usr/bin/env bash
# Stage 0 of mini_synth: synthesise the corpus into Kaldi data dirs data/{train,dev,test}
# (speech under data/local/synth/wav) plus text-only task data for the stand-in LLM.
set -euo pipefail

seed=0
nj=2
num_train=3000
spk_train=100
num_dev=200
num_test=300
generated_timbres=0  # share of espeak-ng training speakers with a generated timbre
accent_rules=0       # probability of each accent rule in a generated timbre
flite_conversion=0   # share of flite training speakers converted into the other gender
train_warp=0         # per-speaker frequency warp of training speakers: 1 +- this

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--seed N] [--nj N] [--num-train N] [--spk-train N] [--num-dev N] [--num-test N] [--generated-timbres F] [--accent-rules F] [--flite-conversion F] [--train-warp F]"
# shellcheck source=/dev/null
. utils/parse_options.sh

python -m soundwave.bin.make_synth_corpus --voices-check
python -m soundwave.bin.make_synth_corpus --data-dir data --work-dir data/local/synth \
  --seed "${seed}" --nj "${nj}" --num-train "${num_train}" --spk-train "${spk_train}" \
  --num-dev "${num_dev}" --num-test "${num_test}" \
  --generated-timbres "${generated_timbres}" --accent-rules "${accent_rules}" \
  --flite-conversion "${flite_conversion}" --train-warp "${train_warp}"
for s in train dev test; do
  utils/validate_data_dir.sh --no-feats "data/${s}"
done
