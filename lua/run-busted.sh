#!/bin/sh
# Runs the lua-busted unit tests of mod_sms_alias.lua under Lua 5.4 (the
# Lua Debian 12's Prosody runs on), against a fresh build of the native
# library. Needs the Debian packages lua-busted, lua5.4 and prosody.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cargo build --quiet --manifest-path "$root/Cargo.toml" -p mod_sms_alias
# Cargo says where it built (CARGO_TARGET_DIR, possibly relative, or a
# build.target-dir in a cargo config), as an absolute path.
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
	| sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "$target" ]; then
	echo "run-busted: cargo metadata named no target directory" >&2
	exit 1
fi
export SMS_ALIAS_NATIVE="$target/debug/libsms_alias_native.so"
cd "$root"
exec busted --lua=lua5.4 "$@" "$here/spec"
