/**
 * Golden replay: the packets stock virsh 9.0 sent to libvirtd 9.0 (captured in
 * `../shared/reference/libvirt-wire-traces.md`, both serving libvirt's test driver) are sent to
 * tvirtd's server byte for byte, and every reply must equal libvirtd's reply byte for byte —
 * except the host name (another machine) and the CPU time of DOMAIN_GET_INFO (a clock).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { virGetHostname } from "../drivers/test/index.ts";
import { encode } from "./codec.ts";
import { encodePacket } from "./packet.ts";
import { MessageType, PROTOCOL_VERSION, RemoteProc } from "./protocol.ts";
import { Msg, Proc } from "./remote-protocol.ts";
import { referenceDir } from "../testing/corpus.ts";
import { RawClient, startTestServer, tracesOrSkip, type TraceLine } from "../testing/rpc/harness.ts";

const sessions = [
  "virsh list --all",
  "virsh dominfo test",
  "virsh domstate test --reason",
  "virsh version --daemon",
  "virsh hostname",
  "virsh uri",
  "virsh nodeinfo",
  "virsh dumpxml test",
  "virsh dominfo nosuchdomain",
];

test("packet framing of the annotated CONNECT_OPEN call and its reply", () => {
  const call = encodePacket(
    { prog: 0x20008086, vers: PROTOCOL_VERSION, proc: 1, type: MessageType.CALL, serial: 2, status: 0 },
    encode(Proc.connectOpen.args, { name: "test:///default", flags: 0 }),
  );
  assert.equal(
    call.toString("hex"),
    "00000038" +
      "20008086" +
      "00000001" +
      "00000001" +
      "00000000" +
      "00000002" +
      "00000000" +
      "00000001" +
      "0000000f" +
      "746573743a2f2f2f64656661756c7400" +
      "00000000",
  );
  const reply = encodePacket({
    prog: 0x20008086,
    vers: 1,
    proc: 1,
    type: MessageType.REPLY,
    serial: 2,
    status: 0,
  });
  assert.equal(reply.toString("hex"), "0000001c200080860000000100000001000000010000000200000000");
});

for (const title of sessions) {
  test(`golden replay: ${title}`, async (t) => {
    const traces = tracesOrSkip(t);
    if (!traces) return;
    const lines = traces.get(title);
    assert.ok(lines && lines.length > 0, `session '${title}' not found in the captures`);
    const srv = await startTestServer();
    const c = await RawClient.connect(srv.path);
    try {
      let compared = 0;
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i]!;
        if (l.dir !== "C>S") continue;
        assert.ok(!l.truncated, `${title}: call ${l.name} payload is truncated in the capture`);
        c.write(
          encodePacket(
            { prog: l.prog, vers: 1, proc: l.proc, type: l.type, serial: l.serial, status: l.status },
            l.payload,
          ),
        );
        const want = lines[i + 1];
        if (!want || want.dir !== "S>C") continue;
        const got = await c.next();
        assert.ok(got, `${title}: no reply to ${l.name}`);
        compareReply(title, want, got.header, got.payload);
        compared++;
      }
      assert.ok(compared >= 7, `${title}: only ${compared} replies compared`);
    } finally {
      c.close();
      await srv.close();
    }
  });
}

function compareReply(
  title: string,
  want: TraceLine,
  h: { prog: number; proc: number; type: number; serial: number; status: number },
  payload: Buffer,
): void {
  const what = `${title}: reply to ${want.name} (serial ${want.serial})`;
  assert.deepEqual(
    { prog: h.prog, proc: h.proc, type: h.type, serial: h.serial, status: h.status },
    { prog: want.prog, proc: want.proc, type: want.type, serial: want.serial, status: want.status },
    what,
  );
  if (want.proc === RemoteProc.CONNECT_GET_HOSTNAME) {
    assert.equal(
      payload.toString("hex"),
      encode(Proc.connectGetHostname.ret, { hostname: virGetHostname() }).toString("hex"),
      what,
    );
    return;
  }
  assert.equal(payload.length + 28, want.len, `${what}: length`);
  if (want.proc === RemoteProc.DOMAIN_GET_INFO) {
    // state, maxMem, memory, nrVirtCpu; cpuTime is the test driver's clock
    assert.equal(payload.subarray(0, 24).toString("hex"), want.payload.subarray(0, 24).toString("hex"), what);
    return;
  }
  if (want.truncated)
    assert.equal(
      payload.subarray(0, want.payload.length).toString("hex"),
      want.payload.toString("hex"),
      what,
    );
  else assert.equal(payload.toString("hex"), want.payload.toString("hex"), what);
}

test("procedure numbers and names agree with libvirt 9.0.0's table", (t) => {
  const file = join(referenceDir(), "libvirt-procedures-9.0.0.tsv");
  if (!existsSync(file)) {
    if (process.env.CI === "true") throw new Error(`${file} is required under CI`);
    t.skip(`${file} not found`);
    return;
  }
  const rows = readFileSync(file, "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
  const byProg = new Map<string, string>(
    rows.map((r) => [`${Number(r[1])}:${r[2]}`, r[3]!.replace(/^(REMOTE|QEMU)_PROC_/, "")]),
  );
  for (const [key, num] of Object.entries(RemoteProc))
    assert.equal(byProg.get(`536903814:${num}`), key, `RemoteProc.${key}`);
  for (const def of Object.values(Proc))
    assert.equal(byProg.get(`${def.prog}:${def.num}`), def.name, `Proc ${def.name}`);
  for (const def of Object.values(Msg))
    assert.equal(byProg.get(`${def.prog}:${def.num}`), def.name, `Msg ${def.name}`);
});
