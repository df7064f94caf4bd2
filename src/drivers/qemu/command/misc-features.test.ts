/**
 * Options of the firmware and miscellaneous elements beyond what the corpus cases show:
 * `-smbios`/`-fw_cfg`, throttle groups and filter chains, `acpi-erst`, ACPI tables, RDP,
 * SEV-SNP, graphics listening on a network, and the VNC TLS key password.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { loadCapsFile } from "../capabilities/load.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { buildQemuCommand } from "./index.ts";
import { corpusHarnessContext } from "../../../testing/qemu/command-harness.ts";
import type { CommandContext } from "./types.ts";

function domain(devices: string, extra = "", os = ""): string {
  return `<domain type='qemu'>
  <name>g</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>
  <vcpu placement='static'>1</vcpu>
  ${extra}
  <os><type arch='x86_64' machine='pc'>hvm</type>${os}</os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${devices}
    <memballoon model='none'/>
  </devices>
</domain>`;
}

let capsCache: QemuCaps | undefined;
function caps(dir: string): QemuCaps {
  capsCache ??= loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  return capsCache;
}

/** argv as `option value` lines. */
function lines(xml: string, dir: string, tweak: Partial<CommandContext> = {}, c?: QemuCaps): string[] {
  const { def } = parseDomainXML(xml);
  const ctx = { ...corpusHarnessContext(def, { caps: c ?? caps(dir), corpusDir: dir }), ...tweak };
  const out: string[] = [];
  for (const a of buildQemuCommand(def, ctx).args) {
    if (a.startsWith("-") || out.length === 0) out.push(a);
    else out[out.length - 1] = `${out[out.length - 1] ?? ""} ${a}`;
  }
  return out;
}

function has(l: string[], line: string): void {
  assert.ok(l.includes(line), `missing: ${line}\n--- got ---\n${l.join("\n")}`);
}

function buildFails(xml: string, dir: string, message: RegExp, c?: QemuCaps): void {
  assert.throws(
    () => lines(xml, dir, {}, c),
    (e: unknown) => isVirtError(e) && message.test(e.message),
  );
}

test("sysinfo: -smbios tables after -uuid, commas doubled; -fw_cfg needs an opt/ name", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const sys = `<sysinfo type='smbios'>
    <chassis><entry name='asset'>a,b</entry></chassis>
    <oemStrings><entry>x=1,y</entry></oemStrings>
  </sysinfo><sysinfo type='fwcfg'><entry name='opt/k'>v,w</entry></sysinfo>`;
  const l = lines(domain("", sys, "<smbios mode='sysinfo'/>"), dir);
  const at = l.indexOf("-uuid c7a5fdbd-edaf-9455-926a-d65c16db1809");
  assert.deepEqual(l.slice(at + 1, at + 4), [
    "-smbios type=3,asset=a,,b",
    "-smbios type=11,value=x=1,,y",
    "-fw_cfg name=opt/k,string=v,,w",
  ]);
  // without mode='sysinfo' the tables are not given to the guest
  assert.ok(!lines(domain("", sys), dir).some((x) => x.startsWith("-smbios")));
  buildFails(domain("", "", "<smbios mode='sysinfo'/>"), dir, /no <sysinfo type='smbios'>/);
  buildFails(
    domain("", "<sysinfo type='fwcfg'><entry name='etc/x'>v</entry></sysinfo>"),
    dir,
    /must start with 'opt\/'/,
  );
});

