# shellcheck shell=bash
# The environment of a recipe; run.sh sources it from the recipe directory: . ./path.sh
# Finds the repository (SOUNDWAVE_ROOT, through the recipe's utils -> ../../../utils
# symlink, else three levels up), puts its virtualenv (<root>/.venv or $SOUNDWAVE_VENV)
# and utils/ first on PATH, and sets the C locale that Kaldi data dirs are sorted in.

if [ -z "${SOUNDWAVE_ROOT:-}" ]; then
  for _sw_dir in utils/.. ../../..; do
    if [ -d "$_sw_dir/soundwave" ] && [ -d "$_sw_dir/utils" ]; then
      SOUNDWAVE_ROOT=$(cd -P "$_sw_dir" && pwd)
      break
    fi
  done
  unset _sw_dir
fi
if [ ! -d "${SOUNDWAVE_ROOT:-/nonexistent}/soundwave" ]; then
  echo "path.sh: cannot find the soundwave repository from $PWD (set SOUNDWAVE_ROOT)" >&2
  return 1
fi
export SOUNDWAVE_ROOT

_sw_venv=${SOUNDWAVE_VENV:-$SOUNDWAVE_ROOT/.venv}
if [ -x "$_sw_venv/bin/python" ]; then
  export VIRTUAL_ENV=$_sw_venv
  case ":$PATH:" in *":$_sw_venv/bin:"*) ;; *) PATH=$_sw_venv/bin:$PATH ;; esac
  unset PYTHONHOME
fi
unset _sw_venv
case ":$PATH:" in *":$SOUNDWAVE_ROOT/utils:"*) ;; *) PATH=$SOUNDWAVE_ROOT/utils:$PATH ;; esac
export PATH

export LC_ALL=C              # sort order of Kaldi data dirs; Python still reads UTF-8 (PEP 540)
export PYTHONUNBUFFERED=1    # job logs show progress as it happens
