#!/usr/bin/env bash
# Installs the Debian packages the testbed runs (Prometheus, Alertmanager) when they are missing.
# Idempotent: does nothing when both binaries are already on the machine.
set -euo pipefail
log() { printf '[testbed-install] %s\n' "$*" >&2; }
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else log "need root to install ${need[*]}: run 'apt-get install ${need[*]}' as root"; exit 1; fi
fi
log "installing Debian packages: ${need[*]} (apt-get update first)"
start=$SECONDS
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services from starting: the testbed runs its own instances.
printf '#!/bin/sh\nexit 101\n' > /tmp/cutover-policy-rc.d && chmod +x /tmp/cutover-policy-rc.d
if [ ! -e /usr/sbin/policy-rc.d ]; then $SUDO cp /tmp/cutover-policy-rc.d /usr/sbin/policy-rc.d; remove_policy=1; fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
[ "${remove_policy:-0}" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
log "installed ${need[*]} in $((SECONDS - start)) s"
