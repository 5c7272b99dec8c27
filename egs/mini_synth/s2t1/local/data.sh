#!/usr/bin/env bash
# Stage 0 of mini_synth: synthesise the corpus into Kaldi data dirs data/{train,dev,test}
# (speech under data/local/synth/wav) plus text-only task data for the stand-in LLM.
# What the corpus is (sizes, speakers, seed) is the corpus config's, with the
# key=value overrides of --corpus-args on top.
set -euo pipefail

nj=2
corpus_config=conf/corpus.yaml
corpus_args=""  # key=value overrides, e.g. "num_test=100 seed=1"

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--nj N] [--corpus-config conf/corpus.yaml] [--corpus-args \"k=v ...\"]"
# shellcheck source=/dev/null
. utils/parse_options.sh

# shellcheck disable=SC2086  # corpus_args is a list
python -m soundwave.bin.make_synth_corpus --voices-check --config "${corpus_config}" ${corpus_args}
# shellcheck disable=SC2086
python -m soundwave.bin.make_synth_corpus --data-dir data --work-dir data/local/synth \
  --nj "${nj}" --config "${corpus_config}" ${corpus_args}
for s in train dev test; do
  utils/validate_data_dir.sh --no-feats "data/${s}"
done
