#!/bin/busybox sh
# /init of the lab's tiny guest (busybox initramfs): a heartbeat on ttyS0 so the harness can see the guest is alive
# wherever it runs, a steady RAM-dirtying loop so live migration has real pre-copy work, and, when the kernel
# command line names a console (bb_to=ADDR:PORT), the real billboard agent from the read-only agent disk (vda),
# beaconing over the user-mode NIC (10.0.2.2 is the host's loopback).
# Knobs on the kernel command line: dirty_mb (MiB rewritten per step), dirty_ws (working set MiB), dirty_sleep (s),
# bb_to (agent target), bb_interval (agent interval, s), bb_name (the name it beacons).
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
DMB=4; WS=32; DSL=0.25; TO=; BI=1; NAME=tiny
for a in $(cat /proc/cmdline); do
  case $a in
    dirty_mb=*) DMB=${a#dirty_mb=} ;;
    dirty_ws=*) WS=${a#dirty_ws=} ;;
    dirty_sleep=*) DSL=${a#dirty_sleep=} ;;
    bb_to=*) TO=${a#bb_to=} ;;
    bb_interval=*) BI=${a#bb_interval=} ;;
    bb_name=*) NAME=${a#bb_name=} ;;
  esac
done
# the virtio drivers (NIC and agent disk) are modules in the cloud kernel
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko 2>/dev/null; done
hostname "$NAME"
ip link set lo up
if ip link set eth0 up 2>/dev/null; then
  ip addr add 10.0.2.15/24 dev eth0
  ip route add default via 10.0.2.2
fi
mount -t tmpfs -o size=90% tmpfs /tmp
if [ -n "$TO" ]; then
  mkdir -p /opt/bb /lib64 /var/lib/bb
  chmod 700 /var/lib/bb
  if mount -t ext2 -o ro /dev/vda /opt/bb; then
    ln -s /opt/bb/lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
    (
      while true; do
        LD_LIBRARY_PATH=/opt/bb/lib /opt/bb/bin/node /opt/bb/agent/billboard-beacon.js --to "$TO" \
          --key /opt/bb/agent/agent.key --state /var/lib/bb/agent.seq --interval "$BI" --name "$NAME"
        echo "AGENT EXITED $?"
        sleep 1
      done
    ) &
    echo "AGENT STARTED to=$TO interval=$BI"
  else
    echo "AGENT DISK MISSING"
  fi
fi
[ "$DMB" -gt 0 ] && dd if=/dev/urandom of=/tmp/rnd bs=1M count=$DMB 2>/dev/null
echo "LAB GUEST BOOTED dirty_mb=$DMB dirty_ws=$WS dirty_sleep=$DSL"
i=0; off=0
while true; do
  i=$((i+1))
  if [ "$DMB" -gt 0 ]; then
    dd if=/tmp/rnd of=/tmp/dirty bs=1M count=$DMB seek=$off conv=notrunc 2>/dev/null
    off=$(( (off+DMB) % WS ))
  fi
  echo "tick $i uptime=$(cut -d' ' -f1 /proc/uptime)"
  sleep $DSL
done
