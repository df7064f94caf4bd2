/**
 * tvirtd's configuration file, in libvirtd.conf's syntax (`virconf.c`): `key = value` lines,
 * values are integers, "double-quoted strings" or [ "lists", "of", "strings" ], `#` comments.
 * The keys are libvirtd.conf's main knobs with libvirt's defaults (except the read-only socket
 * mode, 0666 rather than 0777, which grants the same access), plus some of tvirt's own:
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `unix_sock_group` | (root's group) | group owning the sockets; the read-write socket becomes 0660 unless `unix_sock_rw_perms` says otherwise |
 * | `unix_sock_rw_perms` | `"0600"` (`"0660"` with a group) | mode of the read-write socket |
 * | `unix_sock_ro_perms` | `"0666"` | mode of the read-only socket |
 * | `unix_sock_dir` | `/run/tvirt` (system), `$XDG_RUNTIME_DIR/tvirt` (session) | where tvirt's sockets go |
 * | `max_clients` | 5000 | connections beyond this are closed at once |
 * | `max_client_requests` | 5 | calls of one client processed concurrently |
 * | `keepalive_interval` / `keepalive_count` | 5 / 5 | seconds of silence before a PING; PINGs unanswered before disconnecting; interval -1 disables |
 * | `log_level` | 3 | 1 debug, 2 info, 3 warning, 4 error (applies to outputs without their own) |
 * | `log_outputs` | `"3:stderr"` (+ a log file for system and session instances; under systemd, the journal alone, with priorities: log.ts) | libvirt's syntax, e.g. `"1:file:/var/log/tvirt/tvirtd.log 3:stderr"` |
 * | `timeout` (tvirt) | 0 (session autostart: 120) | seconds without clients (and without running guests) before the daemon exits; 0 never |
 * | `compat_sockets` (tvirt) | 1 | also listen on libvirt's socket paths while no libvirt daemon answers there |
 * | `sysfs_root` (tvirt) | `"/sys"` | sysfs tree read and written for node devices and host device passthrough (tests point it at a fake tree) |
 * | `state_root` (tvirt) | (none) | keep the instance's guests and networks under this directory (`qemu:///embed`'s layout) instead of the system or user paths (tests point it at a temporary dir) |
 * | `user` / `group` (qemu.conf's) | `"tvirt-qemu"` / its primary group (system instance) | whom QEMU runs as in the system instance; a name or `"+N"`; `"root"` runs QEMU as root. Ignored by the session instance (QEMU runs as its user) |
 * | `dynamic_ownership` (qemu.conf's) | 1 | with a `user`: hand the files QEMU opens (images, kernel, ...) to it before start and give the original owners back at stop |
 * | `hugetlbfs_mount` (qemu.conf's) | the host's hugetlbfs mounts | a path or a list of paths: the hugetlbfs mounts guests' `<hugepages>` are backed by (one per page size) |
 * | `remote_display_port_min` / `_max` (qemu.conf's) | 5900 / 65535 | ports for VNC and SPICE with autoport |
 * | `remote_websocket_port_min` / `_max` (qemu.conf's) | 5700 / 65535 | ports for VNC websockets with `websocket='-1'` |
 * | `vnc_listen` / `spice_listen` (qemu.conf's) | `"127.0.0.1"` | address VNC / SPICE listen on when the XML names none |
 * | `vnc_password` / `spice_password` (qemu.conf's) | (none) | password of a VNC / SPICE display whose XML has no `passwd` |
 * | `spice_tls` / `spice_tls_x509_cert_dir` (qemu.conf's) | 0 / `"/etc/pki/libvirt-spice"` | SPICE TLS port (`tlsPort`, `defaultMode='secure'`) with the certificates of that dir (`ca-cert.pem`, `server-cert.pem`, `server-key.pem`) |
 * | `spice_sasl` / `spice_sasl_dir` (qemu.conf's) | 0 / `"/etc/sasl2"` | SASL authentication of SPICE clients |
 * | `spice_auto_unix_socket` / `vnc_auto_unix_socket` (qemu.conf's) | 0 | SPICE / VNC without a listen address listens on a UNIX socket in the guest's dir |
 * | `vnc_tls` / `vnc_tls_x509_cert_dir` / `vnc_tls_x509_verify` (qemu.conf's) | 0 / `"/etc/pki/libvirt-vnc"` / 0 | VNC over TLS with that dir's certificates, client certificates checked with verify |
 * | `vnc_sasl` / `vnc_sasl_dir` (qemu.conf's) | 0 / `"/etc/sasl2"` | SASL authentication of VNC clients |
 * | `vnc_allow_host_audio` / `nographics_allow_host_audio` (qemu.conf's) | 0 | a guest defined without `<audio>` with VNC / without graphics gets the host audio backend of tvirtd's `QEMU_AUDIO_DRV` (none added when unset) instead of `type='none'` |
 * | `web_listen_unix` (tvirt) | (none: the web face is off) | serve the web face (REST API, src/web) on this Unix socket, mode 0600 (0660 with `unix_sock_group`), e.g. `"/run/tvirt/tvirt-web.sock"` |
 * | `web_listen_tcp` (tvirt) | (none) | also serve it on `"ADDR:PORT"` (`"[ADDR6]:PORT"`); an address other than loopback needs `web_tls_cert` and `web_tls_key` |
 * | `web_tls_cert` / `web_tls_key` (tvirt) | (none) | PEM certificate (chain) and private key: `web_listen_tcp` speaks HTTPS |
 * | `web_token_file` (tvirt) | `/etc/tvirt/web-tokens.json` (system), `$XDG_CONFIG_HOME/tvirt/web-tokens.json` (session) | the bearer tokens the web face accepts (`tvirsh web-token create --token-file FILE NAME`); re-read when it changes |
 * | `web_uri` (tvirt) | the daemon's URI | the connection the web face serves (in-process, the daemon's own drivers) |
 *
 * SIGHUP (`systemctl reload tvirtd`) re-reads the file (main.ts `reloadConfig`): `log_level`,
 * `log_outputs`, `timeout`, the graphics port ranges and the graphics keys apply at once (to
 * guests started later); the token file is re-read whenever it changes; the socket keys, the
 * `web_*` listeners and TLS files,
 * `max_clients`, `max_client_requests`, `keepalive_*`, `compat_sockets`, `sysfs_root` and
 * `state_root` are read at start only (a change is logged as needing a restart). Under socket
 * activation the sockets are systemd's (systemd/tvirtd*.socket): the `unix_sock_*` keys apply
 * only to sockets tvirtd binds itself.
 *
 * Keys of libvirtd.conf that tvirtd does not implement (TCP/TLS listeners, SASL, polkit, admin
 * socket, worker pools) are accepted and reported as warnings; a TCP/TLS listener asked for is
 * refused, since clients would otherwise wait for a port that never opens.
 */
