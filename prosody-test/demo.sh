#!/usr/bin/env bash
# The goippy demo (the README's first command):
#
#   bash prosody-test/demo.sh          # as root on Debian 12, from a clone
#   bash prosody-test/demo.sh --once   # stop after the transcript (CI)
#
# Installs what is missing (Debian packages, a Rust toolchain), builds goippy,
# goip-sim and the demo, then runs the demo: a throwaway Prosody with
# mod_sms_alias, goippy on SQLite and a simulated GoIP with two channels, all
# on 127.0.0.1 in private temp dirs. It prints a live transcript (an SMS in,
# an SMS out with its delivery receipt, a USSD code, `status`), then keeps
# running so you can log in with a real XMPP client and type goip-sim
# commands, until Ctrl-C. Everything it started is stopped by PID and its temp
# dirs are removed; it can be run again right away.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=prosody-test/setup.sh
source "$here/setup.sh"
ensure_packages
ensure_rust

echo "==> building goippy and goip-sim"
cargo build --locked --manifest-path "$root/Cargo.toml" -p goippy-core -p goip-sim --bins
echo "==> building the demo (the first build takes a few minutes)"
cargo build --locked --manifest-path "$here/Cargo.toml" --bin demo
echo "==> running the demo"
# `cargo run` replaces itself with the demo, so Ctrl-C reaches the demo
# directly; the demo then stops what it started and cleans up.
exec cargo run --quiet --locked --manifest-path "$here/Cargo.toml" --bin demo -- "$@"
