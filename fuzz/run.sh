#!/usr/bin/env bash
# A bounded fuzzing run of one target (or all): builds it if needed, then runs libFuzzer from the seed
# corpus fuzz/corpus/TARGET for RUNS executions (default 100000; the issue-17 campaign used 1000000).
# New inputs go to .build/fuzz/work/TARGET (the committed seeds are never modified); a crash, leak,
# timeout or out-of-memory input is written to .build/fuzz/artifacts/TARGET/ and the script exits non-zero.
# Usage: fuzz/run.sh [TARGET|all] [RUNS] [extra libFuzzer flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}; runs=${2:-100000}; shift $(( $# > 2 ? 2 : $# ))
targets=(graph-parser safetensors config images)
[[ $which == all ]] || targets=("$which")
fuzz/build.sh "${targets[@]}"
status=0
for t in "${targets[@]}"; do
    work=.build/fuzz/work/$t artifacts=.build/fuzz/artifacts/$t
    mkdir -p "$work" "$artifacts"
    echo "== $t: $runs runs" >&2
    # Swift's backtracer would report its own reads of the crashed stack as ASan errors: libFuzzer's report suffices.
    SWIFT_BACKTRACE=enable=no nice -n 19 ".build/fuzz/fuzz-$t" -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=2560 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" "$work" "fuzz/corpus/$t" || status=1
done
exit $status