import { readFileSync } from "node:fs";
import { VirtError } from "../util/errors/index.ts";
import { clearListenError, parseListen, type WebListen } from "../web/listen.ts";
import { parseLogOutputs, type LogOutput } from "./log.ts";

export type ConfValue = number | string | string[];

export interface DaemonConfig {
  unixSockGroup: string | undefined;
  unixSockRwPerms: number | undefined;
  unixSockRoPerms: number;
  unixSockDir: string | undefined;
  maxClients: number;
  maxClientRequests: number;
  keepaliveInterval: number;
  keepaliveCount: number;
  logLevel: number;
  logOutputs: LogOutput[] | undefined;
  timeout: number | undefined;
  compatSockets: boolean;
  /** Host devices: sysfs root (`sysfs_root`, default `/sys`). */
  sysfsRoot: string | undefined;
  /** Driver state (guests, networks) under one directory instead of the instance's paths. */
  stateRoot: string | undefined;
  /** Graphics port ranges (qemu.conf's `remote_display_port_*`, `remote_websocket_port_*`). */
  displayPorts: { min: number; max: number };
  websocketPorts: { min: number; max: number };
  /** qemu.conf's graphics keys (`vnc_listen`, `spice_tls`, ...), as the QEMU driver takes them. */
  graphics: DaemonGraphics;
  /** qemu.conf's `user`, `group`, `dynamic_ownership` (system instance). */
  qemuUser: string | undefined;
  qemuGroup: string | undefined;
  dynamicOwnership: boolean;
  /** qemu.conf's `hugetlbfs_mount`: the hugetlbfs mounts guests' huge pages come from (default: the host's mounts). */
  hugetlbfsMounts: string[] | undefined;
  /** The web face (src/web): off unless a `web_listen_*` key is set. */
  webListenUnix: string | undefined;
  /** `web_listen_tcp` as written (`ADDR:PORT`), checked by `applyConf`. */
  webListenTcp: string | undefined;
  webTlsCert: string | undefined;
  webTlsKey: string | undefined;
  webTokenFile: string | undefined;
  webUri: string | undefined;
  /** Keys present but not implemented (reported at start). */
  ignored: string[];
}

