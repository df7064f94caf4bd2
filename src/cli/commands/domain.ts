/**
 * Domain management commands (virsh's "Domain Management" group): define, undefine, create,
 * start, shutdown, destroy, reboot, reset, suspend, resume, save, restore, managedsave,
 * managedsave-remove, autostart, dumpxml, domid, domname, domuuid. Messages, the libvirt API
 * each command calls and the order of checks follow virsh 9.0 (`tools/virsh-domain.c`).
 */
import {
  DomainCreateFlags,
  DomainDestroyFlags,
  DomainRebootFlags,
  DomainSaveRestoreFlags,
  DomainShutdownFlags,
  DomainUndefineFlags,
  DomainXMLFlags,
  parseDomainXML,
  parseXmlTree,
  selectNodes,
  selectValue,
  type Domain,
  VirErrorNumber,
} from "../../api/index.ts";
import { BYID, BYNAME, BYUUID, type Ctx } from "../context.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { dumpXPath } from "../xpath-output.ts";
import { runConsole } from "./console.ts";

type Cmd = CmdDef<Ctx>;

/** The `--domain` option of virsh's domain commands (name, id or UUID). */
export const domainOpt = (help = "domain name, id or uuid"): OptDef => ({
  name: "domain",
  type: "data",
  required: true,
  help,
  complete: "domain",
});
const fileOpt = (help: string): OptDef => ({
  name: "file",
  type: "data",
  required: true,
  help,
  complete: "file",
});

function domJson(dom: Domain): { name: string; uuid: string; id: number | null } {
  return { name: dom.name, uuid: dom.uuid, id: dom.id >= 0 ? dom.id : null };
}

/** cmdStartGetFDs: `--pass-fds N,M`. Returns null (error printed) when malformed. */
function passFds(ctx: Ctx, cmd: ParsedCmd<Ctx>): number[] | null {
  const v = cmd.raw("pass-fds");
  if (v === undefined || v === "") return [];
  const fds: number[] = [];
  for (const part of v.split(",")) {
    if (!/^\s*[+-]?\d+$/.test(part)) {
      ctx.fail(`Unable to parse FD number '${part}'`);
      return null;
    }
    fds.push(Number(part));
  }
  return fds;
}

// --- define / create / undefine --------------------------------------------------------------

const define: Cmd = {
  name: "define",
  group: "domain",
  help: "define (but don't start) a domain from an XML file",
  desc: "Define a domain.",
  opts: [
    fileOpt("file containing an XML domain description"),
    { name: "validate", type: "bool", help: "validate the XML against the schema" },
  ],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    const conn = ctx.connection();
    let dom: Domain;
    try {
      dom = cmd.bool("validate") ? await conn.defineXMLFlags(xml, 1) : await conn.defineXML(xml);
    } catch (e) {
      return ctx.fail(`Failed to define domain from ${from}`, e);
    }
    ctx.printExtra(`Domain '${dom.name}' defined from ${from}\n`);
    // libvirt drops XML it does not know without a word; say what the definition left out.
    const dropped = droppedXml(xml);
    for (const w of dropped) ctx.warn(w.message);
    ctx.emit({ action: "defined", domain: domJson(dom), file: from, dropped });
    return true;
  },
};

/** What the definition of `xml` leaves out (unknown elements and attributes), as XPaths. */
function droppedXml(xml: string): { code: string; xpath: string; line: number; message: string }[] {
  try {
    return parseDomainXML(xml, { noDefaults: true }).warnings.map((w) => ({
      code: w.code,
      xpath: w.xpath,
      line: w.line,
      message: w.message,
    }));
  } catch {
    return []; // the daemon accepted what this parser refuses: its verdict stands
  }
}

