/**
 * `net-doctor [<network>]` (a tvirt extension: virsh has no such command): what usually keeps
 * NAT networks' guests off the outside world on this host (IP forwarding off, another firewall's
 * forward policy drop, an address range clashing with the host or another network, dnsmasq not
 * running, the bridge down or gone), each finding with the commands that fix it. Exits 1 when
 * it finds an error. With `--json`: `{ok, networks: [{name, active, bridge}], findings: [{kind,
 * severity, networks, message, fix}]}`.
 */
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";

type Cmd = CmdDef<Ctx>;

export const netDoctor: Cmd = {
  name: "net-doctor",
  group: "tvirt",
  help: "find what breaks NAT networks on this host",
  desc:
    "Checks this host for what usually breaks virtual networks: IP forwarding off, another\n" +
    "    firewall's forward policy drop (Docker, ufw), an address range clashing with the\n" +
    "    host or another network, dnsmasq not running, the bridge down. Each finding comes\n" +
    "    with the commands that fix it.",
  opts: [
    {
      name: "network",
      type: "string",
      help: "network name or uuid (default: all networks)",
      complete: "network",
    },
  ],
  async run(ctx, cmd) {
    const name = ctx.optString(cmd, "network");
    if (name === null) return false;
    let report;
    try {
      report = await ctx.connection().networkDoctor(name);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const ok = !report.findings.some((f) => f.severity === "error");
    const nets = report.networks.map(
      (n) =>
        `${n.name} (${n.active ? "active" : "inactive"}${n.bridge !== undefined ? `, ${n.bridge}` : ""})`,
    );
    let s = nets.length === 0 ? "No networks to check.\n" : `Networks checked: ${nets.join(", ")}\n`;
    if (report.findings.length === 0) s += "No problems found.\n";
    for (const f of report.findings) {
      s += `\n${f.severity}: ${f.message}\n`;
      s += `  kind: ${f.kind}; networks: ${f.networks.join(", ")}\n`;
      s += "  fix:\n" + f.fix.map((c) => `    ${c}\n`).join("");
    }
    ctx.print(s);
    ctx.emit({ ok, networks: report.networks, findings: report.findings });
    return ok;
  },
};
