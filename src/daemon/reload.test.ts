/**
 * SIGHUP's configuration reload (main.ts `reloadConfig`): what changes at once (log level and
 * outputs, timeout, graphics port ranges, updated in place where the QEMU driver's allocators
 * read them), what is reported as needing a restart, and that a bad file changes nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { PortAllocator } from "../host/ports.ts";
import { defaultConfig, type DaemonConfig } from "./config.ts";
import { Logger, type LogOutput } from "./log.ts";
import { reloadConfig } from "./main.ts";

test("reloadConfig applies the runtime keys, reports the start-only ones, refuses a bad file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-reload-"));
  try {
    const conf = join(dir, "tvirtd.conf");
    const logFile = join(dir, "tvirtd.log");
    const outputs = (c: DaemonConfig): LogOutput[] => [
      { priority: c.logLevel as LogOutput["priority"], dest: { kind: "file", path: logFile } },
    ];
    const cfg = defaultConfig();
    const log = new Logger(outputs(cfg));
    const timeouts: number[] = [];
    const daemon = {
      setTimeout: (s: number): void => {
        timeouts.push(s);
      },
    };
    // the driver's allocator holds the very range object the daemon passed at start
    const display = new PortAllocator("display", cfg.displayPorts, () => Promise.resolve(true));
    const websocket = new PortAllocator("webSocket", cfg.websocketPorts, () => Promise.resolve(true));
    const target = { cfg, log, daemon, outputs, timeoutFromArgs: false };

    log.debug("before: not logged at level 3");
    writeFileSync(
      conf,
      [
        "log_level = 1",
        "timeout = 7",
        "remote_display_port_min = 6000",
        "remote_display_port_max = 6010",
        "remote_websocket_port_min = 5800",
        'unix_sock_dir = "/elsewhere"',
        "max_clients = 10",
        "",
      ].join("\n"),
    );
    const r = reloadConfig(conf, true, target);
    assert.deepEqual(r, { ok: true, restart: ["unix_sock_dir", "max_clients"] });
    log.debug("after: logged at level 1");
    assert.equal(cfg.logLevel, 1);
    assert.deepEqual(timeouts, [7]);
    assert.equal(await display.acquire(), 6000, "the allocator sees the new range");
    assert.equal(await websocket.acquire(), 5800);
    assert.equal(cfg.unixSockDir, undefined, "a start-only key is not applied");
    assert.equal(cfg.maxClients, 5000);
    const text = readFileSync(logFile, "utf8");
    assert.doesNotMatch(text, /before: not logged/);
    assert.match(text, /debug : after: logged at level 1/);
    assert.match(text, /warning : SIGHUP: unix_sock_dir changed in .*: restart tvirtd to apply it/);
    assert.match(text, /info : SIGHUP: configuration reloaded from .* \(log level 1\)/);

    // --timeout on the command line wins over the file's timeout
    writeFileSync(conf, "log_level = 1\ntimeout = 9\n");
    assert.equal(reloadConfig(conf, true, { ...target, timeoutFromArgs: true }).ok, true);
    assert.deepEqual(timeouts, [7]);
    assert.deepEqual(cfg.displayPorts, { min: 5900, max: 65535 }, "a key removed: its default again");

    // a file that does not parse (or has a bad value) leaves everything as it was
    writeFileSync(conf, "log_level = 3\nremote_display_port_min = 7000\nremote_display_port_max = 6000\n");
    assert.deepEqual(reloadConfig(conf, true, target), { ok: false, restart: [] });
    assert.equal(cfg.logLevel, 1);
    assert.deepEqual(cfg.displayPorts, { min: 5900, max: 65535 });
    assert.match(
      readFileSync(logFile, "utf8"),
      /error : SIGHUP: configuration not reloaded: .*remote_display_port_min/,
    );
    log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
