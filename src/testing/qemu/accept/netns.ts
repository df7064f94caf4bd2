/**
 * A network namespace owned by the acceptance test: QEMU runs inside it, so its taps, listening
 * ports and extra addresses never touch the host's own interfaces or firewall.
 */
import { run } from "./run.ts";

export class NetNamespace {
  private readonly addresses = new Set<string>();

  private constructor(
    readonly name: string,
    readonly ip: string,
  ) {}

  /** `ip netns add NAME` and `lo` up. The caller must `delete()` it (also after failures). */
  static async create(ip: string, name: string): Promise<NetNamespace> {
    await run([ip, "netns", "add", name]);
    const ns = new NetNamespace(name, ip);
    try {
      await run([ip, "-n", name, "link", "set", "lo", "up"]);
    } catch (e) {
      await ns.delete();
      throw e;
    }
    return ns;
  }

  /** Adds an address to `lo` inside the namespace (once); IPv6 without duplicate detection. */
  async addLoopbackAddress(address: string): Promise<void> {
    if (this.addresses.has(address)) return;
    const v6 = address.includes(":");
    const argv = [
      this.ip,
      "-n",
      this.name,
      "addr",
      "add",
      v6 ? `${address}/128` : `${address}/32`,
      "dev",
      "lo",
    ];
    if (v6) argv.push("nodad");
    await run(argv);
    this.addresses.add(address);
  }

  /** argv prefix that runs a program inside the namespace (`ip netns exec NAME`). */
  execPrefix(): string[] {
    return [this.ip, "netns", "exec", this.name];
  }

  /** Links inside the namespace (names), for leak checks. */
  async links(): Promise<string[]> {
    const r = await run([this.ip, "-n", this.name, "-o", "link", "show"]);
    return r.stdout
      .split("\n")
      .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
  }

  async delete(): Promise<void> {
    await run([this.ip, "netns", "delete", this.name]);
  }
}