const create: Cmd = {
  name: "create",
  group: "domain",
  help: "create a domain from an XML file",
  desc: "Create a domain.",
  opts: [
    fileOpt("file containing an XML domain description"),
    { name: "console", type: "bool", help: "attach to console after creation" },
    { name: "paused", type: "bool", help: "leave the guest paused after creation" },
    { name: "autodestroy", type: "bool", help: "automatically destroy the guest when virsh disconnects" },
    { name: "pass-fds", type: "string", help: "pass file descriptors N,M,... to the guest" },
    { name: "validate", type: "bool", help: "validate the XML against the schema" },
    { name: "reset-nvram", type: "bool", help: "re-initialize NVRAM from its pristine template" },
  ],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    if (passFds(ctx, cmd) === null) return false;
    let flags = 0;
    if (cmd.bool("paused")) flags |= DomainCreateFlags.START_PAUSED;
    if (cmd.bool("autodestroy")) flags |= DomainCreateFlags.START_AUTODESTROY;
    if (cmd.bool("validate")) flags |= DomainCreateFlags.START_VALIDATE;
    if (cmd.bool("reset-nvram")) flags |= DomainCreateFlags.START_RESET_NVRAM;
    let dom: Domain;
    try {
      dom = await ctx.connection().createXML(xml, flags);
    } catch (e) {
      return ctx.fail(`Failed to create domain from ${from}`, e);
    }
    ctx.printExtra(`Domain '${dom.name}' created from ${from}\n`);
    ctx.emit({ action: "created", domain: domJson(dom), file: from });
    if (cmd.bool("console") && !ctx.json) return runConsole(ctx, dom, null, 0);
    return true;
  },
};

const undefineOpts: OptDef[] = [
  domainOpt(),
  { name: "managed-save", type: "bool", help: "remove domain managed state file" },
  {
    name: "storage",
    type: "string",
    help: "remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)",
  },
  {
    name: "remove-all-storage",
    type: "bool",
    help: "remove all associated storage volumes (use with caution)",
  },
  {
    name: "delete-storage-volume-snapshots",
    type: "bool",
    help: "delete snapshots associated with volume(s), requires --remove-all-storage (must be supported by storage driver)",
  },
  { name: "wipe-storage", type: "bool", help: "wipe data on the removed volumes" },
  {
    name: "snapshots-metadata",
    type: "bool",
    help: "remove all domain snapshot metadata (vm must be inactive)",
  },
  {
    name: "checkpoints-metadata",
    type: "bool",
    help: "remove all domain checkpoint metadata (vm must be inactive)",
  },
  { name: "nvram", type: "bool", help: "remove nvram file" },
  { name: "keep-nvram", type: "bool", help: "keep nvram file" },
  { name: "tpm", type: "bool", help: "remove TPM state" },
  { name: "keep-tpm", type: "bool", help: "keep TPM state" },
];

