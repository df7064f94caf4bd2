/**
 * `Connection.networkDoctor()`: tvirt's check of what usually breaks NAT networks (forwarding
 * off, another firewall's forward policy drop, address clashes, dnsmasq not running, bridge
 * down), over the connection's networks and this host's facts. The networks come through the
 * public API (so it works through tvirtd and against a libvirtd), the facts from this process's
 * host and network namespace: the connection must manage networks of this host.
 */
import { VirtError } from "../util/errors/index.ts";
import { parseNetwork } from "../conf/network/index.ts";
import { diagnoseNetworks, type DoctorFinding, type DoctorNetwork } from "../drivers/network/doctor.ts";
import { gatherDoctorFacts } from "../drivers/network/doctor-facts.ts";
import { parseURI } from "./uri.ts";
import type { Connection } from "./connection.ts";

export type { DoctorFinding, FindingKind } from "../drivers/network/doctor.ts";

export interface NetworkDoctorReport {
  /** The networks checked, with their state. */
  readonly networks: readonly { readonly name: string; readonly active: boolean; readonly bridge?: string }[];
  readonly findings: readonly DoctorFinding[];
}

export async function networkDoctor(conn: Connection, name?: string): Promise<NetworkDoctorReport> {
  const uri = parseURI(conn.uri);
  if (uri.server !== undefined && uri.server !== "" && uri.server !== "localhost") {
    throw new VirtError("NETWORK_DOCTOR_NOT_LOCAL", { uri: conn.uri, why: `names host '${uri.server}'` });
  }
  if (uri.driver === "test") {
    throw new VirtError("NETWORK_DOCTOR_NOT_LOCAL", { uri: conn.uri, why: "keeps its networks in memory" });
  }
  const all: DoctorNetwork[] = [];
  for (const net of await conn.listAllNetworks()) {
    const active = await net.isActive();
    const { def } = parseNetwork(await net.getXMLDesc());
    all.push({ def, active });
  }
  let chosen = all;
  if (name !== undefined) {
    // By name or UUID, with the connection's own "network not found" error.
    const net = await conn.networkLookupByName(name).catch(async (e: unknown) => {
      if (/^[0-9a-f-]{32,36}$/i.test(name)) return conn.networkLookupByUUID(name);
      throw e;
    });
    chosen = all.filter((n) => n.def.name === net.name);
  }
  const facts = await gatherDoctorFacts();
  return {
    networks: chosen.map((n) => ({
      name: n.def.name,
      active: n.active,
      ...(n.def.bridge !== undefined ? { bridge: n.def.bridge } : {}),
    })),
    findings: diagnoseNetworks(facts, chosen, all),
  };
}
