/**
 * libvirt domain XML for the tiny test guest: TCG (`type='qemu'`), ACPI on (so that the
 * guest's power-off and the power button work), direct kernel boot, serial console; by default
 * no disks, no NICs, no balloon (options add a virtio balloon and extra devices).
 */
import { GUEST_MODES, type GuestMode } from "./init-script.ts";

export interface GuestDomainOptions {
  name: string;
  /** What `/init` does after boot (`probe=MODE` on the kernel command line). */
  mode: GuestMode;
  /** Guest RAM. Default 128 MiB; the kernel needs at least 72. */
  memoryMiB?: number;
  vcpus?: number;
  kernel: string;
  initrd: string;
  /** Serial console to this file (`<serial type='file'>`); else a pty. */
  serialLogPath?: string;
  /** Appended to the kernel command line (e.g. `no_timer_check`). */
  extraCmdline?: string;
  uuid?: string;
  /** A virtio memory balloon (`<memballoon model='virtio'>`, stats every `balloonPeriod` s). */
  balloon?: boolean;
  balloonPeriod?: number;
  /** `<currentMemory>` in MiB when below `memoryMiB` (the balloon target at boot). */
  currentMemoryMiB?: number;
  /** `<vcpu current=...>`: vCPUs online at boot when below `vcpus`. */
  vcpusCurrent?: number;
  /** Extra device elements (disks, interfaces), inserted verbatim into `<devices>`. */
  extraDevicesXML?: string;
}

const XML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "'": "&apos;",
  '"': "&quot;",
};

function esc(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(s))
    throw new Error(`guestDomainXML: control character in ${JSON.stringify(s)}`);
  return s.replace(/[&<>'"]/g, (c) => XML_ESCAPES[c] ?? c);
}

/** The kernel command line for `mode`. */
/**
 * Device XML (for `extraDevicesXML`) of a raw virtio disk `vda` and an IDE CD-ROM `hdc`: what
 * the `disks` mode shows the guest (the hotplug tests start from it).
 */
export function diskAndCdromXML(diskFile: string, cdromFile: string): string {
  return (
    `    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${esc(diskFile)}'/><target dev='vda' bus='virtio'/></disk>\n` +
    `    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${esc(cdromFile)}'/><target dev='hdc' bus='ide'/><readonly/></disk>\n`
  );
}

export function guestCmdline(mode: GuestMode, extra?: string): string {
  if (!(GUEST_MODES as readonly string[]).includes(mode))
    throw new Error(
      `unknown test guest mode ${JSON.stringify(mode)}: expected one of ${GUEST_MODES.join(", ")}`,
    );
  const parts = ["console=ttyS0", `probe=${mode}`, "panic=-1"];
  if (extra !== undefined && extra.trim() !== "") parts.push(extra.trim());
  return parts.join(" ");
}

/** Domain XML for the tiny guest, ready for `defineXML`/`createXML`. */
export function guestDomainXML(opts: GuestDomainOptions): string {
  const memoryMiB = opts.memoryMiB ?? 128;
  const vcpus = opts.vcpus ?? 1;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 72)
    throw new Error(
      `guestDomainXML: memoryMiB must be an integer of at least 72 (the kernel does not boot in less), got ${memoryMiB}`,
    );
  if (!Number.isInteger(vcpus) || vcpus < 1)
    throw new Error(`guestDomainXML: vcpus must be a positive integer, got ${vcpus}`);
  if (opts.name === "" || opts.name.includes("/"))
    throw new Error(`guestDomainXML: bad domain name ${JSON.stringify(opts.name)}`);
  const serial =
    opts.serialLogPath === undefined
      ? [
          `    <serial type='pty'>`,
          `      <target port='0'/>`,
          `    </serial>`,
          `    <console type='pty'>`,
          `      <target type='serial' port='0'/>`,
          `    </console>`,
        ]
      : [
          `    <serial type='file'>`,
          `      <source path='${esc(opts.serialLogPath)}'/>`,
          `      <target port='0'/>`,
          `    </serial>`,
          `    <console type='file'>`,
          `      <source path='${esc(opts.serialLogPath)}'/>`,
          `      <target type='serial' port='0'/>`,
          `    </console>`,
        ];
  return [
    `<domain type='qemu'>`,
    `  <name>${esc(opts.name)}</name>`,
    ...(opts.uuid === undefined ? [] : [`  <uuid>${esc(opts.uuid)}</uuid>`]),
    `  <memory unit='MiB'>${memoryMiB}</memory>`,
    `  <currentMemory unit='MiB'>${opts.currentMemoryMiB ?? memoryMiB}</currentMemory>`,
    opts.vcpusCurrent !== undefined && opts.vcpusCurrent < vcpus
      ? `  <vcpu placement='static' current='${opts.vcpusCurrent}'>${vcpus}</vcpu>`
      : `  <vcpu placement='static'>${vcpus}</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='pc'>hvm</type>`,
    `    <kernel>${esc(opts.kernel)}</kernel>`,
    `    <initrd>${esc(opts.initrd)}</initrd>`,
    `    <cmdline>${esc(guestCmdline(opts.mode, opts.extraCmdline))}</cmdline>`,
    `  </os>`,
    `  <features>`,
    `    <acpi/>`,
    `  </features>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>destroy</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    ...serial,
    ...(opts.extraDevicesXML !== undefined ? [opts.extraDevicesXML.replace(/\n$/, "")] : []),
    ...(opts.balloon
      ? opts.balloonPeriod !== undefined
        ? [
            `    <memballoon model='virtio'>`,
            `      <stats period='${opts.balloonPeriod}'/>`,
            `    </memballoon>`,
          ]
        : [`    <memballoon model='virtio'/>`]
      : [`    <memballoon model='none'/>`]),
    `  </devices>`,
    `</domain>`,
    ``,
  ].join("\n");
}