const undefine: Cmd = {
  name: "undefine",
  group: "domain",
  help: "undefine a domain",
  desc: "Undefine an inactive domain, or convert persistent to transient.",
  opts: undefineOpts,
  async run(ctx, cmd) {
    const managedSave = cmd.bool("managed-save");
    const nvram = cmd.bool("nvram");
    const keepNvram = cmd.bool("keep-nvram");
    const tpm = cmd.bool("tpm");
    const keepTpm = cmd.bool("keep-tpm");
    let flags = 0;
    if (managedSave) flags |= DomainUndefineFlags.MANAGED_SAVE;
    if (cmd.bool("snapshots-metadata")) flags |= DomainUndefineFlags.SNAPSHOTS_METADATA;
    if (cmd.bool("checkpoints-metadata")) flags |= DomainUndefineFlags.CHECKPOINTS_METADATA;
    if (nvram) flags |= DomainUndefineFlags.NVRAM;
    if (keepNvram) flags |= DomainUndefineFlags.KEEP_NVRAM;
    if (tpm) flags |= DomainUndefineFlags.TPM;
    if (keepTpm) flags |= DomainUndefineFlags.KEEP_TPM;
    if (!ctx.exclusive(cmd, "nvram", "keep-nvram") || !ctx.exclusive(cmd, "tpm", "keep-tpm")) return false;
    const volString = ctx.optString(cmd, "storage");
    if (volString === null) return false;
    const removeAll = cmd.bool("remove-all-storage");
    if (cmd.bool("delete-storage-volume-snapshots") && !removeAll) {
      return ctx.fail("'--delete-storage-volume-snapshots' requires '--remove-all-storage'");
    }
    if (cmd.bool("wipe-storage") && !(volString || removeAll)) {
      return ctx.fail("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'");
    }
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let running: boolean;
    try {
      running = await dom.isActive();
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    let hasManagedSave = false;
    if (!running) {
      try {
        hasManagedSave = await dom.hasManagedSaveImage();
      } catch {
        hasManagedSave = false;
      }
    }
    if (!hasManagedSave) flags &= ~DomainUndefineFlags.MANAGED_SAVE;

    if (volString || removeAll) {
      if (running) return ctx.fail("Storage volume deletion is supported only on stopped domains");
      if (volString && removeAll) return ctx.fail("Specified both --storage and --remove-all-storage");
      let doc;
      try {
        doc = parseXmlTree(await dom.getXMLDesc(0));
      } catch (e) {
        return ctx.fail("Could not retrieve domain XML description", e);
      }
      const wanted = volString ? volString.split(",") : undefined;
      const found = new Set<string>();
      for (const disk of selectNodes(doc, "./devices/disk")) {
        if (disk.kind !== "element") continue;
        const target = selectValue(disk, "./target/@dev");
        const source = selectValue(
          disk,
          "./source/@file|./source/@dir|./source/@name|./source/@dev|./source/@volume",
        );
        if (target === undefined || source === undefined) continue;
        if (wanted) {
          const hit = wanted.find((w) => !found.has(w) && (w === target || w === source));
          if (hit === undefined) continue;
          found.add(hit);
        }
        // No storage driver manages volumes here: report each as virsh does for unmanaged ones.
        ctx.error(`Storage volume '${target}'(${source}) is not managed by libvirt. Remove it manually.\n`);
      }
      if (wanted) {
        let missing = false;
        for (const w of wanted) {
          if (found.has(w)) continue;
          ctx.error(`Volume '${w}' was not found in domain's definition.\n`);
          missing = true;
        }
        if (missing) return false;
      }
    }

    if (hasManagedSave && !managedSave && !(nvram || keepNvram || tpm || keepTpm)) {
      return ctx.fail("Refusing to undefine while domain managed save image exists");
    }
    try {
      await dom.undefineFlags(flags);
    } catch (e) {
      return ctx.fail(`Failed to undefine domain '${dom.name}'`, e);
    }
    ctx.printExtra(`Domain '${dom.name}' has been undefined\n`);
    ctx.emit({ action: "undefined", domain: domJson(dom) });
    return true;
  },
};

// --- start / stop ----------------------------------------------------------------------------

const start: Cmd = {
  name: "start",
  group: "domain",
  help: "start a (previously defined) inactive domain",
  desc: "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no managedsave state\n    is present.",
  opts: [
    domainOpt("name of the inactive domain"),
    { name: "console", type: "bool", help: "attach to console after creation" },
    { name: "paused", type: "bool", help: "leave the guest paused after creation" },
    { name: "autodestroy", type: "bool", help: "automatically destroy the guest when virsh disconnects" },
    { name: "bypass-cache", type: "bool", help: "avoid file system cache when loading" },
    { name: "force-boot", type: "bool", help: "force fresh boot by discarding any managed save" },
    { name: "pass-fds", type: "string", help: "pass file descriptors N,M,... to the guest" },
    { name: "reset-nvram", type: "bool", help: "re-initialize NVRAM from its pristine template" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd, BYNAME | BYUUID);
    if (!dom) return false;
    if (dom.id !== -1) return ctx.fail("Domain is already active");
    if (passFds(ctx, cmd) === null) return false;
    let flags = 0;
    if (cmd.bool("paused")) flags |= DomainCreateFlags.START_PAUSED;
    if (cmd.bool("autodestroy")) flags |= DomainCreateFlags.START_AUTODESTROY;
    if (cmd.bool("bypass-cache")) flags |= DomainCreateFlags.START_BYPASS_CACHE;
    if (cmd.bool("force-boot")) flags |= DomainCreateFlags.START_FORCE_BOOT;
    if (cmd.bool("reset-nvram")) flags |= DomainCreateFlags.START_RESET_NVRAM;
    let started = false;
    if (flags & DomainCreateFlags.START_FORCE_BOOT) {
      try {
        await dom.createWithFlags(flags);
        started = true;
      } catch (e) {
        const err = e as { virCode?: number };
        // Emulate force boot for servers that refuse the flag: drop the image, boot plainly.
        if (err.virCode !== VirErrorNumber.NO_SUPPORT && err.virCode !== VirErrorNumber.INVALID_ARG)
          return ctx.fail(undefined, e);
        if (await dom.hasManagedSaveImage().catch(() => false)) {
          try {
            await dom.managedSaveRemove();
          } catch (e2) {
            return ctx.fail(undefined, e2);
          }
        }
        flags &= ~DomainCreateFlags.START_FORCE_BOOT;
      }
    }
    if (!started) {
      try {
        if (flags) await dom.createWithFlags(flags);
        else await dom.create();
      } catch (e) {
        return ctx.fail(`Failed to start domain '${dom.name}'`, e);
      }
    }
    ctx.printExtra(`Domain '${dom.name}' started\n`);
    ctx.emit({ action: "started", domain: domJson(dom) });
    if (cmd.bool("console") && !ctx.json) return runConsole(ctx, dom, null, 0);
    return true;
  },
};

const modeOpt: OptDef = {
  name: "mode",
  type: "string",
  help: "shutdown mode: acpi|agent|initctl|signal|paravirt",
  complete: "list",
  values: ["acpi", "agent", "initctl", "signal", "paravirt"],
};

/** `--mode a,b` → flags; null (error printed) for an unknown mode. */
function modeFlags(ctx: Ctx, cmd: ParsedCmd<Ctx>, reboot: boolean): number | null {
  const mode = ctx.optString(cmd, "mode");
  if (mode === null) return null;
  if (mode === undefined) return 0;
  const F = reboot ? DomainRebootFlags : DomainShutdownFlags;
  const map: Record<string, number> = {
    acpi: F.ACPI_POWER_BTN,
    agent: F.GUEST_AGENT,
    initctl: F.INITCTL,
    signal: F.SIGNAL,
    paravirt: F.PARAVIRT,
  };
  let flags = 0;
  for (const m of mode.split(",")) {
    const f = map[m];
    if (f === undefined) {
      const sep = reboot ? "" : ",";
      ctx.fail(`Unknown mode ${m} value, expecting 'acpi', 'agent', 'initctl', 'signal'${sep} or 'paravirt'`);
      return null;
    }
    flags |= f;
  }
  return flags;
}

const shutdown: Cmd = {
  name: "shutdown",
  group: "domain",
  help: "gracefully shutdown a domain",
  desc: "Run shutdown in the target domain.",
  opts: [domainOpt(), modeOpt],
  async run(ctx, cmd) {
    const flags = modeFlags(ctx, cmd, false);
    if (flags === null) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      if (flags) await dom.shutdownFlags(flags);
      else await dom.shutdown();
    } catch (e) {
      return ctx.fail(`Failed to shutdown domain '${dom.name}'`, e);
    }
    ctx.printExtra(`Domain '${dom.name}' is being shutdown\n`);
    ctx.emit({ action: "shutdown", domain: domJson(dom) });
    return true;
  },
};

