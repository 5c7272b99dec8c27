# shellcheck shell=bash
# Kaldi-compatible command-line option parsing for recipe and tool scripts.
#
# A script defines its options as variables with default values (and optionally a
# $help_message), then sources this file:
#
#   stage=0
#   nj=4
#   use_gpu=false
#   help_message="Usage: $0 [options] <data-dir>"
#   . utils/parse_options.sh || exit 1
#
# Then `--nj 8` or `--nj=8` sets nj (`--foo-bar` and `--foo_bar` both set foo_bar); only a
# variable that already exists can be set, anything else is "unknown option" and exit 1.
# A variable whose value is true or false only takes true or false.  `--config FILE`
# sources FILE before the other options are applied (so the command line wins over it).
# `--help` / `-h` prints $help_message and exits 0.  Parsing stops at the first argument
# that is not an option (or after `--`); the options are shifted off "$@", leaving the
# positional arguments.  All helper variables start with _po_ and are unset at the end.

# Pass 1: source --config files, left to right, before anything else is set.
_po_i=1
while [ "$_po_i" -le $# ]; do
  _po_arg=${!_po_i}
  case $_po_arg in
    --) break ;;
    --help|-h) _po_i=$((_po_i + 1)); continue ;;
    --config=*) _po_conf=${_po_arg#--config=}; _po_i=$((_po_i + 1)) ;;
    --config)
      _po_i=$((_po_i + 1))
      if [ "$_po_i" -gt $# ]; then echo "$0: option --config needs a file" >&2; exit 1; fi
      _po_conf=${!_po_i}; _po_i=$((_po_i + 1)) ;;
    --*=*) _po_i=$((_po_i + 1)); continue ;;
    --*) _po_i=$((_po_i + 2)); continue ;;
    *) break ;;
  esac
  if [ ! -r "$_po_conf" ]; then echo "$0: cannot read config file '$_po_conf'" >&2; exit 1; fi
  # shellcheck source=/dev/null
  . "$_po_conf"
done

# Pass 2: set the variables.
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    --help|-h)
      if [ -z "${help_message:-}" ]; then
        echo "$0: no help available"
      else
        # %b: Kaldi scripts write \n and \t in their help messages
        printf '%b\n' "$help_message"
      fi
      exit 0 ;;
    --*=*) _po_name=${1%%=*}; _po_value=${1#*=}; shift ;;
    --*)
      _po_name=$1
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
      _po_value=$2; shift 2 ;;
    *) break ;;
  esac
  _po_opt=$_po_name
  _po_name=${_po_name#--}
  _po_name=${_po_name//-/_}
  if [ "$_po_name" = config ]; then continue; fi  # sourced in pass 1
  if ! [[ $_po_name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!_po_name+set}" ]; then
    echo "$0: unknown option $_po_opt" >&2
    exit 1
  fi
  case ${!_po_name} in
    true|false)
      case $_po_value in
        true|false) ;;
        *) echo "$0: option $_po_opt takes true or false, got '$_po_value'" >&2; exit 1 ;;
      esac ;;
  esac
  printf -v "$_po_name" '%s' "$_po_value"
done

# An empty --cmd is almost always a scripting error (Kaldi checks this too).
if [ -n "${cmd+set}" ] && [ -z "$cmd" ]; then
  echo "$0: empty argument to --cmd" >&2
  exit 1
fi

unset _po_i _po_arg _po_conf _po_name _po_value _po_opt
true
