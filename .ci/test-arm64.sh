#!/usr/bin/env bash
# ARM64 proof (`make test-arm64`): Raspberry Pi OS Bookworm 64-bit is Debian 12 arm64, so build the
# compiled core and run the non-GUI tests in a Debian 12 arm64 root under qemu-user-static.
# Needs root (debootstrap, chroot, mounts) and a kernel with binfmt_misc. Not part of .ci/run:
# the emulated run takes far longer than the x86 one (timings: docs/reliability.md).
#
#   ARM64_ROOT      the arm64 root (default /var/tmp/arm64/root; reused once complete)
#   ARM64_MIRROR    the Debian mirror (default http://deb.debian.org/debian)
#   ARM64_EXTRA     extra Debian packages in the root, so the tool-dependent tests run as on CI
#                   (default "openssl shellcheck systemd"; set it empty for the bare list)
#   ARM64_TESTS     the pytest selection (default: everything but tests/system, the browser tests)
#   ARM64_PYTEST    extra pytest arguments (e.g. "--junitxml=/src/arm64.xml")
#   ARM64_PIN       1 (default): pin the Python packages to the versions in the checkout's .venv
#                   (`pip freeze`), so both architectures run the same releases; 0: newest
# shellcheck disable=SC2317   # the phase functions below are called through phase()
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
ROOTFS="${ARM64_ROOT:-/var/tmp/arm64/root}"
MIRROR="${ARM64_MIRROR:-http://deb.debian.org/debian}"
EXTRA="${ARM64_EXTRA-openssl shellcheck systemd}"
TESTS="${ARM64_TESTS:-tests --ignore=tests/system}"
PYTEST_EXTRA="${ARM64_PYTEST:-}"
PIN="${ARM64_PIN:-1}"
VALIDATION="$REPO/../shared/validation"   # tests/conftest.py: ROOT.parent / "shared" / "validation"
QEMU=/usr/bin/qemu-aarch64-static
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
    echo "test-arm64: needs root (debootstrap, chroot, bind mounts)" >&2
    exit 2
fi

T0=$SECONDS
TIMINGS=()
phase() {   # phase NAME COMMAND...: run it, print and remember how long it took
    local name="$1" start=$SECONDS
    shift
    echo "== test-arm64: $name"
    "$@"
    local took=$((SECONDS - start))
    TIMINGS+=("$(printf '%-12s %5d s' "$name" "$took")")
    echo "== test-arm64: $name took ${took}s"
}

