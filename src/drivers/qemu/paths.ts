/**
 * Where the QEMU driver keeps its state, per URI root (../shared/DESIGN.md "State on disk"):
 * system (root daemon), session (per user, XDG dirs) and embed (everything under one root).
 */
import { homedir } from "node:os";
import { join } from "node:path";
import type { DomainPaths } from "./command/types.ts";

export type DriverRoot =
  | { readonly kind: "system" }
  | { readonly kind: "session" }
  | { readonly kind: "embed"; readonly root: string };

export interface DriverPaths {
  /** Persistent domain configs (`<name>.xml`) and `autostart/` links. */
  readonly configDir: string;
  readonly autostartDir: string;
  /** Live status XML per running domain. */
  readonly stateDir: string;
  /** Per-domain runtime dirs (`domain-<id>-<name>`), memory backing files. */
  readonly libDir: string;
  /** Logs: `<name>.log` per domain. */
  readonly logDir: string;
  /** Capability cache. */
  readonly cacheDir: string;
  /** File-backed guest memory (libvirt's memory_backing_dir). */
  readonly memoryBackingDir: string;
  /** Automatic unix channel sockets. */
  readonly channelDir: string;
  /** Saved images of managed save. */
  readonly saveDir: string;
}

function xdg(
  name: "XDG_CONFIG_HOME" | "XDG_RUNTIME_DIR" | "XDG_DATA_HOME" | "XDG_CACHE_HOME",
  fallback: string,
): string {
  const v = process.env[name];
  return v !== undefined && v !== "" ? v : fallback;
}

export function driverPaths(root: DriverRoot): DriverPaths {
  let etc: string, run: string, lib: string, log: string, cache: string;
  switch (root.kind) {
    case "system":
      etc = "/etc/tvirt/qemu";
      run = "/run/tvirt/qemu";
      lib = "/var/lib/tvirt/qemu";
      log = "/var/log/tvirt/qemu";
      cache = "/var/cache/tvirt/qemu";
      break;
    case "session": {
      const home = homedir();
      etc = join(xdg("XDG_CONFIG_HOME", join(home, ".config")), "tvirt", "qemu");
      run = join(xdg("XDG_RUNTIME_DIR", join(home, ".cache", "tvirt", "run")), "tvirt", "qemu");
      lib = join(xdg("XDG_DATA_HOME", join(home, ".local", "share")), "tvirt", "qemu");
      const c = join(xdg("XDG_CACHE_HOME", join(home, ".cache")), "tvirt");
      log = join(c, "log");
      cache = join(c, "qemu");
      break;
    }
    case "embed":
      etc = join(root.root, "etc", "qemu");
      run = join(root.root, "run", "qemu");
      lib = join(root.root, "lib", "qemu");
      log = join(root.root, "log", "qemu");
      cache = join(root.root, "cache", "qemu");
      break;
  }
  return {
    configDir: etc,
    autostartDir: join(etc, "autostart"),
    stateDir: run,
    libDir: lib,
    logDir: log,
    cacheDir: cache,
    memoryBackingDir: join(lib, "ram"),
    channelDir: join(lib, "channel", "target"),
    saveDir: join(lib, "save"),
  };
}

/** libvirt's short domain name for paths: `<id>-<first 20 chars of name>`. */
export function shortDomainName(id: number, name: string): string {
  return `${id}-${name.slice(0, 20)}`;
}

export function domainPaths(paths: DriverPaths, id: number, name: string): DomainPaths {
  const domainDir = join(paths.libDir, `domain-${shortDomainName(id, name)}`);
  return {
    domainDir,
    memoryDir: join(paths.memoryBackingDir, shortDomainName(id, name)),
    hugepageSubdir: join("tvirt", "qemu", shortDomainName(id, name)),
    channelDir: join(paths.channelDir, `domain-${shortDomainName(id, name)}`),
    masterKeyFile: join(domainDir, "master-key.aes"),
  };
}
