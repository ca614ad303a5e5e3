#!/usr/bin/env bash
# The goippy demo (the README's first command):
#
#   sudo bash prosody-test/demo.sh
#
# Installs what is missing, builds goippy, writes a sample configuration on
# embedded SQLite into a private temp dir and runs the daemon on it until
# Ctrl-C. Everything it starts is stopped and removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=prosody-test/setup.sh
source "$here/setup.sh"
ensure_packages
ensure_rust

cd "$root"
cargo build --release --locked -p goippy-core --bins

work=$(mktemp -d -t goippy-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

goippy="$root/target/release/goippy"
"$goippy" --sample "$work/goippy.conf"
sed -i -e "s|^DB_FILE .*|DB_FILE                = \"$work/goippy.db\"|" \
       -e "s|^GOIP_BIND .*|GOIP_BIND              = \"127.0.0.1\"|" "$work/goippy.conf"
"$goippy" --check "$work/goippy.conf"

echo
echo "goippy runs on $work/goippy.conf; press Ctrl-C to stop it."
"$goippy" -v "$work/goippy.conf" &
pids+=($!)
wait "${pids[0]}"
