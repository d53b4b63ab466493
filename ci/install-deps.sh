#!/bin/sh
# Install the Debian 12 packages the build and the tests need, if missing.
set -eu
pkgs="build-essential clang libclang-rt-14-dev lld libcmocka-dev libaio-dev libfuse3-dev fuse3 lcov valgrind
python3 python3-pytest libiscsi-bin qemu-utils qemu-block-extra tgt e2fsprogs iproute2 procps time"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to apt-get install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