const reboot: Cmd = {
  name: "reboot",
  group: "domain",
  help: "reboot a domain",
  desc: "Run a reboot command in the target domain.",
  opts: [domainOpt(), modeOpt],
  async run(ctx, cmd) {
    const flags = modeFlags(ctx, cmd, true);
    if (flags === null) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      await dom.reboot(flags);
    } catch (e) {
      return ctx.fail(`Failed to reboot domain '${dom.name}'`, e);
    }
    ctx.printExtra(`Domain '${dom.name}' is being rebooted\n`);
    ctx.emit({ action: "rebooted", domain: domJson(dom) });
    return true;
  },
};

/** A command that looks a domain up, calls one API and prints one message. */
function simple(
  name: string,
  help: string,
  desc: string,
  call: (dom: Domain) => Promise<void>,
  done: string,
  failed: string,
  action: string,
  extraOpts: OptDef[] = [],
): Cmd {
  return {
    name,
    group: "domain",
    help,
    desc,
    opts: [domainOpt(), ...extraOpts],
    async run(ctx, cmd) {
      const dom = await ctx.domain(cmd);
      if (!dom) return false;
      try {
        await call(dom);
      } catch (e) {
        return ctx.fail(failed.replace("%s", dom.name), e);
      }
      ctx.printExtra(done.replace("%s", dom.name));
      ctx.emit({ action, domain: domJson(dom) });
      return true;
    },
  };
}