export interface DaemonGraphics {
  vncListen?: string;
  spiceListen?: string;
  vncPassword?: string;
  spicePassword?: string;
  spiceTLS?: boolean;
  spiceTLSx509certdir?: string;
  spiceSASL?: boolean;
  spiceSASLdir?: string;
  spiceAutoUnixSocket?: boolean;
  vncAutoUnixSocket?: boolean;
  vncTLS?: boolean;
  vncTLSx509certdir?: string;
  vncTLSx509verify?: boolean;
  vncSASL?: boolean;
  vncSASLdir?: string;
  vncAllowHostAudio?: boolean;
  nogfxAllowHostAudio?: boolean;
}

export function defaultConfig(): DaemonConfig {
  return {
    unixSockGroup: undefined,
    unixSockRwPerms: undefined,
    unixSockRoPerms: 0o666,
    unixSockDir: undefined,
    maxClients: 5000,
    maxClientRequests: 5,
    keepaliveInterval: 5,
    keepaliveCount: 5,
    logLevel: 3,
    logOutputs: undefined,
    timeout: undefined,
    compatSockets: true,
    sysfsRoot: undefined,
    stateRoot: undefined,
    displayPorts: { min: 5900, max: 65535 },
    websocketPorts: { min: 5700, max: 65535 },
    graphics: {},
    qemuUser: undefined,
    qemuGroup: undefined,
    dynamicOwnership: true,
    hugetlbfsMounts: undefined,
    webListenUnix: undefined,
    webListenTcp: undefined,
    webTlsCert: undefined,
    webTlsKey: undefined,
    webTokenFile: undefined,
    webUri: undefined,
    ignored: [],
  };
}

/** Parses libvirt's conf syntax into key → value. */
export function parseConf(text: string, file: string): Map<string, ConfValue> {
  const out = new Map<string, ConfValue>();
  let i = 0;
  let line = 1;
  const fail = (reason: string): never => {
    throw new VirtError("DAEMON_CONFIG", { file, line, reason });
  };
  const skipBlank = (newlines: boolean): void => {
    while (i < text.length) {
      const c = text[i]!;
      if (c === "#") {
        while (i < text.length && text[i] !== "\n") i++;
      } else if (c === " " || c === "\t" || c === "\r") i++;
      else if (c === "\n" && newlines) {
        line++;
        i++;
      } else break;
    }
  };
  const scalar = (): number | string => {
    const c = text[i];
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0 || text.slice(i + 1, end).includes("\n")) fail("unterminated string");
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^[-+]?(0x[0-9a-fA-F]+|\d+)/.exec(text.slice(i));
    if (!m) return fail("expected a value");
    i += m[0].length;
    return Number(m[0]);
  };
  for (;;) {
    skipBlank(true);
    if (i >= text.length) break;
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i));
    if (!m) fail(`expected a setting name`);
    const key = m![0];
    i += key.length;
    skipBlank(false);
    if (text[i] !== "=") fail(`expected '=' after '${key}'`);
    i++;
    skipBlank(false);
    let value: ConfValue;
    if (text[i] === "[") {
      i++;
      const list: string[] = [];
      for (;;) {
        skipBlank(true);
        if (text[i] === "]") {
          i++;
          break;
        }
        const v = scalar();
        if (typeof v !== "string") fail(`list '${key}' takes strings`);
        list.push(v as string);
        skipBlank(true);
        if (text[i] === ",") i++;
        else if (text[i] !== "]") fail(`expected ',' or ']' in list '${key}'`);
      }
      value = list;
    } else value = scalar();
    skipBlank(false);
    if (i < text.length && text[i] !== "\n") fail(`unexpected text after '${key}'`);
    out.set(key, value);
  }
  return out;
}

