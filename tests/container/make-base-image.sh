#!/bin/sh
# Makes the base image deploy/Dockerfile names in FROM, here, without Docker Hub: Debian bookworm from
# Debian's own mirror (debootstrap), with its Python 3.11, imported with buildah under the Hub's tag so the
# Dockerfile builds unchanged. Used by tests/test_container.py; an operator pulls the real python image instead.
#   sh tests/container/make-base-image.sh [TAG] [WORKDIR]
set -eu
TAG=${1:-docker.io/library/python:3.11-slim-bookworm}
WORK=${2:-/var/tmp/congregation-base}
STORAGE="--storage-driver overlay"

if buildah $STORAGE images --quiet "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG is already here"
    exit 0
fi
mkdir -p "$WORK"
if [ ! -x "$WORK/rootfs/usr/bin/python3" ]; then
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log"; exit 1; }
    # What a slim image leaves out: package lists, docs, man pages, locales.
    rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/"*.bin \
        "$WORK/rootfs/usr/share/doc" "$WORK/rootfs/usr/share/man" "$WORK/rootfs/usr/share/locale"
fi
# This machine reaches package registries through a TLS-inspecting proxy: pip inside the build needs the
# host's CA bundle, which includes the proxy's certificate.
cp /etc/ssl/certs/ca-certificates.crt "$WORK/rootfs/etc/ssl/certs/ca-certificates.crt"

ctr=$(buildah $STORAGE from scratch)
buildah $STORAGE add "$ctr" "$WORK/rootfs" / >/dev/null
buildah $STORAGE config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$ctr"
buildah $STORAGE commit --quiet "$ctr" "$TAG" >/dev/null
buildah $STORAGE rm "$ctr" >/dev/null
echo "made base image $TAG"
