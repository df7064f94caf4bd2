/**
 * `virsh domcapabilities` from stock libvirtd and from tvirtd, for the same QEMU binary: stock
 * virsh 9.0 asks a private libvirtd 9.0 (bench/libvirtd.ts: its own network and mount
 * namespaces) and a private tvirtd (session daemon, CONNECT_GET_DOMAIN_CAPABILITIES over the
 * wire) the same questions. The documents must have the same elements, apart from a named list
 * of what changed between libvirt 9.0 and 11.3 (tvirt follows 11.3, whose test data is its
 * oracle), and agree on the values that describe this QEMU and host.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "../../bench/libvirtd.ts";
import { parseXml, type XmlElement } from "../conf/xml.ts";
import { privateSession, run, spawnDaemon, virshOrSkip, type DaemonProcess } from "../testing/rpc/harness.ts";

const QEMU = "/usr/bin/qemu-system-x86_64";
const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

/** Elements libvirt 11.3 reports that 9.0 does not (tvirt follows 11.3). */
const ONLY_11 = [
  /^devices\/crypto/,
  /^devices\/interface/,
  /^devices\/panic/,
  /^features\/async-teardown$/,
  /^features\/ps2$/,
  /^features\/launchSecurity$/,
  /^cpu\/mode\[custom\]\/blockers/,
  /^cpu\/mode\[host-model\]\/maxphysaddr$/,
];
/**
 * Elements libvirt 9.0 reports that 11.3 does not here: 9.0 listed two Hyper-V enlightenments
 * for every x86 guest; 11.3 lists what KVM's probe reports, and KVM is not usable here.
 */
const ONLY_9 = [/^features\/hyperv/];

/** Element paths (`cpu/mode[custom]/model`), naming `<mode>`s and `<enum>`s by their name. */
function paths(el: XmlElement, prefix = ""): Set<string> {
  const out = new Set<string>();
  for (const c of el.children) {
    const name = c.name === "mode" || c.name === "enum" ? `${c.name}[${c.attr("name") ?? ""}]` : c.name;
    const p = prefix === "" ? name : `${prefix}/${name}`;
    out.add(p);
    for (const q of paths(c, p)) out.add(q);
  }
  return out;
}

/** The values of every `<enum>` by path, e.g. `devices/disk/enum[bus]` → `ide,fdc,…`. */
function enums(el: XmlElement, prefix = "", out = new Map<string, string[]>()): Map<string, string[]> {
  for (const c of el.children) {
    const name = c.name === "mode" || c.name === "enum" ? `${c.name}[${c.attr("name") ?? ""}]` : c.name;
    const p = prefix === "" ? name : `${prefix}/${name}`;
    if (c.name === "enum")
      out.set(
        p,
        c.all("value").map((v) => v.content),
      );
    enums(c, p, out);
  }
  return out;
}

/** `supported` of every element that has it, by path. */
function supported(el: XmlElement, prefix = "", out = new Map<string, string>()): Map<string, string> {
  for (const c of el.children) {
    const name = c.name === "mode" || c.name === "enum" ? `${c.name}[${c.attr("name") ?? ""}]` : c.name;
    const p = prefix === "" ? name : `${prefix}/${name}`;
    const s = c.attr("supported");
    if (s !== undefined) out.set(p, s);
    supported(c, p, out);
  }
  return out;
}

const known = (p: string, list: RegExp[]): boolean => list.some((r) => r.test(p));

