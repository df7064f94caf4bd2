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
 *   COUNTER <n>                          counter mode (or shell mode with tvirt.counter=1), n = 1, 2, 3, … once a second
 *   DISK <name> <sectors>                disks mode, every 2 s, one per block device (512-byte sectors)
 *   DISKS-END <count>                    disks mode, after each round of DISK lines
 *   TVIRT-GUEST-POWERDOWN                the ACPI power button was pressed; powering off
 *   TVIRT-GUEST-ERROR <text>             bad probe mode; the guest powers off
 *   TVIRT-GUEST-AGENT <port>             qemu-ga started on /dev/<port> (org.qemu.guest_agent.0)
 *   TVIRT-GUEST-AGENT-POWEROFF           qemu-ga's guest-shutdown (powerdown/halt); powering off
 *   TVIRT-GUEST-AGENT-REBOOT             qemu-ga's guest-shutdown mode reboot; rebooting
 *   TVIRT-GUEST-MOUNTED <dev>            tvirt.mount=<dev> on the command line: /dev/<dev> is on /mnt
 *
 * The guest agent: in every mode that keeps running, a background job looks for a virtio
 * serial port named \`org.qemu.guest_agent.0\` (/sys/class/virtio-ports/<port>/name) and runs
 * Debian's \`qemu-ga\` on it. It looks only while a virtio-serial controller is bound and
 * never delays \`TVIRT-GUEST-READY\`, so guests without the channel boot as before.
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

/** The agent channel's port name (libvirt's and QEMU's default for `qemu-ga`). */
export const AGENT_PORT_NAME = "org.qemu.guest_agent.0";

/**
 * Small files qemu-ga reads or changes: `/etc/os-release` (guest-get-osinfo), a root user for
 * guest-set-user-password (it runs `chpasswd`, busybox's, which rewrites /etc/shadow),
 * `/etc/hostname` (guest-get-host-name reads the kernel's, set from it).
 */
export const GUEST_ETC_FILES: readonly { name: string; data: string; mode: number }[] = [
  {
    name: "etc/os-release",
    data:
      'NAME="tvirt test guest"\nID=tvirt-test-guest\nID_LIKE=debian\nVERSION_ID="1"\n' +
      'VERSION="1 (busybox)"\nPRETTY_NAME="tvirt test guest 1"\nVARIANT="initramfs"\nVARIANT_ID=initramfs\n',
    mode: 0o644,
  },
  { name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n", mode: 0o644 },
  { name: "etc/group", data: "root:x:0:\n", mode: 0o644 },
  { name: "etc/shadow", data: "root:*:20000:0:99999:7:::\n", mode: 0o600 },
  { name: "etc/hostname", data: "tvirt-guest\n", mode: 0o644 },
];

/**
 * `/usr/sbin/chpasswd`: busybox-static has no chpasswd applet, and qemu-ga's
 * guest-set-user-password runs `chpasswd` (`-e` when the password is already crypted) with
 * `user:password` lines on stdin. This one hashes with busybox mkpasswd (SHA-512) and rewrites
 * the user's /etc/shadow entry; an unknown user fails, as chpasswd does.
 */
export const CHPASSWD_SCRIPT = `#!/bin/sh
crypted=0
[ "$1" = "-e" ] && crypted=1
status=0
while IFS= read -r line || [ -n "$line" ]; do
  user=\${line%%:*}
  pw=\${line#*:}
  if [ $crypted = 1 ]; then
    hash=$pw
  else
    hash=$(printf '%s' "$pw" | mkpasswd -m sha512 -P 0) || { status=1; continue; }
  fi
  days=$(( $(date +%s) / 86400 ))
  awk -F: -v OFS=: -v u="$user" -v h="$hash" -v d="$days" \\
    '$1 == u { $2 = h; $3 = d; found = 1 } { print } END { exit !found }' \\
    /etc/shadow >/etc/shadow.new || { rm -f /etc/shadow.new; echo "chpasswd: unknown user $user" >&2; status=1; continue; }
  chmod 600 /etc/shadow.new
  mv /etc/shadow.new /etc/shadow
done
exit $status
`;

/**
 * `/sbin/shutdown`: qemu-ga's guest-shutdown runs `/sbin/shutdown -h|-P|-r +0 <message>`,
 * which busybox lacks. Prints what it does on the console, then powers off or reboots.
 */
export const SHUTDOWN_SCRIPT = `#!/bin/sh
case " $* " in
  *" -r "*)
    echo "TVIRT-GUEST-AGENT-REBOOT" >/dev/console
    reboot -f
    ;;
  *)
    echo "TVIRT-GUEST-AGENT-POWEROFF" >/dev/console
    poweroff -f
    ;;
esac
`;

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
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
hostname -F /etc/hostname
ip link set lo up 2>/dev/null

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
mountdev=""
counter=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    probe=*) mode=\${arg#probe=} ;;
    tvirt.mount=*) mountdev=\${arg#tvirt.mount=} ;;
    tvirt.counter=1) counter=1 ;;
  esac
done
# tvirt.mount=DEV mounts /dev/DEV (a filesystem the kernel knows, e.g. ext2) on /mnt: a real
# filesystem for the guest agent's fsfreeze and fsinfo.
if [ -n "$mountdev" ]; then
  i=0
  while [ $i -lt 100 ] && [ ! -b "/dev/$mountdev" ]; do
    i=$((i + 1))
    sleep 0.05
  done
  mount "/dev/$mountdev" /mnt && echo "TVIRT-GUEST-MOUNTED $mountdev"
fi

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

# qemu-ga on the agent port, when the guest has one: ports appear shortly after
# virtio_console binds its device, so a background job waits for them (up to 10 s) without
# holding up the boot; with no virtio-serial controller it gives up at once.
start_agent() {
  [ -x /usr/sbin/qemu-ga ] || return 0
  ls /sys/bus/virtio/drivers/virtio_console/virtio* >/dev/null 2>&1 || return 0
  (
    i=0
    while [ $i -lt 200 ]; do
      for n in /sys/class/virtio-ports/*/name; do
        [ "$(cat "$n" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
        p=\${n%/name}
        p=\${p##*/}
        j=0
        while [ $j -lt 100 ] && [ ! -e "/dev/$p" ]; do
          j=$((j + 1))
          sleep 0.05
        done
        echo "TVIRT-GUEST-AGENT $p"
        exec qemu-ga -m virtio-serial -p "/dev/$p" -t /run -l /var/log/qemu-ga.log
      done
      i=$((i + 1))
      sleep 0.05
    done
  ) &
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
    start_agent
    echo "TVIRT-GUEST-READY mode=counter"
    n=0
    while true; do
      n=$((n + 1))
      echo "COUNTER $n"
      sleep 1
    done
    ;;
  idle)
    start_agent
    start_acpid
    echo "TVIRT-GUEST-READY mode=idle"
    while true; do sleep 3600; done
    ;;
  disks)
    start_agent
    start_acpid
    echo "TVIRT-GUEST-READY mode=disks"
    while true; do
      list_disks
      sleep 2
    done
    ;;
  shell)
    start_agent
    start_acpid
    echo "TVIRT-GUEST-READY mode=shell"
    # tvirt.counter=1: the counter of counter mode runs beside the shell (a console that shows
    # the guest's own output and answers typed commands)
    if [ "$counter" = 1 ]; then
      (n=0; while true; do n=$((n + 1)); echo "COUNTER $n"; sleep 1; done) &
    fi
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