const destroy: Cmd = {
  name: "destroy",
  group: "domain",
  help: "destroy (stop) a domain",
  desc: "Forcefully stop a given domain, but leave its resources intact.",
  opts: [
    domainOpt(),
    { name: "graceful", type: "bool", help: "terminate gracefully" },
    { name: "remove-logs", type: "bool", help: "remove domain logs" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let flags = 0;
    if (cmd.bool("graceful")) flags |= DomainDestroyFlags.GRACEFUL;
    if (cmd.bool("remove-logs")) flags |= DomainDestroyFlags.REMOVE_LOGS;
    try {
      if (flags) await dom.destroyFlags(flags);
      else await dom.destroy();
    } catch (e) {
      return ctx.fail(`Failed to destroy domain '${dom.name}'`, e);
    }
    ctx.printExtra(`Domain '${dom.name}' destroyed\n`);
    ctx.emit({ action: "destroyed", domain: domJson(dom) });
    return true;
  },
};

const reset = simple(
  "reset",
  "reset a domain",
  "Reset the target domain as if by power button",
  (d) => d.reset(0),
  "Domain '%s' was reset\n",
  "Failed to reset domain '%s'",
  "reset",
);

const suspend = simple(
  "suspend",
  "suspend a domain",
  "Suspend a running domain.",
  (d) => d.suspend(),
  "Domain '%s' suspended\n",
  "Failed to suspend domain '%s'",
  "suspended",
);

const resume = simple(
  "resume",
  "resume a domain",
  "Resume a previously suspended domain.",
  (d) => d.resume(),
  "Domain '%s' resumed\n",
  "Failed to resume domain '%s'",
  "resumed",
);

// --- save / restore / managed save -----------------------------------------------------------

const save: Cmd = {
  name: "save",
  group: "domain",
  help: "save a domain state to a file",
  desc: "Save the RAM state of a running domain.",
  opts: [
    domainOpt(),
    fileOpt("where to save the data"),
    { name: "bypass-cache", type: "bool", help: "avoid file system cache when saving" },
    { name: "xml", type: "string", help: "filename containing updated XML for the target", complete: "file" },
    { name: "running", type: "bool", help: "set domain to be running on restore" },
    { name: "paused", type: "bool", help: "set domain to be paused on restore" },
    { name: "verbose", type: "bool", help: "display the progress of save" },
  ],
  async run(ctx, cmd) {
    const to = ctx.optString(cmd, "file");
    if (!to) return false;
    let flags = 0;
    if (cmd.bool("bypass-cache")) flags |= DomainSaveRestoreFlags.BYPASS_CACHE;
    if (cmd.bool("running")) flags |= DomainSaveRestoreFlags.RUNNING;
    if (cmd.bool("paused")) flags |= DomainSaveRestoreFlags.PAUSED;
    const xmlfile = ctx.optString(cmd, "xml");
    if (xmlfile === null) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let xml: string | null = null;
    if (xmlfile !== undefined) {
      const text = await ctx.readFile(xmlfile);
      if (text === undefined) return false;
      xml = text;
    }
    try {
      if (flags || xml !== null) await dom.saveFlags(to, xml, flags);
      else await dom.save(to);
    } catch (e) {
      return ctx.fail(`Failed to save domain '${dom.name}' to ${to}`, e);
    }
    ctx.printExtra(`\nDomain '${dom.name}' saved to ${to}\n`);
    ctx.emit({ action: "saved", domain: domJson(dom), file: to });
    return true;
  },
};

const restore: Cmd = {
  name: "restore",
  group: "domain",
  help: "restore a domain from a saved state in a file",
  desc: "Restore a domain.",
  opts: [
    fileOpt("the state to restore"),
    { name: "bypass-cache", type: "bool", help: "avoid file system cache when restoring" },
    { name: "xml", type: "string", help: "filename containing updated XML for the target", complete: "file" },
    { name: "running", type: "bool", help: "restore domain into running state" },
    { name: "paused", type: "bool", help: "restore domain into paused state" },
    { name: "reset-nvram", type: "bool", help: "re-initialize NVRAM from its pristine template" },
  ],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    let flags = 0;
    if (cmd.bool("bypass-cache")) flags |= DomainSaveRestoreFlags.BYPASS_CACHE;
    if (cmd.bool("running")) flags |= DomainSaveRestoreFlags.RUNNING;
    if (cmd.bool("paused")) flags |= DomainSaveRestoreFlags.PAUSED;
    if (cmd.bool("reset-nvram")) flags |= DomainSaveRestoreFlags.RESET_NVRAM;
    const xmlfile = ctx.optString(cmd, "xml");
    if (xmlfile === null) return false;
    let xml: string | null = null;
    if (xmlfile !== undefined) {
      const text = await ctx.readFile(xmlfile);
      if (text === undefined) return false;
      xml = text;
    }
    const conn = ctx.connection();
    try {
      if (flags || xml !== null) await conn.restoreFlags(from, xml, flags);
      else await conn.restore(from);
    } catch (e) {
      return ctx.fail(`Failed to restore domain from ${from}`, e);
    }
    ctx.printExtra(`Domain restored from ${from}\n`);
    ctx.emit({ action: "restored", file: from });
    return true;
  },
};