function octal(file: string, key: string, v: ConfValue): number {
  if (typeof v !== "string" || !/^0?[0-7]{3}$/.test(v)) {
    throw new VirtError("DAEMON_CONFIG_VALUE", {
      file,
      key,
      reason: `expected an octal mode string like "0660"`,
    });
  }
  return parseInt(v, 8);
}

function integer(file: string, key: string, v: ConfValue, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: `expected an integer >= ${min}` });
  }
  return v;
}

function str(file: string, key: string, v: ConfValue): string {
  if (typeof v !== "string")
    throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: "expected a string" });
  return v;
}

const accepted = new Set([
  "listen_addr",
  "mdns_adv",
  "mdns_name",
  "unix_sock_admin_perms",
  "auth_unix_ro",
  "auth_unix_rw",
  "auth_tcp",
  "auth_tls",
  "access_drivers",
  "key_file",
  "cert_file",
  "ca_file",
  "crl_file",
  "tls_no_sanity_certificate",
  "tls_no_verify_certificate",
  "tls_allowed_dn_list",
  "tls_priority",
  "sasl_allowed_username_list",
  "max_queued_clients",
  "max_anonymous_clients",
  "min_workers",
  "max_workers",
  "prio_workers",
  "admin_min_workers",
  "admin_max_workers",
  "admin_max_clients",
  "admin_max_queued_clients",
  "admin_max_client_requests",
  "admin_keepalive_interval",
  "admin_keepalive_count",
  "log_filters",
  "audit_level",
  "audit_logging",
  "host_uuid",
  "host_uuid_source",
  "keepalive_required",
  "admin_keepalive_required",
  "ovs_timeout",
]);

/** Reads a configuration file (absent = defaults). */
export function loadConfig(file: string | undefined, mustExist = false): DaemonConfig {
  const cfg = defaultConfig();
  if (file === undefined) return cfg;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (!mustExist && (e as NodeJS.ErrnoException).code === "ENOENT") return cfg;
    throw new VirtError("DAEMON_CONFIG", { file, line: 0, reason: (e as Error).message });
  }
  return applyConf(cfg, parseConf(text, file), file);
}