void test("domcapabilities: stock libvirtd and tvirtd describe the same QEMU alike", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const why = libvirtdUnavailable();
  if (why !== undefined) {
    if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
    t.skip(why);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirt-domcaps-interop-"));
  let libvirtd: PrivateLibvirtd | undefined;
  let daemon: DaemonProcess | undefined;
  try {
    libvirtd = await startLibvirtd(join(dir, "libvirtd"));
    const session = privateSession(dir);
    daemon = await spawnDaemon(
      ["--session", "--listen", session.sock, "--uri", "qemu:///session"],
      [session.sock],
      {
        env: session.env,
      },
    );
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "", HOME: dir };
    const stockURI = `qemu+unix:///system?socket=${libvirtd.socket}`;
    const queries = [
      ["--virttype", "qemu"],
      ["--virttype", "qemu", "--machine", "q35"],
      ["--virttype", "qemu", "--arch", "x86_64", "--emulatorbin", QEMU, "--machine", "pc"],
    ];
    for (const q of queries) {
      const texts = new Map<string, string>();
      const ask = async (uri: string, bin = virsh): Promise<XmlElement> => {
        const args = bin === virsh ? [] : [tvirshBin];
        const r = await run(bin, [...args, "-c", uri, "domcapabilities", ...q], { env, timeoutMs: 120_000 });
        assert.equal(r.code, 0, `${bin} -c ${uri} domcapabilities ${q.join(" ")}: ${r.stderr}`);
        texts.set(`${bin} ${uri}`, r.stdout);
        return parseXml(r.stdout, `domcapabilities ${q.join(" ")}`);
      };
      const stock = await ask(stockURI);
      const ours = await ask(session.uri);
      // tvirsh as the client: what virsh prints, from either daemon.
      await ask(stockURI, process.execPath);
      await ask(session.uri, process.execPath);
      assert.equal(texts.get(`${process.execPath} ${stockURI}`), texts.get(`${virsh} ${stockURI}`));
      assert.equal(texts.get(`${process.execPath} ${session.uri}`), texts.get(`${virsh} ${session.uri}`));
      const what = q.join(" ");

      // Structure: the same elements, apart from the named version differences.
      const sp = paths(stock);
      const op = paths(ours);
      // host-model needs the CPU map (helper `cpumap`): compared in full once tvirt reports it.
      const hostModel = supported(ours).get("cpu/mode[host-model]") === "yes";
      const skip = hostModel ? ONLY_9 : [...ONLY_9, /^cpu\/mode\[host-model\]\//];
      assert.deepEqual(
        [...sp].filter((p) => !op.has(p) && !known(p, skip)),
        [],
        `${what}: elements stock libvirtd reports and tvirtd does not`,
      );
      assert.deepEqual(
        [...op].filter((p) => !sp.has(p) && !known(p, ONLY_11)),
        [],
        `${what}: elements tvirtd reports and stock libvirtd does not`,
      );

      // Values that describe the binary and the machine type.
      for (const name of ["path", "domain", "machine", "arch"]) {
        assert.equal(ours.childText(name), stock.childText(name), `${what}: <${name}>`);
      }
      assert.equal(ours.child("vcpu")?.attr("max"), stock.child("vcpu")?.attr("max"), `${what}: vcpu max`);

      // Enums: ours has every value stock has (libvirt 11 adds rdp to graphics and the VFIO
      // backend only where the host has IOMMU groups: same rule, same host).
      const se = enums(stock);
      const oe = enums(ours);
      for (const [p, values] of se) {
        if (known(p, ONLY_9) || p.startsWith("cpu/")) continue;
        const mine = oe.get(p) ?? [];
        assert.deepEqual(
          values.filter((v) => !mine.includes(v)),
          [],
          `${what}: ${p} values stock has and tvirt lacks (tvirt: ${mine.join(",")})`,
        );
        const extra = mine.filter((v) => !values.includes(v));
        if (p === "devices/graphics/enum[type]") assert.deepEqual(extra, ["rdp"], `${what}: ${p}`);
        else assert.deepEqual(extra, [], `${what}: ${p} values tvirt has and stock lacks`);
      }
      const ss = supported(stock);
      const os = supported(ours);
      for (const [p, s] of ss) {
        if (known(p, ONLY_9)) continue;
        if (p === "cpu/mode[host-model]" && !hostModel) continue;
        assert.equal(os.get(p), s, `${what}: ${p} supported`);
      }

      // Named CPU models: libvirt 9.0 lists QEMU's unversioned models; tvirt (as 11.3) also the
      // versioned ones. Every model stock lists is listed.
      const models = (d: XmlElement): string[] =>
        (
          d
            .child("cpu")
            ?.all("mode")
            .find((m) => m.attr("name") === "custom")
            ?.all("model") ?? []
        ).map((m) => m.content);
      const mine = new Set(models(ours));
      assert.deepEqual(
        models(stock).filter((m) => !mine.has(m)),
        [],
        `${what}: CPU models stock lists and tvirt does not`,
      );
    }

    // Refusals: stock virsh prints the same errors from both daemons.
    const refusals = [
      ["--virttype", "KVM"],
      ["--virttype", "xen"],
      ["--virttype", "qemu", "--machine", "pc-nosuch"],
      ["--arch", "sparc"],
      ["--emulatorbin", "/nonexistent/qemu"],
      ["--emulatorbin", QEMU, "--arch", "aarch64"],
    ];
    for (const q of refusals) {
      const err = async (uri: string): Promise<string> => {
        const r = await run(virsh, ["-c", uri, "domcapabilities", ...q], { env, timeoutMs: 60_000 });
        assert.equal(r.code, 1, `virsh -c ${uri} domcapabilities ${q.join(" ")} succeeded`);
        return r.stderr;
      };
      assert.equal(await err(session.uri), await err(stockURI), q.join(" "));
    }
  } finally {
    if (daemon) await daemon.stop();
    if (libvirtd) await libvirtd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
