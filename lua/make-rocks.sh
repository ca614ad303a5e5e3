#!/bin/sh
# Packs mod_sms_alias for `prosodyctl install`, from this goippy checkout.
#
#   lua/make-rocks.sh [--binary] [--out DIR] [--prosody-config FILE]
#
# Writes to DIR (default: target/rocks):
#   mod_sms_alias-V.tar.gz               the source the rockspec builds from
#   mod_sms_alias-V-1.rockspec           lua/'s rockspec, its source.url pointing
#                                        at that tarball (file://)
#   mod_sms_alias-V-1.src.rock           rockspec + source; installing it runs cargo
#   mod_sms_alias-V-1.linux-x86_64.rock  (--binary) the built module and library;
#                                        installs with no Rust toolchain at all
#   manifest*                            so that `--server=DIR` works too
#
# --binary runs the rockspec's cargo release build in this checkout (so it is
# incremental) and packs the result. Needs luarocks and luarocks-admin.
#
# Then it prints the exact commands that install the rock into the Prosody
# of this machine (the one configured in FILE, default
# /etc/prosody/prosody.cfg.lua), as root. They use `prosodyctl --root`:
# without it, prosodyctl run as root switches to the prosody user, which
# cannot read a rock under /root (luarocks then says only "There is no
# 'plugin_server' option"); and they give the installed files back to the
# prosody user, so that its own later `prosodyctl install` can replace them.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$root/target/rocks"
binary=false
prosody_config=
while [ $# -gt 0 ]; do
	case "$1" in
		--binary) binary=true ;;
		--out) shift; out=$1 ;;
		--prosody-config) shift; prosody_config=$1 ;;
		*) echo "usage: $0 [--binary] [--out DIR] [--prosody-config FILE]" >&2; exit 2 ;;
	esac
	shift
done

# The workspace version is the one truth; the rockspec must agree with it.
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
rockspec="$here/mod_sms_alias-$version-1.rockspec"
if [ -z "$version" ] || [ ! -f "$rockspec" ]; then
	echo "make-rocks: no rockspec for workspace version '$version' (expected $rockspec)" >&2
	exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
name="mod_sms_alias-$version"

# Only what the build needs: the workspace manifest and lock file, the pure
# rules (goippy-core) and the module. Never build output.
tar -czf "$out/$name.tar.gz" -C "$root" \
	--sort=name --owner=0 --group=0 --numeric-owner \
	--exclude=target --exclude=fuzz --exclude='*.rock' \
	--transform "s,^,$name/," \
	Cargo.toml Cargo.lock goippy-core mod_sms_alias lua/mod_sms_alias.lua lua/README.md

# The published rockspec fetches a release tarball; this copy takes the one
# just made, so nothing here needs the network.
sed "s|^\( *url = \)\".*\"|\1\"file://$out/$name.tar.gz\"|" "$rockspec" > "$out/$name-1.rockspec"
grep -q "file://$out/$name.tar.gz" "$out/$name-1.rockspec"

cd "$out"
rm -f "$name-1".*.rock
luarocks pack "$name-1.rockspec" >/dev/null
echo "make-rocks: $out/$name-1.src.rock"

if $binary; then
	# `luarocks make` builds in the checkout itself, so cargo's incremental
	# release build (CARGO_TARGET_DIR or target/) is reused between runs.
	cd "$root"
	luarocks --lua-version=5.4 make --pack-binary-rock "$rockspec" >/dev/null
	for rock in "$name-1".*.rock; do
		mv "$rock" "$out/"
		echo "make-rocks: $out/$rock"
	done
fi

luarocks-admin --lua-version=5.4 make-manifest "$out" >/dev/null

# Quoted for sh, so that the printed commands can be pasted as they are.
quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# Where `prosodyctl install` puts modules: the configuration's absolute
# installer_plugin_path, or Debian's default.
config_file=${prosody_config:-/etc/prosody/prosody.cfg.lua}
plugins=$(sed -n 's/^[[:space:]]*installer_plugin_path[[:space:]]*=[[:space:]]*"\(\/[^"]*\)".*/\1/p' \
	"$config_file" 2>/dev/null | tail -n 1)
plugins=${plugins:-/var/lib/prosody/custom_plugins}
prosodyctl=prosodyctl
if [ -n "$prosody_config" ]; then
	prosodyctl="prosodyctl --config $(quote "$prosody_config")"
fi

echo
if $binary; then
	rock=$(ls "$out/$name-1".*.rock | grep -v '\.src\.rock$' | head -n 1)
	echo "To install it into this machine's Prosody, as root:"
else
	rock="$out/$name-1.src.rock"
	# prosodyctl points HOME at Prosody's data directory, where rustup
	# finds no toolchain: name this user's.
	echo "To install it into this machine's Prosody (it builds with cargo there), as root:"
	echo "  export RUSTUP_HOME=$(quote "${RUSTUP_HOME:-$HOME/.rustup}") CARGO_HOME=$(quote "${CARGO_HOME:-$HOME/.cargo}")"
fi
echo "  $prosodyctl --root install $(quote "$rock")"
echo "  chown -R prosody:prosody $(quote "$plugins")"
echo "then restart Prosody. On another server: copy the rock there and run the same with its path."