export function applyConf(cfg: DaemonConfig, values: Map<string, ConfValue>, file: string): DaemonConfig {
  for (const [key, v] of values) {
    switch (key) {
      case "unix_sock_group":
        cfg.unixSockGroup = str(file, key, v);
        break;
      case "unix_sock_rw_perms":
        cfg.unixSockRwPerms = octal(file, key, v);
        break;
      case "unix_sock_ro_perms":
        cfg.unixSockRoPerms = octal(file, key, v);
        break;
      case "unix_sock_dir":
        cfg.unixSockDir = str(file, key, v);
        break;
      case "max_clients":
        cfg.maxClients = integer(file, key, v, 1);
        break;
      case "max_client_requests":
        cfg.maxClientRequests = integer(file, key, v, 1);
        break;
      case "keepalive_interval":
        cfg.keepaliveInterval = integer(file, key, v, -1);
        break;
      case "keepalive_count":
        cfg.keepaliveCount = integer(file, key, v, 0);
        break;
      case "log_level":
        cfg.logLevel = integer(file, key, v, 1);
        if (cfg.logLevel > 4)
          throw new VirtError("DAEMON_CONFIG_VALUE", {
            file,
            key,
            reason: "expected 1 (debug) to 4 (error)",
          });
        break;
      case "log_outputs":
        try {
          cfg.logOutputs = parseLogOutputs(str(file, key, v));
        } catch (e) {
          throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: (e as Error).message });
        }
        break;
      case "timeout":
        cfg.timeout = integer(file, key, v, 0);
        break;
      case "compat_sockets":
        cfg.compatSockets = integer(file, key, v, 0) !== 0;
        break;
      case "listen_tcp":
      case "listen_tls":
        if (integer(file, key, v, 0) !== 0) {
          throw new VirtError("DAEMON_CONFIG_VALUE", {
            file,
            key,
            reason: "tvirtd listens on UNIX sockets only (use ssh to reach it from another host)",
          });
        }
        break;
      case "sysfs_root": // host devices
        cfg.sysfsRoot = str(file, key, v);
        if (!cfg.sysfsRoot.startsWith("/"))
          throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: "expected an absolute path" });
        break;
      case "state_root":
        cfg.stateRoot = str(file, key, v);
        if (!cfg.stateRoot.startsWith("/"))
          throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: "expected an absolute path" });
        break;
      // graphics port ranges, with qemu.conf's limits
      case "remote_display_port_min":
        cfg.displayPorts.min = port(file, key, v, 5900);
        break;
      case "remote_display_port_max":
        cfg.displayPorts.max = port(file, key, v, 5900);
        break;
      case "remote_websocket_port_min":
        cfg.websocketPorts.min = port(file, key, v, 5700);
        break;
      case "remote_websocket_port_max":
        cfg.websocketPorts.max = port(file, key, v, 5700);
        break;
      // graphics (qemu.conf's)
      case "vnc_listen":
        cfg.graphics.vncListen = str(file, key, v);
        break;
      case "spice_listen":
        cfg.graphics.spiceListen = str(file, key, v);
        break;
      case "vnc_password":
        cfg.graphics.vncPassword = str(file, key, v);
        break;
      case "spice_password":
        cfg.graphics.spicePassword = str(file, key, v);
        break;
      case "spice_tls":
        cfg.graphics.spiceTLS = integer(file, key, v, 0) !== 0;
        break;
      case "spice_tls_x509_cert_dir":
        cfg.graphics.spiceTLSx509certdir = str(file, key, v);
        if (!cfg.graphics.spiceTLSx509certdir.startsWith("/"))
          throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: "expected an absolute path" });
        break;
      case "spice_sasl":
        cfg.graphics.spiceSASL = integer(file, key, v, 0) !== 0;
        cfg.graphics.spiceSASLdir ??= "/etc/sasl2";
        break;
      case "spice_sasl_dir":
        cfg.graphics.spiceSASLdir = str(file, key, v);
        break;
      case "spice_auto_unix_socket":
        cfg.graphics.spiceAutoUnixSocket = integer(file, key, v, 0) !== 0;
        break;
      case "vnc_auto_unix_socket":
        cfg.graphics.vncAutoUnixSocket = integer(file, key, v, 0) !== 0;
        break;
      case "vnc_tls":
        cfg.graphics.vncTLS = integer(file, key, v, 0) !== 0;
        break;
      case "vnc_tls_x509_cert_dir":
        cfg.graphics.vncTLSx509certdir = str(file, key, v);
        if (!cfg.graphics.vncTLSx509certdir.startsWith("/"))
          throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: "expected an absolute path" });
        break;
      case "vnc_tls_x509_verify":
        cfg.graphics.vncTLSx509verify = integer(file, key, v, 0) !== 0;
        break;
      case "vnc_sasl":
        cfg.graphics.vncSASL = integer(file, key, v, 0) !== 0;
        cfg.graphics.vncSASLdir ??= "/etc/sasl2";
        break;
      case "vnc_sasl_dir":
        cfg.graphics.vncSASLdir = str(file, key, v);
        break;
      case "vnc_allow_host_audio":
        cfg.graphics.vncAllowHostAudio = integer(file, key, v, 0) !== 0;
        break;
      case "nographics_allow_host_audio":
        cfg.graphics.nogfxAllowHostAudio = integer(file, key, v, 0) !== 0;
        break;
      // whom QEMU runs as (qemu.conf's)
      case "user":
      case "group": {
        const name = str(file, key, v);
        if (!/^(\+\d+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/.test(name))
          throw new VirtError("DAEMON_CONFIG_VALUE", {
            file,
            key,
            reason: `expected a ${key} name or "+N" for a numeric id`,
          });
        if (key === "user") cfg.qemuUser = name;
        else cfg.qemuGroup = name;
        break;
      }
      case "dynamic_ownership":
        cfg.dynamicOwnership = integer(file, key, v, 0) !== 0;
        break;
      // huge pages (qemu.conf's): a path, or a list of them (one per page size)
      case "hugetlbfs_mount": {
        const paths = Array.isArray(v) ? v : [str(file, key, v)];
        cfg.hugetlbfsMounts = paths.map((p) => absPath(file, key, p));
        break;
      }
      // the web face (tvirt)
      case "web_listen_unix":
        cfg.webListenUnix = absPath(file, key, v);
        break;
      case "web_listen_tcp": {
        const text = str(file, key, v);
        let l: WebListen;
        try {
          l = parseListen(text);
        } catch (e) {
          const reason = e instanceof VirtError ? String(e.values.reason) : String(e);
          throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: `'${text}': ${reason}` });
        }
        if ("path" in l)
          throw new VirtError("DAEMON_CONFIG_VALUE", {
            file,
            key,
            reason: 'expected "ADDR:PORT" (a Unix socket goes in web_listen_unix)',
          });
        cfg.webListenTcp = text;
        break;
      }
      case "web_tls_cert":
        cfg.webTlsCert = absPath(file, key, v);
        break;
      case "web_tls_key":
        cfg.webTlsKey = absPath(file, key, v);
        break;
      case "web_token_file":
        cfg.webTokenFile = absPath(file, key, v);
        break;
      case "web_uri":
        cfg.webUri = str(file, key, v);
        break;
      case "unix_sock_rw_perms_group":
        cfg.ignored.push(key);
        break;
      default:
        cfg.ignored.push(accepted.has(key) ? key : `${key} (unknown)`);
    }
  }
  for (const [name, r] of [
    ["remote_display_port", cfg.displayPorts],
    ["remote_websocket_port", cfg.websocketPorts],
  ] as const) {
    if (r.min > r.max)
      throw new VirtError("DAEMON_CONFIG_VALUE", {
        file,
        key: `${name}_min`,
        reason: `${name}_min (${r.min}) must not be greater than ${name}_max (${r.max})`,
      });
  }
  checkWeb(cfg, file);
  return cfg;
}

