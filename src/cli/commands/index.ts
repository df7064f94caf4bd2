/**
 * The command table of tvirsh and virsh's own commands (help, connect, cd, pwd, quit, exit).
 */
import { homedir } from "node:os";
import type { Ctx } from "../context.ts";
import { byListOrder, commandHelp, groupHelp, groups, type CmdDef, type GroupKey } from "../grammar.ts";
import { consoleCmd } from "./console.ts";
import { domainCommands } from "./domain.ts";
import { domxmlToNative } from "./domxml-to-native.ts";
// edit / schema validation
import { editCommands } from "./edit.ts";
import { event } from "./event.ts";
import { graphicsCommands } from "./graphics.ts"; // graphical consoles
import { hostCommands } from "./host.ts";
import { cpuCommands } from "./cpu.ts";
import { blockJobCommands } from "./blockjob.ts"; // issue 20: block jobs
import { fleetCommands } from "./fleet.ts"; // issue 20: node CPU map/stats, vcpuinfo, ...
import { agentCommands } from "./agent.ts"; // issue 20: the guest agent's commands
// device hotplug
import { hotplugCommands } from "./hotplug.ts";
import { jobCommands } from "./jobs.ts"; // job control (issue 15)
import { migrateCommands } from "./migrate.ts"; // migration between hosts
import { monitorCommands } from "./monitor.ts";
import { networkCommands } from "./network.ts"; // virtual networks
import { netDoctor } from "./net-doctor.ts"; // network doctor
import { hugepages } from "./hugepages.ts"; // huge pages report
import { secretCommands } from "./secret.ts"; // secrets
import { nodedevCommands } from "./nodedev.ts"; // node devices
import { storagePoolCommands, storageVolCommands } from "./storage.ts"; // storage pools and volumes
import { tuningCommands } from "./tuning.ts"; // tuning and statistics
import { snapshotCommands } from "./snapshot.ts"; // domain snapshots
import { cgroupTuneCommands } from "./cgroup-tune.ts"; // cgroup tuning
import { webCommands } from "./web.ts"; // REST API (issue 16)

type Cmd = CmdDef<Ctx>;

const help: Cmd = {
  name: "help",
  group: "virsh",
  help: "print help",
  desc: "Prints global help, command specific help, or help for a\n    group of related commands",
  opts: [
    {
      name: "command",
      type: "string",
      help: "Prints global help, command specific help, or help for a group of related commands",
      complete: "command",
    },
  ],
  noConnect: true,
  run(ctx, cmd) {
    const name = cmd.raw("command");
    if (name === undefined || name === "") {
      let s = "Grouped commands:\n\n";
      for (const key of groupOrder) s += groupHelp(key, commandsOf(key)) + "\n";
      ctx.print(s);
      ctx.emit({ commands: allCommands.map((c) => ({ name: c.name, group: c.group, help: c.help })) });
      return Promise.resolve(true);
    }
    if (name in groups) {
      ctx.print(groupHelp(name as GroupKey, commandsOf(name as GroupKey)));
      ctx.emit({
        group: name,
        title: groups[name as GroupKey],
        commands: commandsOf(name as GroupKey).map((c) => ({ name: c.name, help: c.help })),
      });
      return Promise.resolve(true);
    }
    const def = findCommand(name);
    if (def) {
      ctx.print(commandHelp(def));
      ctx.emit({
        name: def.name,
        group: def.group,
        help: def.help,
        description: def.desc ?? null,
        options: [...def.opts, { name: "json", type: "bool", help: "print one JSON document" }].map((o) => ({
          name: o.name,
          type: o.type,
          required: "required" in o ? (o.required ?? false) : false,
          positional: o.type !== "bool" && !("named" in o && o.named),
          help: o.help,
        })),
      });
      return Promise.resolve(true);
    }
    return Promise.resolve(ctx.fail(`command or command group '${name}' doesn't exist`));
  },
};

const quit: Cmd = {
  name: "quit",
  group: "virsh",
  help: "quit this interactive terminal",
  opts: [],
  noConnect: true,
  run(ctx) {
    ctx.quitRequested = true;
    return Promise.resolve(true);
  },
};

