/**
 * `<interface type='user'>` (SLIRP) on real QEMU, one TCG guest for the whole file: the guest
 * reaches a TCP service of the host (a node server on 127.0.0.1, through SLIRP's 10.0.2.2), and
 * the host reaches the guest's busybox httpd through a `<portForward>` (QEMU's `hostfwd`). A
 * second user interface with a forward of its own is hotplugged (the guest configures it and
 * serves on it; the forward answers) and unplugged (the forward is gone). A port forward SLIRP
 * cannot do is refused at attach with nothing changed.
 */
import assert from "node:assert/strict";
import { get } from "node:http";
import { createServer, type AddressInfo, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { type DomainRef } from "../../driver.ts";
import { DomainDeviceModifyFlags as F, DomainXMLFlags } from "../../enums.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import type { QemuConnection } from "./connection.ts";
import { guestXML, makeTestRoot, type TestRoot } from "../../../testing/qemu/driver.ts";

/** A port nothing listens on right now (the kernel's pick). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  return port;
}

/** GET http://127.0.0.1:port/ → body, or the error's code. */
function httpGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/", timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        resolve(body);
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e: NodeJS.ErrnoException) => {
      resolve(`ERROR ${e.code ?? e.message}`);
    });
  });
}

/** Retries `httpGet` until `want` matches (the guest's server may still be starting). */
async function httpUntil(port: number, want: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    last = await httpGet(port);
    if (want.test(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`127.0.0.1:${port}: no ${String(want)}, last answer: ${last}`);
}

describe("user-mode (SLIRP) networking on a TCG guest", () => {
  let tr: TestRoot;
  let conn: QemuConnection;
  let dom: DomainRef | undefined;
  let host: Server;
  let hostPort = 0;
  const heard: string[] = [];
  let fwd = 0;
  let out = "";
  let write: (s: string) => void = () => undefined;

  const waitOut = async (re: RegExp, ms: number, from = 0): Promise<RegExpExecArray> => {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(out.slice(from));
      if (m) return m;
      if (Date.now() > end) assert.fail(`console: no ${String(re)} in:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    tr = makeTestRoot("tvirt-netuser-");
    conn = await tr.open();
    // the host's service: says who it is and records what the guest sent
    host = createServer((sock) => {
      let got = "";
      sock.on("data", (d: Buffer) => (got += d.toString()));
      sock.on("end", () => heard.push(got.trim()));
      sock.end("HOST-SERVICE-OK\n");
    });
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
    hostPort = (host.address() as AddressInfo).port;
    fwd = await freePort();
  });

  after(async () => {
    if (dom !== undefined && (await conn.domainIsActive(dom))) await conn.domainDestroy(dom);
    await conn.connectClose();
    await tr.cleanup();
    await new Promise<void>((r) =>
      host.close(() => {
        r();
      }),
    );
  });

  test("the guest reaches a host service through 10.0.2.2 and is reached through a port forward", async (t) => {
    const base = await guestXML(t, { name: "slirp", mode: "shell" });
    if (base === undefined) return;
    const xml = base.replace(
      "</devices>",
      `  <interface type='user'>
      <mac address='52:54:00:5a:00:01'/>
      <portForward proto='tcp' address='127.0.0.1'>
        <range start='${fwd}' to='8080'/>
      </portForward>
      <model type='virtio'/>
    </interface>
  </devices>`,
    );
    dom = await conn.domainDefineXML(xml);
    await conn.domainCreate(dom);
    tr.track(conn);
    const live = await conn.domainGetXMLDesc(dom, 0);
    assert.match(
      live,
      new RegExp(
        `<interface type='user'>\\n\\s*<mac address='52:54:00:5a:00:01'/>\\n\\s*<portForward proto='tcp' address='127.0.0.1'>\\n\\s*<range start='${fwd}' to='8080'/>`,
      ),
    );
    assert.match(await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE), /<portForward proto='tcp'/);
    // QEMU holds the forward
    const usernet = await conn.domainQemuMonitorCommand(dom, "info usernet", 1);
    assert.match(
      usernet,
      new RegExp(`HOST_FORWARD\\]\\s+\\d+\\s+127\\.0\\.0\\.1\\s+${fwd}\\s+10\\.0\\.2\\.15\\s+8080`),
    );

    const con = await conn.domainOpenConsole(dom, null, 0);
    con.onData((d) => (out += Buffer.from(d).toString()));
    write = (s) => {
      con.write(Buffer.from(s));
    };
    await waitOut(/TVIRT-GUEST-READY mode=shell/, 180_000);
    // SLIRP's defaults: the guest is 10.0.2.15, the host 10.0.2.2
    write(
      "ip addr add 10.0.2.15/24 dev eth0; ip link set eth0 up; ip route add default via 10.0.2.2; " +
        `echo GUEST-SAYS-HI | nc 10.0.2.2 ${hostPort}; echo NC-DONE-$((40+2))\n`,
    );
    await waitOut(/NC-DONE-42/, 60_000);
    assert.match(out, /HOST-SERVICE-OK/, out.slice(-2000));
    assert.deepEqual(heard, ["GUEST-SAYS-HI"]);

    write(
      "mkdir -p /www; echo GUEST-HTTP-$((6*7)) > /www/index.html; httpd -p 8080 -h /www; echo HTTPD-$((1+1))\n",
    );
    await waitOut(/HTTPD-2/, 30_000);
    assert.equal((await httpUntil(fwd, /GUEST-HTTP-42/, 60_000)).trim(), "GUEST-HTTP-42");
  });

  test("a second user interface with its own forward is hotplugged and unplugged", async (t) => {
    if (dom === undefined) {
      t.skip("no guest");
      return;
    }
    const fwd2 = await freePort();
    const nic = `<interface type='user'>
  <mac address='52:54:00:5a:00:02'/>
  <ip address='10.0.3.0' family='ipv4' prefix='24'/>
  <portForward proto='tcp'>
    <range start='${fwd2}' to='8081'/>
  </portForward>
  <model type='virtio'/>
</interface>`;
    // what SLIRP cannot do: refused before anything reaches QEMU, nothing changed
    const before = await conn.domainGetXMLDesc(dom, 0);
    await assert.rejects(
      conn.domainAttachDeviceFlags(
        dom,
        nic.replace("<portForward proto='tcp'>", "<portForward proto='tcp' dev='eth0'>"),
        F.LIVE,
      ),
      (e: unknown) => {
        assert.ok(isVirtError(e), String(e));
        assert.equal(e.code, "QEMU_NET_SLIRP_PORT_FORWARD");
        assert.match(e.message, /dev='eth0' is only supported by the passt backend/);
        return true;
      },
    );
    assert.equal(await conn.domainGetXMLDesc(dom, 0), before);
    // the same at define: nothing is defined
    const bad = (await conn.domainGetXMLDesc(dom, DomainXMLFlags.INACTIVE))
      .replace("<name>slirp</name>", "<name>slirp-bad</name>")
      .replace(/<uuid>[^<]*<\/uuid>/, "")
      .replace("<portForward proto='tcp' address='127.0.0.1'>", "<portForward proto='udp' address='::1'>");
    await assert.rejects(
      conn.domainDefineXML(bad),
      /<portForward proto='udp'>.*'::1' is not an IPv4 address/,
    );
    assert.deepEqual(
      (await conn.connectListAllDomains(0)).map((d) => d.name),
      ["slirp"],
    );

    await conn.domainAttachDeviceFlags(dom, nic, F.LIVE);
    const live = await conn.domainGetXMLDesc(dom, 0);
    assert.match(live, /<mac address='52:54:00:5a:00:02'\/>[^]*<alias name='net1'\/>/);
    const usernet = await conn.domainQemuMonitorCommand(dom, "info usernet", 1);
    assert.match(usernet, new RegExp(`HOST_FORWARD\\]\\s+\\d+\\s+\\*\\s+${fwd2}\\s+10\\.0\\.3\\.15\\s+8081`));

    const from = out.length;
    write(
      "i=0; while [ ! -e /sys/class/net/eth1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; " +
        "ip addr add 10.0.3.15/24 dev eth1; ip link set eth1 up; " +
        "mkdir -p /www2; echo SECOND-NIC-$((6*7)) > /www2/index.html; httpd -p 10.0.3.15:8081 -h /www2; echo ETH1-$((2+2))\n",
    );
    await waitOut(/ETH1-4/, 60_000, from);
    assert.equal((await httpUntil(fwd2, /SECOND-NIC-42/, 60_000)).trim(), "SECOND-NIC-42");

    await conn.domainDetachDeviceFlags(dom, nic, F.LIVE);
    assert.doesNotMatch(await conn.domainGetXMLDesc(dom, 0), /52:54:00:5a:00:02/);
    assert.doesNotMatch(
      await conn.domainQemuMonitorCommand(dom, "info usernet", 1),
      new RegExp(`\\b${fwd2}\\b`),
    );
    assert.match(await httpGet(fwd2), /^ERROR ECONNREFUSED/);
    // the first interface still forwards
    assert.equal((await httpGet(fwd)).trim(), "GUEST-HTTP-42");

    await conn.domainDestroy(dom);
    assert.match(await httpGet(fwd), /^ERROR ECONNREFUSED/);
  });
});
