#!/usr/bin/env bash
# Installs the Debian packages the testbed runs when they are missing. Idempotent: does nothing when
# everything is already on the machine.
#   base:      Prometheus, Alertmanager (always needed)
#   real-node: containerd, runc, the CNI plugins, busybox-static (the pause image), iptables and
#              conntrack (the kubelet's), for the testbed's real node, and redis-server (the Redis
#              image of the worker-cutover tests' queue, test/testbed/queue/). Needs root; without it
#              this group is reported and skipped (exit 0), and the testbed runs without the real node.
#   browser:   Chromium (/usr/bin/chromium), driven by playwright-core in the dashboard's browser
#              tests (no browser is ever downloaded)
# Usage: install-system.sh [all|base|real-node|browser]
set -euo pipefail
log() { printf '[testbed-install] %s\n' "$*" >&2; }
what=${1:-all}
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

base=()
if [ "$what" = all ] || [ "$what" = base ]; then
  have prometheus || base+=(prometheus)
  have prometheus-alertmanager || have alertmanager || base+=(prometheus-alertmanager)
fi
node=()
if [ "$what" = all ] || [ "$what" = real-node ]; then
  have containerd || node+=(containerd)
  have runc || node+=(runc)
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] || node+=(containernetworking-plugins)
  [ -x /bin/busybox ] || node+=(busybox-static)
  have iptables || node+=(iptables)
  have conntrack || node+=(conntrack)
  have redis-server || node+=(redis-server)
fi
if [ "$what" = all ] || [ "$what" = browser ]; then
  [ -x /usr/bin/chromium ] || base+=(chromium)
fi
if [ ${#base[@]} -eq 0 ] && [ ${#node[@]} -eq 0 ]; then exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"
  else
    if [ ${#node[@]} -gt 0 ]; then
      log "not root: skipping the real node's packages (${node[*]}); the testbed runs without a real node"
      node=()
    fi
    if [ ${#base[@]} -gt 0 ]; then log "need root to install ${base[*]}: run 'apt-get install ${base[*]}' as root"; exit 1; fi
    exit 0
  fi
fi
need=("${base[@]}" "${node[@]}")
log "installing Debian packages: ${need[*]} (apt-get update first)"
start=$SECONDS
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services from starting: the testbed runs its own instances
# (containerd's included: its own root, state and socket under the testbed's directory).
printf '#!/bin/sh\nexit 101\n' > /tmp/cutover-policy-rc.d && chmod +x /tmp/cutover-policy-rc.d
if [ ! -e /usr/sbin/policy-rc.d ]; then $SUDO cp /tmp/cutover-policy-rc.d /usr/sbin/policy-rc.d; remove_policy=1; fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
[ "${remove_policy:-0}" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
log "installed ${need[*]} in $((SECONDS - start)) s"
