#!/bin/bash
# ptg on a Slurm cluster, from a login node. The experiment root, the workspace, node, ptg and
# claude must be on a file system every node sees (the cluster's home or project folder).
# ptg submits one job array (the STPs dealt to 8 tasks) and one report job after it, waits, shows
# progress, and exits as a local run would; Ctrl-C cancels the run's jobs.
set -euo pipefail
VERSION=${1:-v2.1}
RUN_ID=${2:-slurm-$(date +%Y%m%d-%H%M%S)}

npx ptg setup
npx ptg run "$VERSION" --executor slurm --shards 8 --run-id "$RUN_ID" --timeout 30m \
  --sbatch-arg=--partition=batch --sbatch-arg=--time=2:00:00 --sbatch-arg=--mem=8G \
  || test $? -eq 1
# The report job has written results_$VERSION_$RUN_ID/ in the workspace; `--no-wait` above would
# return at once, and `ptg status "$VERSION" "$RUN_ID"` follow the jobs.
