#!/usr/bin/env bash
# Install (or update) StepPlate on a Raspberry Pi: Raspberry Pi OS Bookworm or later, 64-bit.
#
#   sudo hardware/install-pi.sh              install or update; safe to run again
#   hardware/install-pi.sh --dry-run         print every action, change nothing (no root needed)
#
# Options:
#   --dry-run          print the plan instead of doing it
#   --hostname NAME    mDNS name (default: rig, so the tablets open http://rig.local:PORT/)
#   --src DIR          StepPlate checkout to install (default: the one holding this script)
#   --force            install even though this is not a Raspberry Pi
#   -h, --help         this help
#
# What it does, in order (each step checks first, so a second run only reinstalls the package
# and restarts the services):
#   system packages; the gpio group; users stepplate (web, unprivileged) and stepplate-acq
#   (acquisition, in gpio); folders; a virtual environment in /opt/stepplate/venv; the package
#   with its compiled core; /etc/stepplate/rig.toml if missing; the systemd units (real-time
#   priority where the kernel allows); the hostname and avahi for rig.local; the services;
#   then it prints the tablet URL.
set -euo pipefail

DRY_RUN=0
HOST_NAME=rig
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PREFIX=/opt/stepplate
VENV=$PREFIX/venv
ETC=/etc/stepplate
CONFIG=$ETC/rig.toml
DATA=/var/lib/stepplate
UNIT_DIR=/etc/systemd/system
UDEV_RULE=/etc/udev/rules.d/60-stepplate-gpio.rules
RT_DROPIN=$UNIT_DIR/stepplate-acquire.service.d/10-no-realtime.conf
GROUP=stepplate
WEB_USER=stepplate
ACQ_USER=stepplate-acq
UNITS=(stepplate-acquire.service stepplate-web.service)
BACKUPS=/var/lib/stepplate-backups
BACKUP_UNITS=(stepplate-backup.service stepplate-backup.timer)
APT_PACKAGES=(python3 python3-venv python3-dev python3-pip build-essential git
              avahi-daemon libnss-mdns)
# From the Raspberry Pi OS archive; elsewhere pip installs lgpio from PyPI (the [pi] extra).
OPTIONAL_PACKAGES=(python3-lgpio)
FORCE=0

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --hostname) HOST_NAME=${2:?--hostname needs a name}; shift ;;
        --force) FORCE=1 ;;
        --src) SRC=$(cd "${2:?--src needs a folder}" && pwd); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-pi.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

STEP=0
TOTAL=13
step() { STEP=$((STEP + 1)); echo "==> [$STEP/$TOTAL] $*"; }
skip() { echo "    ok: $*"; }
note() { echo "    $*"; }

# run CMD...: print it; execute it unless this is a dry run.
run() {
    echo "    + $*"
    if [[ $DRY_RUN -eq 0 ]]; then
        "$@"
    fi
}

# write_file PATH MODE OWNER:GROUP < content: write only when the content differs.
# Returns 0 when the file was (or would be) written, 1 when it was already up to date.
write_file() {
    local path=$1 mode=$2 owner=$3 content
    content=$(cat)
    if [[ -f $path ]] && [[ "$(cat "$path")" == "$content" ]]; then
        skip "$path up to date"
        return 1
    fi
    echo "    + write $path (mode $mode, $owner)"
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '    |   %s\n' "${content//$'\n'/$'\n'    |   }"
    else
        mkdir -p "$(dirname "$path")"
        printf '%s\n' "$content" >"$path"
        chmod "$mode" "$path"
        chown "$owner" "$path"
    fi
    return 0
}

if [[ $DRY_RUN -eq 0 && $EUID -ne 0 ]]; then
    echo "install-pi.sh: run as root (sudo $0), or with --dry-run to see the plan" >&2
    exit 1
fi
if [[ $DRY_RUN -eq 1 ]]; then
    echo "Dry run: nothing is changed. Source: $SRC"
fi

