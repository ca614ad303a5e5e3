#!/usr/bin/env bash
# Runs every goippy test on a Debian 12 machine, installing what is missing.
#
#   sudo bash prosody-test/test-all.sh
#
# Idempotent: packages and the Rust toolchain are only installed when absent.
# It runs, in order: formatting and lint checks, the workspace's unit and
# integration tests (real UDP sockets, SQLite files, a throwaway MariaDB and
# throwaway Prosody servers), the Lua unit tests, the end-to-end scenarios
# of prosody-test against a real Prosody (goippy, goip-sim, mod_sms_alias;
# SQLite and MariaDB), and the demo once. Any failure stops it with exit 1,
# naming the step that failed.
set -Eeuo pipefail

current="installing what is missing"
step() { current=$*; printf '\n==> %s\n' "$*"; }
# Whatever failed (cargo exits 101, a script 2…), the run ends with status 1
# and names the step, as the README promises.
trap 'status=$?; printf "\n==> FAILED (exit %s) in: %s\n" "$status" "$current" >&2; exit 1' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=prosody-test/setup.sh
source "$here/setup.sh"

ensure_packages
ensure_rust

# A test run is a clean build more often than not (CI, a fresh machine):
# incremental state would only double what it writes to disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cd "$root"
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
cargo test --workspace --locked

step "benchmarks, smoke pass (cargo bench prints the figures)"
cargo test -p goippy-core --benches --locked

step "busted (Lua unit tests of mod_sms_alias.lua)"
sh "$root/lua/run-busted.sh"

step "prosody-test: clippy and end-to-end scenarios against a real Prosody"
cd "$here"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --no-fail-fast
cd "$root"

step "the demo, as the README runs it (--once: stop after the transcript)"
bash "$here/demo.sh" --once

step "all tests passed"
