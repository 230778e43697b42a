#!/bin/sh
# Installs QEMU 10.0 (Debian 13 "trixie" packages) into a private prefix on a
# Debian 12 host, without touching the host's dpkg database, and writes a
# launcher PREFIX/qemu-system-riscv64 that runs it through trixie's own loader.
#
# Usage: scripts/install-qemu10.sh [PREFIX]
#   PREFIX defaults to $HOME/.cache/rvhv/qemu-10.0.
# Prints the launcher's path on stdout; progress goes to stderr.
# Does nothing when PREFIX already holds a working launcher.
#
# Why each step is needed: docs/qemu-versions.md, "Installing QEMU 10.0 and
# choosing the binary". Needs network access to the Debian mirror the host's
# apt already uses; no root is needed.
set -eu

PREFIX=${1:-"$HOME/.cache/rvhv/qemu-10.0"}
LAUNCHER="$PREFIX/qemu-system-riscv64"

log() { printf 'install-qemu10: %s\n' "$*" >&2; }

if [ -x "$LAUNCHER" ] && "$LAUNCHER" --version 2>/dev/null | grep -q 'version 10\.0'; then
  log "already installed: $("$LAUNCHER" --version | head -n 1)"
  printf '%s\n' "$LAUNCHER"
  exit 0
fi

# The mirror the host already uses (deb822 sources first, then the one-line format).
# A trailing slash is allowed ("…/debian/"); debian-security and ports are not the archive.
MIRROR=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]]*$/\1/p' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
if [ -z "$MIRROR" ]; then
  MIRROR=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' \
    /etc/apt/sources.list 2>/dev/null | head -n 1)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/parts" "$WORK/prefs"
: > "$WORK/status"
echo "deb [signed-by=$KEYRING] $MIRROR trixie main" > "$WORK/sources.list"
cat > "$WORK/apt.conf" <<CONF
Dir::Etc::SourceList "$WORK/sources.list";
Dir::Etc::SourceParts "$WORK/parts";
Dir::Etc::Preferences "$WORK/prefs/none";
Dir::Etc::PreferencesParts "$WORK/prefs";
Dir::State "$WORK";
Dir::State::Lists "$WORK/lists";
Dir::State::status "$WORK/status";
Dir::Cache "$WORK";
Dir::Cache::archives "$WORK/archives";
APT::Install-Recommends "false";
Debug::NoLocking "true";
APT::Sandbox::User "root";
CONF

log "resolving qemu-system-riscv from trixie ($MIRROR)"
APT_CONFIG="$WORK/apt.conf" apt-get -qq update >&2
# The empty status file makes apt download the whole closure, trixie's libc6 included.
APT_CONFIG="$WORK/apt.conf" apt-get -qq install -d -y qemu-system-riscv >&2

log "unpacking $(ls "$WORK"/archives/*.deb | wc -l) packages into $PREFIX"
# Unpack next to PREFIX and move it into place only when complete, so an
# interrupted run never leaves a half-filled prefix behind.
STAGE="$PREFIX.partial.$$"
rm -rf "$STAGE"
mkdir -p "$STAGE"
trap 'rm -rf "$WORK" "$STAGE"' EXIT INT TERM
for deb in "$WORK"/archives/*.deb; do dpkg -x "$deb" "$STAGE"; done
rm -rf "$PREFIX"
mv "$STAGE" "$PREFIX"
mkdir -p "$PREFIX/.qemu10-ld"

# exec'ing trixie's loader through a symlink named like QEMU keeps the process
# name, and exec keeps the PID: the spawned PID is the QEMU process.
ln -sf "$PREFIX/usr/lib64/ld-linux-x86-64.so.2" "$PREFIX/.qemu10-ld/qemu-system-riscv64"
cat > "$LAUNCHER" <<LAUNCH
#!/bin/sh
export QEMU_MODULE_DIR="$PREFIX/usr/lib/x86_64-linux-gnu/qemu"
exec "$PREFIX/.qemu10-ld/qemu-system-riscv64" --library-path "$PREFIX/usr/lib/x86_64-linux-gnu" \\
  --argv0 qemu-system-riscv64 "$PREFIX/usr/bin/qemu-system-riscv64" -L "$PREFIX/usr/share/qemu" "\$@"
LAUNCH
chmod +x "$LAUNCHER"

if ! "$LAUNCHER" --version | grep -q 'version 10\.0'; then
  log "the launcher does not run QEMU 10.0: $("$LAUNCHER" --version 2>&1 | head -n 1)"
  exit 1
fi
log "installed: $("$LAUNCHER" --version | head -n 1)"
printf '%s\n' "$LAUNCHER"