# ---------------------------------------------------------------------------------------------
step "check the system (Raspberry Pi OS Bookworm or later, 64-bit)"
ARCH=$(uname -m)
CODENAME=unknown
if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
fi
MODEL=$(tr -d '\0' 2>/dev/null </proc/device-tree/model || true)
note "model: ${MODEL:-unknown (no /proc/device-tree/model)}; os: $CODENAME; arch: $ARCH"
[[ $ARCH == aarch64 ]] || note "warning: not 64-bit ARM; the gpio backends will not load (rig doctor will say "plate not connected")"
if [[ $MODEL != "Raspberry Pi"* && $DRY_RUN -eq 0 && $FORCE -eq 0 ]]; then
    echo "install-pi.sh: this is not a Raspberry Pi (${MODEL:-no /proc/device-tree/model}); it would change this machine's" \
         "hostname and services. Use --dry-run to see the plan, or --force." >&2
    exit 1
fi
case $CODENAME in
    bullseye|buster|stretch) note "warning: $CODENAME is older than Bookworm; lgpio may be missing" ;;
esac

# ---------------------------------------------------------------------------------------------
step "system packages"
MISSING=()
WANTED=("${APT_PACKAGES[@]}")
for p in "${OPTIONAL_PACKAGES[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then
        WANTED+=("$p")
    else
        note "$p is not in this system's archives: pip will install it from PyPI"
    fi
done
for p in "${WANTED[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        MISSING+=("$p")
    fi