test("throttle groups: one object each, filters chained above the format node in order", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const groups = `<throttlegroups>
    <throttlegroup><group_name>a</group_name><read_iops_sec>5</read_iops_sec><total_bytes_sec_max_length>3</total_bytes_sec_max_length></throttlegroup>
    <throttlegroup><group_name>b</group_name></throttlegroup>
  </throttlegroups>`;
  const l = lines(
    domain(
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a.qcow2'/><target dev='vda' bus='virtio'/>
         <throttlefilters><throttlefilter group='a'/><throttlefilter group='b'/></throttlefilters></disk>`,
      groups,
    ),
    dir,
  );
  has(
    l,
    `-object {"qom-type":"throttle-group","id":"throttle-a","limits":{"bps-total":0,"bps-read":0,"bps-write":0,"iops-total":0,"iops-read":5,"iops-write":0,"bps-total-max":0,"bps-read-max":0,"bps-write-max":0,"iops-total-max":0,"iops-read-max":0,"iops-write-max":0,"iops-size":0,"bps-total-max-length":3}}`,
  );
  has(
    l,
    `-blockdev {"driver":"throttle","node-name":"libvirt-2-filter","throttle-group":"throttle-a","file":"libvirt-1-format"}`,
  );
  has(
    l,
    `-blockdev {"driver":"throttle","node-name":"libvirt-3-filter","throttle-group":"throttle-b","file":"libvirt-2-filter"}`,
  );
  assert.ok(l.some((x) => x.startsWith("-device") && x.includes(`"drive":"libvirt-3-filter"`)));
});

test("pstore, ACPI tables, SEV-SNP and RDP", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      "<pstore backend='acpi-erst'><path>/p</path><size unit='KiB'>16</size></pstore>",
      "<features><acpi/></features>",
      "<acpi><table type='raw'>/r.dat</table><table type='msdm'>/m.dat</table></acpi>",
    ),
    dir,
  );
  has(
    l,
    `-object {"qom-type":"memory-backend-file","id":"mempstore0","mem-path":"/p","size":16384,"share":true}`,
  );
  assert.ok(
    l.some((x) =>
      /^-device \{"driver":"acpi-erst","id":"pstore0","memdev":"mempstore0","bus":"pci.0","addr":"0x\w+"\}$/.test(
        x,
      ),
    ),
  );
  has(l, "-acpitable file=/r.dat");
  has(l, "-acpitable sig=MSDM,file=/m.dat");
  const snp = "<launchSecurity type='sev-snp'><policy>0x00030000</policy></launchSecurity>";
  // the plain capability file's QEMU has no sev-snp-guest type
  buildFails(domain("", snp), dir, /sev-snp/);
  // a QEMU with the type, on a host whose SEV platform gives the C-bit position
  const base = caps(dir);
  const amd: QemuCaps = {
    ...base,
    flags: new Set([...base.flags, "sev-snp-guest"]),
    sev: { cbitpos: 51, reducedPhysBits: 1 },
  };
  const withSnp = lines(domain("", snp), dir, {}, amd);
  has(
    withSnp,
    `-object {"qom-type":"sev-snp-guest","id":"lsec0","cbitpos":51,"reduced-phys-bits":1,"policy":196608}`,
  );
  buildFails(domain("<graphics type='rdp' autoport='yes'/>"), dir, /needs a <graphics type='dbus'>/);
  const rdp = lines(domain("<graphics type='dbus'/><graphics type='rdp' autoport='yes'/>"), dir);
  assert.ok(rdp.some((x) => x.startsWith("-display dbus")));
});

test("graphics: a network listen takes the network's address; a VNC key password is an encrypted secret", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const vnc =
    "<graphics type='vnc' port='5901' autoport='no'><listen type='network' network='n'/></graphics>";
  has(
    lines(domain(vnc), dir, { networkListenAddress: (n) => (n === "n" ? "10.1.2.3" : undefined) }),
    "-vnc 10.1.2.3:1,audiodev=audio1",
  );
  const base = corpusHarnessContext(parseDomainXML(domain(vnc)).def, { caps: caps(dir), corpusDir: dir });
  const l = lines(domain(vnc), dir, {
    graphics: {
      ...base.graphics,
      vncTLS: true,
      vncTLSx509secretUUID: "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea",
    },
  });
  const secret = l.findIndex((x) =>
    x.startsWith(`-object {"qom-type":"secret","id":"vnc-tls-creds0-secret0"`),
  );
  assert.ok(secret >= 0, l.join("\n"));
  assert.match(l[secret + 1] ?? "", /"qom-type":"tls-creds-x509".*"passwordid":"vnc-tls-creds0-secret0"/);
});
