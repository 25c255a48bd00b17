package vm

// initScript is the guest's /init (busybox sh). It loads the virtio
// modules, configures the NIC from the kernel command line (sdnlab.*
// keys, see Config.cmdline), then serves the exec agent on the virtio
// serial port "org.sdnlab.agent": a line carrying a base64 command is run
// with sh, and answered with "@@OUT", the base64 output (stdout and
// stderr), and "@@RC <exit code>".
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
while read -r m; do insmod /lib/modules/$m.ko || echo "sdnlab: insmod $m failed"; done < /etc/modules
for kv in $(cat /proc/cmdline); do
	case "$kv" in
	sdnlab.name=*) hostname "${kv#*=}" ;;
	sdnlab.mtu=*) MTU="${kv#*=}" ;;
	sdnlab.addr=*) ADDRS="$ADDRS ${kv#*=}" ;;
	sdnlab.gw4=*) GW4="${kv#*=}" ;;
	sdnlab.gw6=*) GW6="${kv#*=}" ;;
	esac
done
IF=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
if [ -n "$IF" ] && [ "$IF" != eth0 ]; then ip link set "$IF" name eth0; fi
# As a lab guest: no DAD delay, and the neighbour caches survive a carrier
# change (a migrating VM keeps them).
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null
echo 0 > /proc/sys/net/ipv4/conf/all/arp_evict_nocarrier 2>/dev/null
ip link set lo up
[ -n "$MTU" ] && ip link set eth0 mtu "$MTU"
for a in $ADDRS; do ip addr add "$a" dev eth0; done
ip link set eth0 up
[ -n "$GW4" ] && ip route add default via "$GW4" dev eth0
[ -n "$GW6" ] && ip -6 route add default via "$GW6" dev eth0
echo "sdnlab: network configured"
PORT=
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = org.sdnlab.agent ] && PORT=/dev/$(basename "$p")
done
echo "sdnlab: agent on ${PORT:-nothing}"
# init must never exit: the kernel would panic.
[ -n "$PORT" ] || exec sleep 2147483647
# The port stays open: closing it between host connections would leave
# what the host sends next waiting in QEMU. While no host is connected a
# read returns at once with nothing, hence the pause.
exec 3<>"$PORT"
while true; do
	if read -r line <&3; then
		echo "$line" | base64 -d > /tmp/cmd 2>/dev/null
		sh /tmp/cmd > /tmp/out 2>&1 < /dev/null
		rc=$?
		{ echo "@@OUT"; base64 /tmp/out; echo "@@RC $rc"; } >&3
	else
		sleep 0.05
	fi
done
`
