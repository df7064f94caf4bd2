/**
 * What runs inside the tiny test guest: the `/init` script (busybox sh, PID 1), the ACPI
 * power-button handler, and the kernel modules it loads. Changing any of this changes the
 * recipe hash in the initrd's file name, so caches rebuild by themselves.
 *
 * Console protocol (one line each, on ttyS0):
 *   GUEST-BOOTED <uptime-seconds>        modules loaded, about to act on probe=MODE
 *   TVIRT-GUEST-MODULE-FAILED <name>     a module that would not load (its insmod error follows)
 *   TVIRT-GUEST-READY mode=<mode>        setup for the mode is done (acpid listens, for idle/disks)
 *   TVIRT-GUEST-WARNING <text>           acpid found no input device to listen to
 *   COUNTER <n>                          counter mode, n = 1, 2, 3, … once a second
 *   DISK <name> <sectors>                disks mode, every 2 s, one per block device (512-byte sectors)
 *   DISKS-END <count>                    disks mode, after each round of DISK lines
 *   TVIRT-GUEST-POWERDOWN                the ACPI power button was pressed; powering off
 *   TVIRT-GUEST-ERROR <text>             bad probe mode; the guest powers off
 */

/** The probe modes `/init` understands (kernel argument `probe=MODE`). */
export const GUEST_MODES = ["none", "counter", "idle", "disks", "shell"] as const;
export type GuestMode = (typeof GUEST_MODES)[number];

/**
 * Modules wanted in the initramfs, when the kernel has them as modules. Their dependencies
 * (from each module's modinfo `depends=`) are added. Built-in or absent ones are skipped.
 */
export const GUEST_MODULES: readonly string[] = [
  "virtio",
  "virtio_ring",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "virtio_blk",
  "failover",
  "net_failover",
  "virtio_net",
  "virtio_console",
  "virtio_scsi",
  "sd_mod",
  "libata",
  "ata_piix",
  "cdrom",
  "sr_mod",
  "fuse",
  "virtiofs",
  "button",
  "evdev",
  "virtio_balloon",
];

/** `/etc/acpi/PWRF/00000080`: busybox acpid runs it on an ACPI power-button press. */
export const POWER_BUTTON_HANDLER = `#!/bin/sh
echo "TVIRT-GUEST-POWERDOWN" >/dev/console
poweroff -f
`;

/**
 * `/init`. Module names to load are in `/etc/tvirt-modules` (one line, dependencies first);
 * they are retried until all are loaded or a round makes no progress, so the order does not
 * matter.
 */
export const INIT_SCRIPT = `#!/bin/busybox sh
# tvirt tiny test guest: PID 1.
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run /var/log /mnt
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

pending=$(echo $(cat /etc/tvirt-modules))
while [ -n "$pending" ]; do
  left=""
  for m in $pending; do
    insmod "/lib/modules/$m.ko" 2>/dev/null || left="$left $m"
  done
  left=\${left# }
  if [ "$left" = "$pending" ]; then
    for m in $left; do
      echo "TVIRT-GUEST-MODULE-FAILED $m"
      insmod "/lib/modules/$m.ko"
    done
    break
  fi
  pending=$left
done

read up rest </proc/uptime
echo "GUEST-BOOTED $up"

mode=none
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    probe=*) mode=\${arg#probe=} ;;
  esac
done

# READY is printed only once acpid listens: a power-button press before that would be lost.
# The button's input device appears when its module has probed; acpid opens the devices there
# are when it starts, so it waits for one, and then for acpid to hold it open.
start_acpid() {
  i=0
  while [ $i -lt 100 ] && ! ls /dev/input/event* >/dev/null 2>&1; do
    i=$((i + 1))
    sleep 0.05
  done
  acpid -l /dev/null
  i=0
  while [ $i -lt 100 ]; do
    for p in /proc/[0-9]*; do
      [ "$(cat "$p/comm" 2>/dev/null)" = acpid ] || continue
      ls -l "$p/fd" 2>/dev/null | grep -q /dev/input/event && return 0
    done
    i=$((i + 1))
    sleep 0.05
  done
  echo "TVIRT-GUEST-WARNING acpid does not listen to an input device"
}

list_disks() {
  n=0
  for d in /sys/block/*; do
    [ -e "$d/size" ] || continue
    name=\${d##*/}
    case "$name" in
      loop*|ram*|zram*|nbd*) continue ;;
    esac
    case "$name" in
      # opening a CD-ROM makes the kernel look for a media change (and read the new size)
      sr*) dd if="/dev/$name" of=/dev/null bs=2048 count=1 2>/dev/null ;;
    esac
    echo "DISK $name $(cat "$d/size")"
    n=$((n + 1))
  done
  echo "DISKS-END $n"
}

case "$mode" in
  none|"")
    echo "TVIRT-GUEST-READY mode=none"
    ;;
  counter)
    echo "TVIRT-GUEST-READY mode=counter"
    n=0
    while true; do
      n=$((n + 1))
      echo "COUNTER $n"
      sleep 1
    done
    ;;
  idle)
    start_acpid
    echo "TVIRT-GUEST-READY mode=idle"
    while true; do sleep 3600; done
    ;;
  disks)
    start_acpid
    echo "TVIRT-GUEST-READY mode=disks"
    while true; do
      list_disks
      sleep 2
    done
    ;;
  shell)
    start_acpid
    echo "TVIRT-GUEST-READY mode=shell"
    setsid cttyhack sh
    ;;
  *)
    echo "TVIRT-GUEST-ERROR unknown probe mode '$mode' (known: none counter idle disks shell)"
    ;;
esac
poweroff -f
# poweroff returns only if the power-off failed; PID 1 must not exit.
while true; do sleep 3600; done
`;
