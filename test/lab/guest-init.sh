#!/bin/busybox sh
# /init of the lab's tiny guest (busybox initramfs, no disk): a heartbeat on ttyS0 so the harness can see the
# guest is alive wherever it runs, and a steady RAM-dirtying loop so live migration has real pre-copy work.
# Knobs on the kernel command line: dirty_mb (MiB rewritten per step), dirty_ws (working set MiB), dirty_sleep (s).
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
DMB=4; WS=32; DSL=0.25
for a in $(cat /proc/cmdline); do
  case $a in
    dirty_mb=*) DMB=${a#dirty_mb=} ;;
    dirty_ws=*) WS=${a#dirty_ws=} ;;
    dirty_sleep=*) DSL=${a#dirty_sleep=} ;;
  esac
done
mount -t tmpfs -o size=90% tmpfs /tmp
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