const managedsave: Cmd = {
  name: "managedsave",
  group: "domain",
  help: "managed save of a domain state",
  desc:
    "Save and destroy a running domain, so it can be restarted from\n    the same state at a later time.  When the virsh 'start'\n" +
    "    command is next run for the domain, it will automatically\n    be started from this saved state.",
  opts: [
    domainOpt(),
    { name: "bypass-cache", type: "bool", help: "avoid file system cache when saving" },
    { name: "running", type: "bool", help: "set domain to be running on next start" },
    { name: "paused", type: "bool", help: "set domain to be paused on next start" },
    { name: "verbose", type: "bool", help: "display the progress of save" },
  ],
  async run(ctx, cmd) {
    let flags = 0;
    if (cmd.bool("bypass-cache")) flags |= DomainSaveRestoreFlags.BYPASS_CACHE;
    if (cmd.bool("running")) flags |= DomainSaveRestoreFlags.RUNNING;
    if (cmd.bool("paused")) flags |= DomainSaveRestoreFlags.PAUSED;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      await dom.managedSave(flags);
    } catch (e) {
      return ctx.fail(`Failed to save domain '${dom.name}' state`, e);
    }
    ctx.printExtra(`\nDomain '${dom.name}' state saved by libvirt\n`);
    ctx.emit({ action: "managedsaved", domain: domJson(dom) });
    return true;
  },
};

const managedsaveRemove: Cmd = {
  name: "managedsave-remove",
  group: "domain",
  help: "Remove managed save of a domain",
  desc: "Remove an existing managed save state file from a domain",
  opts: [domainOpt()],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let has: boolean;
    try {
      has = await dom.hasManagedSaveImage();
    } catch (e) {
      return ctx.fail("Failed to check for domain managed save image", e);
    }
    if (has) {
      try {
        await dom.managedSaveRemove();
      } catch (e) {
        return ctx.fail(`Failed to remove managed save image for domain '${dom.name}'`, e);
      }
      ctx.printExtra(`Removed managedsave image for domain '${dom.name}'`);
    } else {
      ctx.printExtra(`Domain '${dom.name}' has no manage save image; removal skipped`);
    }
    ctx.emit({ action: "managedsave-removed", domain: domJson(dom), removed: has });
    return true;
  },
};

