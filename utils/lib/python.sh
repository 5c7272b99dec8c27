# shellcheck shell=bash
# Source this file, then call sw_python to get the Python interpreter soundwave's tools use:
# $SOUNDWAVE_PYTHON if set, else <repo>/.venv/bin/python if it exists, else python3.

sw_python() {
  if [ -n "${SOUNDWAVE_PYTHON:-}" ]; then
    echo "$SOUNDWAVE_PYTHON"
    return
  fi
  local root
  # physical path: recipes reach utils/ through a symlink (utils -> ../../../utils)
  root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
  if [ -x "$root/.venv/bin/python" ]; then
    echo "$root/.venv/bin/python"
  else
    echo python3
  fi
}