const exit: Cmd = { ...quit, name: "exit" };

const cd: Cmd = {
  name: "cd",
  group: "virsh",
  help: "change the current directory",
  desc: "Change the current directory.",
  opts: [
    {
      name: "dir",
      type: "data",
      help: "directory to switch to (default: home or else root)",
      complete: "file",
    },
  ],
  noConnect: true,
  run(ctx, cmd) {
    if (!ctx.interactive) return Promise.resolve(ctx.fail("cd: command valid only in interactive mode"));
    const dir = cmd.raw("dir") ?? (homedir() || "/");
    try {
      process.chdir(dir);
    } catch {
      return Promise.resolve(ctx.fail(`cd: ${dir}: No such file or directory`));
    }
    return Promise.resolve(true);
  },
};

const pwd: Cmd = {
  name: "pwd",
  group: "virsh",
  help: "print the current directory",
  desc: "Print the current directory.",
  opts: [],
  noConnect: true,
  run(ctx) {
    ctx.print(`${process.cwd()}\n`);
    ctx.emit({ cwd: process.cwd() });
    return Promise.resolve(true);
  },
};

const connectCmd: Cmd = {
  name: "connect",
  group: "virsh",
  help: "(re)connect to hypervisor",
  desc: "Connect to local hypervisor. This is built-in command after shell start up.",
  opts: [
    { name: "name", type: "data", help: "hypervisor connection URI" },
    { name: "readonly", type: "bool", help: "read-only connection" },
  ],
  noConnect: true,
  async run(ctx, cmd) {
    const name = ctx.optString(cmd, "name");
    if (name === null) return false;
    if (name !== undefined) ctx.opts.uri = name;
    ctx.opts.readonly = cmd.bool("readonly");
    await ctx.close();
    try {
      await ctx.open(ctx.opts.uri, ctx.opts.readonly);
    } catch (e) {
      return ctx.fail("failed to connect to the hypervisor", e);
    }
    ctx.emit({ uri: ctx.conn?.uri ?? null, readonly: ctx.opts.readonly });
    return true;
  },
};

export const allCommands: Cmd[] = [
  ...domainCommands,
  ...migrateCommands, // migration between hosts
  consoleCmd,
  domxmlToNative,
  // edit / schema validation
  ...editCommands,
  event,
  ...monitorCommands,
  ...tuningCommands, // tuning and statistics
  ...cgroupTuneCommands, // cgroup tuning
  ...hostCommands,
  ...cpuCommands, // CPU models, baseline, compare
  ...fleetCommands, // issue 20: node CPU map/stats, vcpuinfo, ...
  ...agentCommands, // issue 20: the guest agent's commands
  ...blockJobCommands, // issue 20: blockcommit, blockcopy, blockjob, blockpull, blockresize
  ...networkCommands, // virtual networks
  netDoctor, // network doctor
  ...snapshotCommands, // domain snapshots
  hugepages, // huge pages report
  ...nodedevCommands, // node devices
  ...secretCommands, // secrets
  ...storagePoolCommands, // storage pools
  ...storageVolCommands, // storage volumes
  ...hotplugCommands, // device hotplug
  ...graphicsCommands, // graphical consoles
  ...jobCommands, // job control and migration tuning (issue 15)
  ...webCommands, // REST API (issue 16)
  cd,
  exit,
  help,
  pwd,
  quit,
  connectCmd,
];

const groupOrder: GroupKey[] = [
  "domain",
  "monitor",
  "host",
  "network",
  "nodedev",
  "secret",
  "snapshot",
  "pool",
  "volume",
  "virsh",
];

function commandsOf(key: GroupKey): Cmd[] {
  const list = allCommands.filter((c) => c.group === key);
  // virsh lists its own group and the storage ones in table order (their tables are not quite
  // alphabetical: find-storage-pool-sources-as comes first), the others alphabetically.
  return key === "virsh" || key === "pool" || key === "volume" ? list : [...list].sort(byListOrder);
}

export function findCommand(name: string): Cmd | undefined {
  return allCommands.find((c) => c.name === name);
}
