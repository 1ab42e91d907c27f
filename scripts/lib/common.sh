# shellcheck shell=bash
# Shared helpers for the Cashpoint scripts. Source it, do not run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Provides:
#   ROOT                     absolute (physical) path of the project root
#   PG_BINDIR                where the PostgreSQL 15 server binaries live
#   log MSG...               message to stderr, prefixed with [cashpoint]
#   warn MSG...              warning to stderr
#   die MSG...               error to stderr, then exit 1
#   ensure_system_packages   installs (as root) or asks for the Debian packages we need
#   ensure_swift             makes sure `swift` is on PATH
#   generate_password        prints a random 32-character [A-Za-z0-9] password
#   port_in_use PORT         exit 0 if something already holds 127.0.0.1:PORT

if [[ -n "${CASHPOINT_COMMON_SH_LOADED:-}" ]]; then
    return 0
fi
CASHPOINT_COMMON_SH_LOADED=1

log() { printf '[cashpoint] %s\n' "$*" >&2; }
warn() { printf '[cashpoint] warning: %s\n' "$*" >&2; }
die() {
    printf '[cashpoint] error: %s\n' "$*" >&2
    exit 1
}

# This file lives in ROOT/scripts/lib/.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)" \
    || die "cannot determine the project root from ${BASH_SOURCE[0]}"
[[ -f "$ROOT/Package.swift" ]] || warn "no Package.swift in $ROOT; is this the Cashpoint project root?"
export ROOT

PG_BINDIR=/usr/lib/postgresql/15/bin

# Set once `apt-get update` has run in this process.
CASHPOINT_APT_UPDATED=${CASHPOINT_APT_UPDATED:-0}

apt_update_once() {
    if [[ "$CASHPOINT_APT_UPDATED" == 1 ]]; then
        return 0
    fi
    log "running apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update </dev/null >&2 || die "apt-get update failed"
    CASHPOINT_APT_UPDATED=1
}

# True when apt knows a real (installable, non-virtual) package of that name.
apt_has_real_package() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')"
    [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

# Lists what is missing, one human-readable item per line (nothing when all is there).
missing_system_packages() {
    [[ -x "$PG_BINDIR/initdb" ]] || echo "PostgreSQL 15 server ($PG_BINDIR/initdb)"
    if ! command -v pg_config >/dev/null 2>&1 || [[ ! -f /usr/include/postgresql/libpq-fe.h ]]; then
        echo "libpq headers and pg_config (libpq-dev)"
    fi
    [[ -f /usr/include/crypt.h ]] || echo "/usr/include/crypt.h (libcrypt-dev)"
    [[ -f /usr/include/sqlite3.h ]] || echo "/usr/include/sqlite3.h (libsqlite3-dev)"
    command -v pkg-config >/dev/null 2>&1 || echo "pkg-config"
    command -v tmux >/dev/null 2>&1 || echo "tmux (the full-screen ATM's test drives it)"
    command -v sqlite3 >/dev/null 2>&1 || echo "sqlite3 (the terminal journal's command line)"
    [[ -f /usr/include/qrencode.h ]] || echo "/usr/include/qrencode.h (libqrencode-dev: the staff QR code)"
    command -v oathtool >/dev/null 2>&1 || echo "oathtool (the one-time password tests' independent generator)"
    command -v zbarimg >/dev/null 2>&1 || echo "zbarimg (zbar-tools: the QR code test reads the code back)"
    return 0
}

ensure_system_packages() {
    local missing
    missing="$(missing_system_packages)"
    if [[ -z "$missing" ]]; then
        return 0
    fi
    log "missing system packages:"
    local item
    while IFS= read -r item; do
        log "  - $item"
    done <<<"$missing"

    local contrib=postgresql-contrib
    if [[ $EUID -ne 0 ]]; then
        if command -v apt-cache >/dev/null 2>&1 && apt_has_real_package postgresql-contrib-15; then
            contrib=postgresql-contrib-15
        fi
        die "not running as root, so I cannot install them. Run as root:
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 $contrib libpq-dev libcrypt-dev libsqlite3-dev pkg-config tmux sqlite3 libqrencode-dev oathtool zbar-tools"
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found: install PostgreSQL 15, libpq-dev, libcrypt-dev, libsqlite3-dev, pkg-config, tmux, sqlite3, libqrencode-dev, oathtool and zbar-tools by hand"

    apt_update_once
    if apt_has_real_package postgresql-contrib-15; then
        contrib=postgresql-contrib-15
    fi
    local pkgs=(postgresql-15 "$contrib" libpq-dev libcrypt-dev libsqlite3-dev pkg-config tmux sqlite3
        libqrencode-dev oathtool zbar-tools)
    log "installing: ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" </dev/null >&2 \
        || die "apt-get install ${pkgs[*]} failed"
    hash -r
    missing="$(missing_system_packages)"
    if [[ -n "$missing" ]]; then
        die "still missing after apt-get install: $(tr '\n' ';' <<<"$missing")"
    fi
    log "system packages installed"
}

ensure_swift() {
    if command -v swift >/dev/null 2>&1; then
        return 0
    fi
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
        log "swift not on PATH; using /opt/swift/usr/bin/swift"
        return 0
    fi
    die "Swift toolchain not found: 'swift' is not on PATH and /opt/swift/usr/bin/swift does not exist.
    Install a Swift toolchain for Linux (e.g. unpack it so that /opt/swift/usr/bin/swift exists) or add its usr/bin to PATH."
}

generate_password() {
    local pw=""
    while ((${#pw} < 32)); do
        pw+="$(head -c 256 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')"
    done
    printf '%s\n' "${pw:0:32}"
}

# Exit 0 if something already holds 127.0.0.1:PORT (or the whole port).
port_in_use() {
    local port="$1" rc=0
    if command -v python3 >/dev/null 2>&1; then
        # Same bind PostgreSQL does (SO_REUSEADDR, so TIME_WAIT does not count).
        python3 - "$port" <<'PY' >/dev/null 2>&1 || rc=$?
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(10)
finally:
    s.close()
sys.exit(11)
PY
        case "$rc" in
        10) return 0 ;;
        11) return 1 ;;
        esac
        # python3 is there but broken: fall through to the probe below.
    fi
    # Without python3: is anything accepting connections there?
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}