const autostart: Cmd = {
  name: "autostart",
  group: "domain",
  help: "autostart a domain",
  desc: "Configure a domain to be automatically started at boot.",
  opts: [domainOpt(), { name: "disable", type: "bool", help: "disable autostarting" }],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const on = !cmd.bool("disable");
    try {
      await dom.setAutostart(on);
    } catch (e) {
      return ctx.fail(
        on
          ? `Failed to mark domain '${dom.name}' as autostarted`
          : `Failed to unmark domain '${dom.name}' as autostarted`,
        e,
      );
    }
    ctx.printExtra(
      on ? `Domain '${dom.name}' marked as autostarted\n` : `Domain '${dom.name}' unmarked as autostarted\n`,
    );
    ctx.emit({
      action: on ? "autostart-enabled" : "autostart-disabled",
      domain: domJson(dom),
      autostart: on,
    });
    return true;
  },
};

// --- XML and identity ------------------------------------------------------------------------

const dumpxml: Cmd = {
  name: "dumpxml",
  group: "domain",
  help: "domain information in XML",
  desc: "Output the domain information as an XML dump to stdout.",
  opts: [
    domainOpt(),
    { name: "inactive", type: "bool", help: "show inactive defined XML" },
    { name: "security-info", type: "bool", help: "include security sensitive information in XML dump" },
    { name: "update-cpu", type: "bool", help: "update guest CPU according to host CPU" },
    { name: "migratable", type: "bool", help: "provide XML suitable for migrations" },
    { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
    { name: "wrap", type: "bool", help: "wrap xpath results in an common root element" },
  ],
  async run(ctx, cmd) {
    let flags = 0;
    if (cmd.bool("inactive")) flags |= DomainXMLFlags.INACTIVE;
    if (cmd.bool("security-info")) flags |= DomainXMLFlags.SECURE;
    if (cmd.bool("update-cpu")) flags |= DomainXMLFlags.UPDATE_CPU;
    if (cmd.bool("migratable")) flags |= DomainXMLFlags.MIGRATABLE;
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let xml: string;
    try {
      xml = await dom.getXMLDesc(flags);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

const domid: Cmd = {
  name: "domid",
  group: "domain",
  help: "convert a domain name or UUID to domain id",
  opts: [domainOpt("domain name or uuid")],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd, BYNAME | BYUUID);
    if (!dom) return false;
    ctx.print(dom.id === -1 ? "-\n" : `${dom.id}\n`);
    ctx.emit({ id: dom.id >= 0 ? dom.id : null, domain: domJson(dom) });
    return true;
  },
};

const domname: Cmd = {
  name: "domname",
  group: "domain",
  help: "convert a domain id or UUID to domain name",
  opts: [domainOpt("domain id or uuid")],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd, BYID | BYUUID);
    if (!dom) return false;
    ctx.print(`${dom.name}\n`);
    ctx.emit({ name: dom.name, domain: domJson(dom) });
    return true;
  },
};

const domuuid: Cmd = {
  name: "domuuid",
  group: "domain",
  help: "convert a domain name or id to domain UUID",
  opts: [domainOpt("domain id or name")],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd, BYNAME | BYID);
    if (!dom) return false;
    ctx.print(`${dom.uuid}\n`);
    ctx.emit({ uuid: dom.uuid, domain: domJson(dom) });
    return true;
  },
};

export const domainCommands: Cmd[] = [
  autostart,
  create,
  define,
  destroy,
  domid,
  domname,
  domuuid,
  dumpxml,
  managedsave,
  managedsaveRemove,
  reboot,
  reset,
  restore,
  resume,
  save,
  shutdown,
  start,
  suspend,
  undefine,
];

export { domJson };
