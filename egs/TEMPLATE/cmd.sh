# shellcheck shell=bash
# How a recipe runs its jobs; run.sh sources it: . ./cmd.sh
# Pick the backend with the environment variable cmd_backend (default local):
#   cmd_backend=slurm ./run.sh
# Every *_cmd takes the same arguments ([options] [JOB=1:N] LOG-FILE COMMAND...), so the
# stages never depend on the backend.  utils/run_local.sh ignores --mem/--gpu/--time;
# utils/slurm.sh maps them to sbatch options through conf/slurm.conf when the recipe has
# one (Kaldi's slurm.pl format), else through its built-in defaults.

cmd_backend=${cmd_backend:-local}
case $cmd_backend in
  local)
    export train_cmd="utils/run_local.sh"
    export decode_cmd="utils/run_local.sh"
    export cuda_cmd="utils/run_local.sh"
    ;;
  slurm)
    export train_cmd="utils/slurm.sh --mem 4G"
    export decode_cmd="utils/slurm.sh --mem 4G"
    export cuda_cmd="utils/slurm.sh --mem 16G --gpu 1"
    ;;
  *)
    echo "cmd.sh: unknown cmd_backend '$cmd_backend' (use local or slurm)" >&2
    return 1
    ;;
esac
