#!/usr/bin/env bash
# The release build the benchmarks measure, compiled as deploy/Dockerfile compiles it: with
# the runtime's exclusivity checks left out of optimized code (README, "Deploying"). Further
# arguments go to `swift build`, e.g. `--product portico`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift build -c release -Xswiftc -enforce-exclusivity=unchecked "$@"
