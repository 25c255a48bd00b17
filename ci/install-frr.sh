#!/bin/sh
# Installs Debian's frr and frr-pythontools (frr-reload.py) when missing,
# without letting the package scripts start FRR in the host namespace
# (labs run their own FRR inside lab namespaces only). Used by `make demo`.
set -eu
if [ -x /usr/lib/frr/zebra ] && [ -x /usr/lib/frr/frr-reload.py ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
added=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  added=1
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends frr frr-pythontools iproute2 iputils-ping
[ -z "$added" ] || $SUDO rm -f /usr/sbin/policy-rc.d
