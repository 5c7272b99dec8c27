# shellcheck shell=bash
# Stage selection for run.sh-style scripts: `if stage_on 3; then ...; fi` runs a stage when
# stage <= N <= stop_stage.  N may be fractional (a recipe's extra stage 2.5 between 2 and 3).
stage_on() {
  awk -v a="${stage:?}" -v n="$1" -v b="${stop_stage:?}" 'BEGIN { exit !(a <= n && n <= b) }'
}
