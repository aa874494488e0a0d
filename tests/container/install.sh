#!/bin/sh
# What the container test needs, from Debian's packages: podman and buildah (daemonless, run as root here),
# runc, and debootstrap to make the base image locally. Does nothing when they are already installed.
set -eu
missing=""
for tool in podman buildah runc debootstrap caddy; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    podman buildah runc debootstrap fuse-overlayfs uidmap containernetworking-plugins caddy >/dev/null
