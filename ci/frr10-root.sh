#!/bin/sh
# Builds the private Debian 13 root that `frr: 10` labs run FRR 10.3 from:
# debootstrap of a minimal trixie into the cache directory, then Debian's
# frr and frr-pythontools inside it. Nothing is installed over the host's
# own packages; a policy-rc.d inside the root keeps the package scripts
# from starting FRR. About 4 minutes and 430 MB, once.
#
# usage: ci/frr10-root.sh [ROOT]   (default /var/cache/sdnlab/frr10-root)
set -eu
root=${1:-/var/cache/sdnlab/frr10-root}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ -x "$root/usr/lib/frr/zebra" ]; then
  echo "$root: already built"; exit 0
fi
command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
tmp="$root.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
# --include=frr trips debootstrap 1.0.128 on trixie's systemd pre-depends:
# the base first, frr with apt inside it afterwards.
debootstrap --variant=minbase trixie "$tmp" "$mirror"
printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
chmod +x "$tmp/usr/sbin/policy-rc.d"
chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends frr frr-pythontools
chroot "$tmp" apt-get clean
mv "$tmp" "$root"
echo "$root: $(chroot "$root" dpkg-query -W -f '${Version}' frr)"
