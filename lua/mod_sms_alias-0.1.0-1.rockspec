-- LuaRocks spec for mod_sms_alias: the Prosody module and its native library.
--
-- `prosodyctl install` hands this to `luarocks --lua-version=5.4 install
-- --tree=<installer_plugin_path>`, which installs
--   share/lua/5.4/mod_sms_alias.lua     (Prosody's plugin loader finds it there)
--   lib/lua/5.4/sms_alias_native.so     (mod_sms_alias.lua loads it by path)
--
-- The build runs cargo, so the machine needs a Rust toolchain, and because
-- prosodyctl sets HOME to Prosody's data directory, RUSTUP_HOME and
-- CARGO_HOME must be exported (see README.md). lua/make-rocks.sh packs this
-- spec with its source into a .src.rock (offline), and can build a binary
-- rock that installs without any toolchain.
--
-- Keep `version` equal to the workspace version in Cargo.toml: make-rocks.sh
-- refuses to pack otherwise.

rockspec_format = "3.0"
package = "mod_sms_alias"
version = "0.1.0-1"

source = {
   -- Where a release's source tarball is published. lua/make-rocks.sh makes
   -- the same tarball from a checkout and points a copy of this spec at it
   -- (file://), so everything also works offline.
   url = "https://example.invalid/goippy/releases/download/v0.1.0/mod_sms_alias-0.1.0.tar.gz",
   dir = "mod_sms_alias-0.1.0",
}

description = {
   summary = "Prosody module: chat with +number@your-domain through the goippy SMS gateway",
   detailed = [[
Users chat with +37255512345@example.org; mod_sms_alias re-addresses those
stanzas to goippy's component (+37255512345@sms.example.org) and makes its
replies come from the alias, so there is one contact, one roster item and one
archive thread. The address rules are goippy's own, in a Rust library.
]],
   license = "MIT",
   homepage = "https://example.invalid/goippy",
   labels = { "prosody", "xmpp", "sms" },
}

dependencies = {
   "lua >= 5.4, < 5.5",
}

build = {
   type = "command",
   -- --locked: build exactly the dependency versions goippy was tested with.
   -- Stripped: the debug line tables of the release profile would make the
   -- library ten times larger for a module that only ever runs inside Prosody.
   -- cargo metadata names the directory cargo built in (CARGO_TARGET_DIR or
   -- a build.target-dir of the machine's cargo config), so the copy never
   -- picks up an older build. The copy drops cargo's `lib` prefix and lands
   -- under target/ so that `luarocks make` in a checkout leaves no stray
   -- file behind.
   build_command = [[
cargo build --release --locked -p mod_sms_alias --config profile.release.strip=true &&
built=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p') &&
test -n "$built" &&
mkdir -p target/rock &&
cp "$built/release/libsms_alias_native.so" target/rock/sms_alias_native.so
]],
   install = {
      lua = {
         ["mod_sms_alias"] = "lua/mod_sms_alias.lua",
      },
      lib = {
         ["sms_alias_native"] = "target/rock/sms_alias_native.so",
      },
   },
}
