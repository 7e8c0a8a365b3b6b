#!/bin/sh
# Regenerate tests/fixtures/analyze/: the log our logger writes (from the
# log_analyze test with its fake clock) and upstream's `cloud-init analyze
# show` / `blame` output for it (needs the oracle, see shared/oracle).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fx="$here/fixtures/analyze"
oracle=${CLOUD_INIT_ORACLE:-/work/shared/oracle/cloud-init-oracle}
CI_STATE_WRITE_ANALYZE_FIXTURE=1 cargo test -p ci-state --test log_analyze
"$oracle" analyze show -i "$fx/cloud-init.log" > "$fx/analyze-show.txt"
"$oracle" analyze blame -i "$fx/cloud-init.log" > "$fx/analyze-blame.txt"
