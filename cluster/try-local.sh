#!/usr/bin/env bash
# docs/CLUSTER.md, "Try it on one machine": a two-node Ray cluster on this machine (two `ray start`
# processes) with token authentication, then the jobs a cluster user submits, then both nodes stopped by
# the PIDs this script started. Needs `pip install -e '.[cluster]'`; run from anywhere:
#
#   bash cluster/try-local.sh                                                       # or, network-free:
#   unshare --net sh -c 'ip link set lo up; exec bash cluster/try-local.sh'
#
# Everything goes under one temporary folder (printed), which stands for storage the nodes share.
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(mktemp -d /tmp/nf-try-XXXX)                 # short: Ray's socket paths must stay short
mkdir -p "$W/home" "$W/shared"
export HOME=$W/home RAY_TMPDIR=$W               # a private home (token file) and Ray folder
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN=$(python -c "import secrets; print(secrets.token_hex(16))")
SHARED=$W/shared
echo "== everything under $W"
t0=$(date +%s)

ray start --head --block --port=6379 --num-cpus=1 --dashboard-host=127.0.0.1 --disable-usage-stats > "$W/head.log" 2>&1 &
HEAD=$! WORKER=
trap 'kill $WORKER $HEAD 2>/dev/null; wait' EXIT   # stop what this script started, by PID, whatever happens
until python -c "import socket; socket.create_connection(('127.0.0.1', 8265), 2)" 2>/dev/null; do sleep 1; done
ray start --block --address=127.0.0.1:6379 --num-cpus=1 --disable-usage-stats > "$W/worker.log" 2>&1 &
WORKER=$!
until grep -q "Ray runtime started" "$W/worker.log"; do sleep 1; done
echo "== cluster up after $(( $(date +%s) - t0 )) s"
python -c "import ray; ray.init(address='auto', logging_level='ERROR'); print('nodes alive:', sum(n['Alive'] for n in ray.nodes()), 'CPUs:', ray.cluster_resources()['CPU'])"

cp -r benchmarks/models/enas "$SHARED/my-bench"   # stands for a folder `nasframe benchmark build --out` wrote
t=$(date +%s)
nasframe submit --address http://127.0.0.1:8265 -- compare --benchmark "$SHARED/my-bench" \
    --searchers random,evolution --seeds 4 --budget 30 --storage "$SHARED/cmp" --out "$SHARED/cmp-report"
echo "== compare job: $(( $(date +%s) - t )) s"
python -c "from nasframe.store import ResultStore; print('runs in the store:', len(ResultStore('$SHARED/cmp/store').completed()))"
ls "$SHARED/cmp-report"

t=$(date +%s)
nasframe submit --address http://127.0.0.1:8265 -- bpe search --task digits --space nb101 --archs 4 \
    --full epochs=2 --budget 0.5 --rounds 1 --per-round 2 --exploit 1 --confirm 1 --replicates 1 --out "$SHARED/study"
echo "== bpe search job: $(( $(date +%s) - t )) s"
t=$(date +%s)
nasframe submit --address http://127.0.0.1:8265 -- bpe apply --out "$SHARED/study" --searcher evolution \
    --trials 4 --top-k 1 --storage "$SHARED/study-tune"
echo "== bpe apply job: $(( $(date +%s) - t )) s"
ls "$SHARED/study"
echo "trials: $(find "$SHARED/study-tune/tune/bpe-search" -mindepth 1 -maxdepth 1 -type d | wc -l)," \
     "checkpoints kept: $(find "$SHARED/study-tune/tune" -maxdepth 3 -name 'checkpoint_*' | wc -l)"
echo "== done in $(( $(date +%s) - t0 )) s"
