#!/bin/sh
# Installs Debian's frr and frr-pythontools (frr-reload.py) when missing,
# without letting the package scripts start FRR in the host namespace
# (labs run their own FRR inside lab namespaces only), and wireguard-go
# (the demo's WireGuard lab runs WireGuard in userspace). Used by `make demo`.
set -eu
if [ -x /usr/lib/frr/zebra ] && [ -x /usr/lib/frr/frr-reload.py ] && command -v wireguard-go >/dev/null; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  # Removed however the install ends: left behind it would stop every
  # later package from starting its service on the host.
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
# A fresh machine has no package lists yet.
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends frr frr-pythontools iproute2 iputils-ping wireguard-go
