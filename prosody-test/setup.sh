# Shared by test-all.sh and demo.sh: install what goippy's tests and demo need
# on Debian 12, only when it is missing. Source it; do not run it.

# Debian packages: Prosody and Lua 5.4 (the module, its native library and the
# Lua tests), luarocks (prosodyctl install), MariaDB (the MySQL backend tests),
# systemd for systemd-analyze (the --install tests verify and rate the units it
# writes; nothing needs systemd running), openssl for the tests' certificates
# and their STARTTLS logins, sqlite3 for the fault run's "admin's shell holds
# the write lock".
GOIPPY_PACKAGES=(prosody lua5.4 liblua5.4-dev luarocks lua-busted mariadb-server
                 gcc libc6-dev pkg-config curl ca-certificates procps systemd openssl
                 sqlite3)

ensure_packages() {
    local missing=()
    for p in "${GOIPPY_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run this as root (or install them first)" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# goippy needs Rust >= 1.94 (sqlx 0.9); Debian 12's own rustc is older, so the
# toolchain comes from rustup when cargo is missing or too old.
ensure_rust() {
    [ -f "$HOME/.cargo/env" ] && source "$HOME/.cargo/env"
    local ok=0
    if command -v cargo >/dev/null 2>&1; then
        local minor
        minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
        [ "${minor:-0}" -ge 94 ] && ok=1
    fi
    if [ $ok -eq 0 ]; then
        if command -v rustup >/dev/null 2>&1; then
            rustup toolchain install stable --profile minimal -c clippy,rustfmt
            rustup default stable
        else
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
                | sh -s -- -y --profile minimal -c clippy,rustfmt
            source "$HOME/.cargo/env"
        fi
    fi
    if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
        rustup component add clippy rustfmt
    fi
}