# --- host tools: qemu-user-static, debootstrap, the aarch64 binfmt handler ------------------
host_tools() {
    if [ ! -x "$QEMU" ] || ! command -v debootstrap >/dev/null; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends qemu-user-static debootstrap
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        echo "qemu-aarch64 binfmt handler already registered"
    elif command -v update-binfmts >/dev/null && [ -e /usr/share/binfmts/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64
    else
        # The standard aarch64 ELF magic/mask; F: the kernel opens qemu now, so it works in chroots.
        printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
            > /proc/sys/fs/binfmt_misc/register
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64
}

# --- the Debian 12 arm64 root (debootstrap once; .stepplate-complete marks a finished one) ---
make_root() {
    if [ -e "$ROOTFS/.stepplate-complete" ]; then
        echo "reusing the complete arm64 root in $ROOTFS"
        return
    fi
    if [ -e "$ROOTFS" ]; then
        if findmnt -rn -o TARGET | grep -q "^$ROOTFS/"; then
            echo "test-arm64: $ROOTFS is incomplete and has mounts below it; unmount them first" >&2
            exit 2
        fi
        echo "removing the incomplete root $ROOTFS"
        rm -rf --one-file-system "$ROOTFS"
    fi
    mkdir -p "$(dirname "$ROOTFS")"
    local include=python3,python3-venv,python3-dev,build-essential,ca-certificates
    if [ -n "$EXTRA" ]; then include="$include,${EXTRA// /,}"; fi
    debootstrap --arch=arm64 --variant=minbase --include="$include" bookworm "$ROOTFS" "$MIRROR"
    touch "$ROOTFS/.stepplate-complete"
}

# --- mounts (undone in the EXIT trap) ---------------------------------------------------------
MOUNTED=()
bind() {   # bind SRC TARGET-INSIDE-ROOT
    mkdir -p "$ROOTFS$2"
    mount --bind "$1" "$ROOTFS$2"
    MOUNTED=("$ROOTFS$2" "${MOUNTED[@]}")
}
cleanup() {
    local m
    for m in "${MOUNTED[@]}"; do umount -l "$m" || true; done
}
trap cleanup EXIT

mounts() {
    # the root bound onto itself: / is then a mount point inside the chroot, so `unshare -m`
    # (the read-only-directory tests in tests/hw/test_boot_path.py) can make it private
    mount --bind "$ROOTFS" "$ROOTFS"
    MOUNTED=("$ROOTFS")
    mkdir -p "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev"
    mount -t proc proc "$ROOTFS/proc"
    MOUNTED=("$ROOTFS/proc" "${MOUNTED[@]}")
    bind /sys /sys
    bind /dev /dev
    # name resolution and the host's CA bundle (a TLS-inspecting proxy's CA lives there)
    cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    cp -L /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/stepplate-host-ca.crt"
}

# --- the checkout's tracked files (working-tree versions) and ../shared/validation ------------
copy_tree() {
    rm -rf "$ROOTFS/src"
    mkdir -p "$ROOTFS/src" "$ROOTFS/shared"
    git -C "$REPO" ls-files -z \
        | while IFS= read -r -d '' f; do
              if [ -e "$REPO/$f" ]; then printf '%s\0' "$f"; fi   # skip tracked-but-deleted
          done \
        | tar -C "$REPO" --null -T - -cf - \
        | tar -C "$ROOTFS/src" -xf -
    rm -rf "$ROOTFS/shared/validation"
    if [ -d "$VALIDATION" ]; then
        cp -a "$VALIDATION" "$ROOTFS/shared/validation"
    else
        echo "note: $VALIDATION not found; the validation tests will skip"
    fi
    : > "$ROOTFS/src/.arm64-constraints.txt"
    if [ "$PIN" = 1 ] && [ -x "$REPO/.venv/bin/python" ]; then
        "$REPO/.venv/bin/python" -m pip freeze --exclude-editable 2>/dev/null \
            | grep -v -i -E '^(stepplate|pip|setuptools|wheel)[ =@]' \
            | grep -v ' @ ' > "$ROOTFS/src/.arm64-constraints.txt" || true
        echo "pinning $(wc -l < "$ROOTFS/src/.arm64-constraints.txt") packages to the x86 .venv's versions"
    fi
}

# --- inside the arm64 root ------------------------------------------------------------------------
in_root() {   # in_root 'shell commands' (run in /src, as root, with the venv on PATH)
    chroot "$ROOTFS" /usr/bin/env -i \
        HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        PIP_CERT=/etc/stepplate-host-ca.crt SSL_CERT_FILE=/etc/stepplate-host-ca.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
        /bin/bash -euo pipefail -c "cd /src && $1"
}

extra_packages() {
    local missing=() p
    for p in $EXTRA; do
        chroot "$ROOTFS" dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        chroot "$ROOTFS" apt-get -o Acquire::Check-Valid-Until=false update -q
        chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

pip_install() {
    # shellcheck disable=SC2016   # expanded by the shell inside the root
    in_root '[ -x /opt/venv/bin/python ] || python3 -m venv /opt/venv
             c=(); [ -s .arm64-constraints.txt ] && c=(-c .arm64-constraints.txt)
             python -m pip install -q -U pip setuptools wheel
             python -m pip install -q "${c[@]}" "Cython>=3.0" "numpy>=1.26"
             python -m pip install -q "${c[@]}" -e ".[test]"
             python -m pip list --format=freeze > /src/.arm64-pip-list.txt'
}

build_core() {
    in_root 'python setup.py -q build_ext --inplace
             python -c "import platform; from rig.signal import core, _core; assert core.COMPILED, core.IMPORT_ERROR; print(\"compiled core loads on\", platform.machine(), _core.__file__)"'
}

TEST_RC=0
run_tests() {   # a failing test run is reported after the timings, so it sets TEST_RC
    # word splitting of the selection and the extra arguments is intended
    in_root "python -m pytest -q -p no:cacheprovider -m 'not soak' $TESTS $PYTEST_EXTRA" || TEST_RC=$?
}

phase host-tools host_tools
phase debootstrap make_root
mounts
phase extra-debs extra_packages
phase copy copy_tree
phase pip pip_install
phase build build_core
phase tests run_tests

echo "== test-arm64 timings (qemu-user on $(uname -m), root $ROOTFS):"
printf '   %s\n' "${TIMINGS[@]}"
echo "   total        $((SECONDS - T0)) s"
if [ "$TEST_RC" != 0 ]; then echo "== test-arm64: tests FAILED (pytest exit $TEST_RC)"; fi
exit "$TEST_RC"