done
if [[ ${#MISSING[@]} -eq 0 ]]; then
    skip "all of ${WANTED[*]} installed"
else
    run apt-get update -q
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${MISSING[@]}"
fi

# ---------------------------------------------------------------------------------------------
step "gpio group and device permissions"
if getent group gpio >/dev/null; then
    skip "group gpio exists"
else
    run groupadd --system gpio
fi
if write_file "$UDEV_RULE" 0644 root:root <<'EOF'; then
# StepPlate: GPIO character devices and /dev/gpiomem for the gpio group (acquisition only).
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
KERNEL=="gpiomem", GROUP="gpio", MODE="0660"
EOF
    run udevadm trigger --subsystem-match=gpio
fi

# ---------------------------------------------------------------------------------------------
step "users: $WEB_USER (web, unprivileged) and $ACQ_USER (acquisition, in gpio)"
if getent group "$GROUP" >/dev/null; then
    skip "group $GROUP exists"
else
    run groupadd --system "$GROUP"
fi
if id "$WEB_USER" >/dev/null 2>&1; then
    skip "user $WEB_USER exists"
else
    run useradd --system --gid "$GROUP" --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$WEB_USER"
fi
if id "$ACQ_USER" >/dev/null 2>&1; then
    skip "user $ACQ_USER exists"
    if ! id -nG "$ACQ_USER" | tr ' ' '\n' | grep -qx gpio; then
        run usermod --append --groups gpio "$ACQ_USER"
    fi
else
    run useradd --system --gid "$GROUP" --groups gpio --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$ACQ_USER"
fi
if id "$WEB_USER" >/dev/null 2>&1 && id -nG "$WEB_USER" | tr ' ' '\n' | grep -qx gpio; then
    run gpasswd --delete "$WEB_USER" gpio   # the web process must never reach the pins
fi

# ---------------------------------------------------------------------------------------------
step "folders: $PREFIX, $ETC, $DATA, $BACKUPS"
for spec in "$PREFIX:0755:root:root" "$ETC:0750:root:$GROUP" "$DATA:2770:$ACQ_USER:$GROUP" \
            "$BACKUPS:0750:$WEB_USER:$GROUP"; do
    IFS=: read -r dir mode owner group <<<"$spec"
    if [[ -d $dir ]] && [[ "$(stat -c '%a %U %G' "$dir")" == "${mode#0} $owner $group" ]]; then
        skip "$dir"
    else
        run install -d -m "$mode" -o "$owner" -g "$group" "$dir"
    fi
done

# ---------------------------------------------------------------------------------------------
step "virtual environment $VENV"
if [[ -x $VENV/bin/python ]]; then
    skip "$VENV exists"
else
    # system site packages: the distribution's lgpio (python3-lgpio) is used as is
    run python3 -m venv --system-site-packages "$VENV"
    run "$VENV/bin/python" -m pip install -q -U pip setuptools wheel
fi

# ---------------------------------------------------------------------------------------------
step "the stepplate package with its compiled core (from $SRC)"
run "$VENV/bin/python" -m pip install -q "${SRC}[pi]"
run "$VENV/bin/python" -c "from rig import core; assert core.COMPILED, core.IMPORT_ERROR; print('    compiled core loaded')"

# ---------------------------------------------------------------------------------------------
step "config $CONFIG"
if [[ -f $CONFIG ]]; then
    skip "$CONFIG exists (kept as is)"
else
    run "$VENV/bin/rig" config init "$CONFIG" --set "paths.data_dir=$DATA"
    run chown "root:$GROUP" "$CONFIG"
    run chmod 0640 "$CONFIG"
fi
run "$VENV/bin/rig" config check --quiet "$CONFIG"

# ---------------------------------------------------------------------------------------------
step "systemd units in $UNIT_DIR"
UNITS_CHANGED=0
for u in "${UNITS[@]}"; do
    if write_file "$UNIT_DIR/$u" 0644 root:root <"$SRC/hardware/systemd/$u"; then
        UNITS_CHANGED=1
    fi
done
# the nightly backup (docs/reliability.md): a oneshot service and its timer
for u in "${BACKUP_UNITS[@]}"; do
    if write_file "$UNIT_DIR/$u" 0644 root:root <"$SRC/hardware/systemd/backup/$u"; then
        UNITS_CHANGED=1
    fi
done
# Real-time priority where the kernel allows: can a SCHED_FIFO 50 task run here?
if chrt -f 50 true 2>/dev/null; then
    skip "the kernel allows SCHED_FIFO: the acquisition runs at real-time priority 50"
    if [[ -f $RT_DROPIN ]]; then
        run rm -f "$RT_DROPIN"
        UNITS_CHANGED=1
    fi
elif [[ $DRY_RUN -eq 1 && $EUID -ne 0 ]]; then
    note "SCHED_FIFO is not available to this (non-root) user; as root the install checks again"
else
    if write_file "$RT_DROPIN" 0644 root:root <<'EOF'; then UNITS_CHANGED=1; fi
# Written by install-pi.sh: this kernel refuses SCHED_FIFO, so run at a high normal priority.
[Service]
CPUSchedulingPolicy=other
Nice=-10
EOF
fi
if [[ $UNITS_CHANGED -eq 1 ]]; then
    run systemctl daemon-reload
fi

# ---------------------------------------------------------------------------------------------
step "hostname $HOST_NAME and mDNS ($HOST_NAME.local)"
CURRENT_HOST=$(hostname)
if [[ $CURRENT_HOST == "$HOST_NAME" ]]; then
    skip "hostname is $HOST_NAME"
else
    note "hostname is $CURRENT_HOST"
    run hostnamectl set-hostname "$HOST_NAME"
    run sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1\t$HOST_NAME/" /etc/hosts
fi
run systemctl enable --now avahi-daemon.service

# ---------------------------------------------------------------------------------------------
step "enable and (re)start the services"
run systemctl enable "${UNITS[@]}"
run systemctl restart "${UNITS[@]}"
run systemctl enable --now stepplate-backup.timer

# ---------------------------------------------------------------------------------------------
step "check"
run "$VENV/bin/rig" status --lines 5 || note "a service is not running yet: see rig status and hardware/README.md (bring-up)"

# ---------------------------------------------------------------------------------------------
step "done"
# The URL from the installed config if there is one, else from the defaults in the checkout.
URL_PY='import sys
from rig.config import load
c = load(sys.argv[1] if len(sys.argv) > 1 else None)
print(("https" if c.web.https else "http") + "://" + sys.argv[2] + ".local:" + str(c.web.port) + "/")'
if [[ -f $CONFIG && -r $CONFIG ]]; then
    URL=$(PYTHONPATH=$SRC RIG_CONFIG='' python3 -c "$URL_PY" "$CONFIG" "$HOST_NAME")
else
    URL=$(cd / && PYTHONPATH=$SRC RIG_CONFIG=/dev/null python3 -c "$URL_PY" /dev/null "$HOST_NAME")
fi
cat <<EOF

StepPlate is installed.
  Tablet URL:   $URL
                (same Wi-Fi/LAN as the Pi; if .local names do not resolve, use the Pi's IP address)
  Config:       $CONFIG        check it with: rig config check $CONFIG
  Data:         $DATA
  Services:     rig status     (journalctl -u stepplate-acquire -u stepplate-web -f)
  Bring-up:     $SRC/hardware/README.md, "Bring-up checklist" (rig doctor at each step)
EOF
if [[ $DRY_RUN -eq 1 ]]; then
    echo "(dry run: nothing was changed)"
fi
