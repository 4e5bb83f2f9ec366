#!/usr/bin/env bash
# Builds kube-apiserver (and kube-controller-manager) from Debian bookworm's
# `kubernetes` source package, for the real-server test tier (tests/kubereal).
#
# Debian ships no kube-apiserver binary, but its source package vendors every
# Go dependency, so it builds offline with Debian's golang-go. The binaries
# are cached outside the clone, keyed by the source version, so a machine
# builds them once (15-25 minutes on 2 cores) and later runs reuse them.
#
# Usage: build.sh [--print-dir]
#   KUBE_SRC_VERSION  Debian source version to build (default: ./version)
#   KUBE_CACHE        cache root (default /var/cache/remediation-receiver)
#   KUBE_WHAT         commands to build (default: apiserver and controller-manager)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# The one place the version is written; tests/kubereal reads it too.
KUBE_SRC_VERSION=${KUBE_SRC_VERSION:-$(cat "$HERE/version")}
KUBE_CACHE=${KUBE_CACHE:-/var/cache/remediation-receiver}
KUBE_WHAT=${KUBE_WHAT:-kube-apiserver kube-controller-manager}
# The upstream release this Debian version really is; the server reports it.
KUBE_GIT_VERSION=${KUBE_GIT_VERSION:-v1.20.2}

OUT="$KUBE_CACHE/kube-$KUBE_SRC_VERSION"
BIN="$OUT/bin"
WORK="$KUBE_CACHE/build-$KUBE_SRC_VERSION"
# etcd and openssl are what the tests need at run time; the rest builds the server.
PACKAGES=(dpkg-dev golang-go etcd-server golang-github-modern-go-reflect2-dev rsync openssl)
SOURCES=/etc/apt/sources.list.d/remediation-receiver-src.sources

log() { printf '%s kube-build: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

if [[ ${1:-} == --print-dir ]]; then
  echo "$BIN"
  exit 0
fi

built() {
  local what
  for what in $KUBE_WHAT; do
    [[ -x $BIN/$what ]] || return 1
  done
}

have_all() {
  built && command -v etcd >/dev/null && command -v openssl >/dev/null
}

if have_all; then
  log "cached: $BIN ($KUBE_WHAT)"
  exit 0
fi

if [[ $(id -u) != 0 ]]; then
  die "building needs root (apt-get); run 'sudo make kube-apiserver' once, or set KUBE_CACHE to a directory holding bin/kube-apiserver"
fi

add_source_repo() {
  # deb-src entries matching the machine's deb.debian.org bookworm sources.
  [[ -f $SOURCES ]] && return 0
  log "adding deb-src entries for bookworm main ($SOURCES)"
  cat >"$SOURCES" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

install_packages() {
  log "installing ${PACKAGES[*]}"
  apt-get update -qq || die "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >/dev/null || die "apt-get install ${PACKAGES[*]}"
}

fetch_source() {
  local tree
  tree=$(find "$WORK" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' 2>/dev/null | head -n1)
  if [[ -n $tree && -f $tree/.remediation-unpacked ]]; then
    echo "$tree"
    return 0
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK"
  log "apt-get source kubernetes=$KUBE_SRC_VERSION into $WORK"
  (cd "$WORK" && apt-get source -qq "kubernetes=$KUBE_SRC_VERSION" >&2) \
    || die "apt-get source kubernetes=$KUBE_SRC_VERSION (is a bookworm deb-src entry present, and is this version still published? set KUBE_SRC_VERSION to the one 'apt-cache showsrc kubernetes' lists)"
  tree=$(find "$WORK" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)
  [[ -n $tree ]] || die "no kubernetes-* directory after apt-get source"
  replace_reflect2 "$tree"
  touch "$tree/.remediation-unpacked"
  echo "$tree"
}

replace_reflect2() {
  # The vendored reflect2 1.0.1 SIGSEGVs under Go >= 1.18 (it reads runtime
  # internals that moved); Debian's 1.0.2 has the same API and works.
  local tree=$1 debian=/usr/share/gocode/src/github.com/modern-go/reflect2
  local vendored=$tree/vendor/github.com/modern-go/reflect2
  [[ -d $debian ]] || die "$debian missing (golang-github-modern-go-reflect2-dev)"
  [[ -d $vendored ]] || die "$vendored missing: unexpected source layout"
  log "replacing vendored reflect2 with Debian's copy"
  rm -rf "$vendored"
  mkdir -p "$vendored"
  cp -r "$debian"/. "$vendored"/
  find "$vendored" -name '*_test.go' -delete
}

build() {
  local tree=$1 what targets=()
  for what in $KUBE_WHAT; do targets+=("cmd/$what"); done
  export GOPATH="$WORK/gopath" GOCACHE="$WORK/gocache" GOFLAGS=-mod=vendor GOPROXY=off
  export GO111MODULE=on KUBE_GIT_VERSION KUBE_GIT_TREE_STATE=clean
  export KUBE_GIT_MAJOR=${KUBE_GIT_VERSION#v} KUBE_GIT_MINOR
  KUBE_GIT_MINOR=${KUBE_GIT_MAJOR#*.}
  KUBE_GIT_MINOR=${KUBE_GIT_MINOR%%.*}
  KUBE_GIT_MAJOR=${KUBE_GIT_MAJOR%%.*}
  for what in "${targets[@]}"; do
    if [[ -x $BIN/${what#cmd/} ]]; then continue; fi
    log "building $what with $(go version) (this takes a while on few cores)"
    local start=$SECONDS
    (cd "$tree" && make WHAT="$what" >&2) || die "make WHAT=$what"
    local built
    built=$(find "$tree/_output" -type f -name "${what#cmd/}" -perm -u+x | head -n1)
    [[ -n $built ]] || die "make WHAT=$what produced no binary"
    mkdir -p "$BIN"
    install -m 0755 "$built" "$BIN/${what#cmd/}.tmp"
    mv "$BIN/${what#cmd/}.tmp" "$BIN/${what#cmd/}"
    log "built $what in $((SECONDS - start)) s -> $BIN/${what#cmd/}"
  done
}

add_source_repo
install_packages
if built; then
  log "cached: $BIN ($KUBE_WHAT); run-time packages installed"
  exit 0
fi
TREE=$(fetch_source)
build "$TREE"
"$BIN/kube-apiserver" --version >&2 || die "the built kube-apiserver does not run"
have_all || die "missing binaries in $BIN after the build"
# The source tree and Go cache (about 2 GB) are not needed once the binaries are cached.
rm -rf "$WORK"
log "done: $BIN"
