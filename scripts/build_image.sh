#!/usr/bin/env bash
# Builds the project's container image (the Dockerfile) on a machine that
# cannot pull from a registry: the Python base is made offline from Debian's
# packages (debootstrap) and the Python 3.10 this project's venv runs on.
#
#   scripts/build_image.sh [--tag NAME:TAG] [--base IMAGE]
#                          [--extra-ca-certs FILE] [--keep-daemon]
#
#   --tag             the image to build (default yamnet-audio-pipeline:<commit>)
#   --base            build on this image instead of making one (e.g.
#                     python:3.10-slim where a registry is reachable)
#   --extra-ca-certs  PEM certificates the build trusts when downloading
#                     packages (default: this host's bundle, for networks that
#                     inspect TLS); passed as a BuildKit secret, so no layer of
#                     the image holds it
#   --keep-daemon     leave a Docker daemon this script started running, and
#                     print how to reach and stop it
#
# When no Docker daemon answers, the script starts one as root (Debian's
# docker.io) on its own socket and stops it by PID on exit. The last line it
# prints is the built image's reference. Exit status 3 means this machine
# lacks something (root, docker.io, debootstrap), named on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="yamnet-audio-pipeline:$(git rev-parse --short HEAD 2>/dev/null || echo local)"
BASE=""
EXTRA_CA=/etc/ssl/certs/ca-certificates.crt
KEEP_DAEMON=0
DAEMON_STATE=${DAEMON_STATE:-/run/yamnet-docker}
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Shared libraries the interpreter's extension modules link against.
PYTHON_RUNTIME_PACKAGES=ca-certificates,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,libexpat1,libtirpc3

die() { echo "build_image: $*" >&2; exit 1; }
# Exit status 3: this machine lacks something the build needs.
missing() { echo "build_image: cannot build here: $*" >&2; exit 3; }

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --extra-ca-certs) EXTRA_CA=$2; shift 2 ;;
    --keep-daemon) KEEP_DAEMON=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

# A client that builds with BuildKit (secrets): the buildx plugin, or a
# client that still has BuildKit built in (Debian's docker.io).
pick_client() {
  local client
  for client in docker /usr/bin/docker; do
    command -v "$client" >/dev/null 2>&1 || continue
    if "$client" buildx version >/dev/null 2>&1; then
      DOCKER=$client; BUILD=(buildx build --load); return 0
    fi
    if DOCKER_BUILDKIT=1 "$client" build --help 2>/dev/null | grep -q -- --secret; then
      DOCKER=$client; BUILD=(build); return 0
    fi
  done
  missing "no Docker client that builds with BuildKit: install Debian's docker.io (apt-get install docker.io) or the buildx plugin"
}

DAEMON_PID=""
stop_daemon() {
  if [ -n "$DAEMON_PID" ] && [ "$KEEP_DAEMON" = 0 ]; then
    kill "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.2; done
  fi
}

ensure_daemon() {
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || missing "no Docker daemon answers and starting one needs root"
  command -v dockerd >/dev/null 2>&1 || missing "no Docker daemon answers and dockerd is not installed (apt-get install docker.io)"
  mkdir -p "$DAEMON_STATE"
  export DOCKER_HOST="unix://$DAEMON_STATE/docker.sock"
  # No bridge and no iptables: builds and tasks use the host's network or none.
  dockerd --iptables=false --bridge=none --storage-driver=overlay2 \
    --host "$DOCKER_HOST" --pidfile "$DAEMON_STATE/dockerd.pid" \
    --exec-root "$DAEMON_STATE/exec" >"$DAEMON_STATE/dockerd.log" 2>&1 &
  DAEMON_PID=$!
  trap stop_daemon EXIT
  for _ in $(seq 100); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.2
  done
  die "dockerd did not start; its log: $DAEMON_STATE/dockerd.log"
}

# The Python version the lock was compiled for, e.g. 3.10.
lock_python_version() {
  sed -n 's/.*--python-version \([0-9.]*\) .*/\1/p' requirements.lock | head -n 1
}

# A local base in python:<version>-slim's layout: Debian with the venv's
# interpreter (same glibc as this host) in /usr/local, pip from ensurepip.
make_base() {
  local python=${PYTHON:-.venv/bin/python} want prefix version image rootfs
  want=$(lock_python_version)
  [ -x "$python" ] || missing "no $python: run scripts/bootstrap.sh (or set PYTHON=/path/to/python$want)"
  prefix=$("$python" -c 'import sys; print(sys.base_prefix)')
  version=$("$python" -c 'import platform; print(platform.python_version())')
  case "$version" in "$want".*) ;; *) die "$python is Python $version; the lock wants $want" ;; esac
  image="yamnet-python-base:$version-$DEBIAN_SUITE"
  if "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
    echo "$image"; return 0
  fi
  [ "$(id -u)" = 0 ] || missing "making the base image needs root (debootstrap, chroot)"
  command -v debootstrap >/dev/null 2>&1 || missing "debootstrap is not installed (apt-get install debootstrap)"
  rootfs=$(mktemp -d /tmp/yamnet-base.XXXXXX)
  debootstrap --variant=minbase --include="$PYTHON_RUNTIME_PACKAGES" \
    "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >&2
  # The interpreter, its standard library and shared library; not its tests,
  # its bytecode or the packages installed beside it on this host.
  tar -C "$prefix" --exclude="lib/python$want/test" --exclude='__pycache__' \
    --exclude="lib/python$want/site-packages" --exclude='lib/pkgconfig' \
    -c "bin/python$want" lib include | tar -C "$rootfs/usr/local" -x
  ln -s "python$want" "$rootfs/usr/local/bin/python3"
  ln -s "python$want" "$rootfs/usr/local/bin/python"
  mkdir -p "$rootfs/usr/local/lib/python$want/site-packages"
  chroot "$rootfs" ldconfig
  chroot "$rootfs" /usr/local/bin/python3 -m ensurepip --default-pip >&2
  chroot "$rootfs" /usr/local/bin/python3 -c \
    'import bz2, ctypes, lzma, sqlite3, ssl, uuid, zlib' \
    || die "the base's Python misses a standard module"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | "$DOCKER" import \
    -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' - "$image" >&2
  rm -rf "$rootfs"
  echo "$image"
}

pick_client
ensure_daemon
[ -n "$BASE" ] || BASE=$(make_base)

SECRET=()
if [ -n "$EXTRA_CA" ]; then
  [ -s "$EXTRA_CA" ] || die "no certificates in $EXTRA_CA"
  SECRET=(--secret "id=extra_ca_certs,src=$EXTRA_CA")
fi
DOCKER_BUILDKIT=1 "$DOCKER" "${BUILD[@]}" --network=host \
  --build-arg "BASE_IMAGE=$BASE" "${SECRET[@]}" -t "$TAG" . >&2
echo "image size: $("$DOCKER" image inspect -f '{{.Size}}' "$TAG" |
  awk '{printf "%.0f MB", $1 / 1e6}')" >&2
if [ -n "$DAEMON_PID" ] && [ "$KEEP_DAEMON" = 1 ]; then
  echo "daemon left running (pid $DAEMON_PID): export DOCKER_HOST=$DOCKER_HOST; stop it with: kill $DAEMON_PID" >&2
fi
echo "$TAG"