/** The web face's keys together: TLS files in pairs, TLS for any address beyond loopback. */
function checkWeb(cfg: DaemonConfig, file: string): void {
  if ((cfg.webTlsCert === undefined) !== (cfg.webTlsKey === undefined)) {
    const [set, missing] =
      cfg.webTlsCert !== undefined ? ["web_tls_cert", "web_tls_key"] : ["web_tls_key", "web_tls_cert"];
    throw new VirtError("DAEMON_CONFIG_VALUE", {
      file,
      key: missing,
      reason: `${set} is set without ${missing}: TLS needs both the certificate and its key`,
    });
  }
  if (cfg.webListenTcp !== undefined) {
    const clear = clearListenError(
      cfg.webListenTcp,
      parseListen(cfg.webListenTcp),
      cfg.webTlsCert !== undefined,
      {
        tls: "web_tls_cert and web_tls_key",
      },
    );
    // tvirsh web's refusal, in the configuration's terms (file and key)
    if (clear)
      throw new VirtError("DAEMON_CONFIG_VALUE", { file, key: "web_listen_tcp", reason: clear.detail });
  }
}

function absPath(file: string, key: string, v: ConfValue): string {
  const p = str(file, key, v);
  if (!p.startsWith("/"))
    throw new VirtError("DAEMON_CONFIG_VALUE", { file, key, reason: "expected an absolute path" });
  return p;
}

/** A TCP port of a graphics range: `min` (qemu.conf's lower bound) to 65535. */
function port(file: string, key: string, v: ConfValue, min: number): number {
  const n = integer(file, key, v, min);
  if (n > 65535)
    throw new VirtError("DAEMON_CONFIG_VALUE", {
      file,
      key,
      reason: "port must be less than or equal to 65535",
    });
  return n;
}

/** Resolves a group name (or number) through /etc/group. */
export function resolveGroup(name: string, groupFile = "/etc/group"): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = readFileSync(groupFile, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}
