/**
 * A managing process for the restart tests: opens an embed root, defines and starts the domains
 * it is told to, prints one `READY {json}` line with their ids, pids and states, then waits to
 * be killed. Run as `node --import tsx manager.fixture.ts PLAN_JSON`.
 *
 * PLAN_JSON: { root, capsCacheDir, domains: [{ xml, persistent, paused }] }
 */
import { DomainCreateFlags } from "../../drivers/enums.ts";
import { openQemuConnection } from "../../drivers/qemu/driver/index.ts";

interface Plan {
  root: string;
  capsCacheDir: string;
  domains: { xml: string; persistent: boolean; paused: boolean }[];
}

const plan = JSON.parse(process.argv[2] ?? "{}") as Plan;
const conn = await openQemuConnection({ kind: "embed", root: plan.root }, `qemu:///embed?root=${plan.root}`, {
  capsCacheDir: plan.capsCacheDir,
});
const out: Record<string, { id: number; pid: number; state: number; reason: number }> = {};
for (const d of plan.domains) {
  let ref;
  if (d.persistent) {
    ref = await conn.domainDefineXML(d.xml);
    await conn.domainCreateWithFlags(ref, 0);
    if (d.paused) await conn.domainSuspend(ref);
  } else {
    ref = await conn.domainCreateXML(d.xml, d.paused ? DomainCreateFlags.START_PAUSED : 0);
  }
  const obj = conn.driver.domains.byUuid(ref.uuid)!;
  out[ref.name] = { id: obj.id, pid: obj.run!.pid, state: obj.state, reason: obj.reason };
}
process.stdout.write(`READY ${JSON.stringify(out)}\n`);
setInterval(() => undefined, 60_000);
