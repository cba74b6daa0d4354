#!/bin/sh
# Fetch Debian's static busybox for arm64, for the arm64-on-amd64 tests (plinth_test::arm64_busybox).
#
# Usage: fetch-arm64-busybox.sh OUTPUT_FILE
# Needs root and a Debian mirror: adds the arm64 architecture to dpkg (idempotent), refreshes
# the package lists when busybox-static:arm64 is unknown, downloads the .deb and extracts
# bin/busybox to OUTPUT_FILE. Does nothing when OUTPUT_FILE already exists.
#
# Test processes run this concurrently: one holds OUTPUT_FILE.lock while it fetches (the others
# wait, then find the file), and the file appears by an atomic rename of a uniquely named temp.
set -eu

out=${1:?usage: fetch-arm64-busybox.sh OUTPUT_FILE}
[ -x "$out" ] && exit 0

mkdir -p "$(dirname "$out")"
exec 9>>"$out.lock"
flock 9
[ -x "$out" ] && exit 0

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
fi
if ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
fi

work=$(mktemp -d)
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -rf "$work" "$tmp"' EXIT
(cd "$work" && apt-get download -qq busybox-static:arm64)
dpkg-deb -x "$work"/busybox-static_*_arm64.deb "$work/x"
cp "$work/x/bin/busybox" "$tmp"
chmod 755 "$tmp"
mv "$tmp" "$out"
