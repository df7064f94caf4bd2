/**
 * The pure parts of graphics passwords and live graphics changes (driver/graphics.ts); the
 * QEMU side is src/rpc/spice-interop.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import type { GraphicsDef } from "../../../conf/domain/types.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import type { QmpClient } from "../monitor/index.ts";
import {
  checkGraphicsChange,
  graphicsPasswordChanged,
  networkListenAddress,
  setGraphicsPassword,
  withGraphicsPassword,
} from "./graphics.ts";

const domain = (devices: string) =>
  parseDomainXML(
    `<domain type='qemu'><name>g</name><memory>65536</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`,
    { document: "g.xml", noDefaults: true },
  ).def;
const graphics = (xml: string): GraphicsDef => domain(xml).devices.graphics[0]!;

/** Records the QMP commands a function sends. */
function recorder(): { qmp: QmpClient; sent: [string, unknown][] } {
  const sent: [string, unknown][] = [];
  const qmp = {
    execute: (cmd: string, args?: unknown) => {
      sent.push([cmd, args]);
      return Promise.resolve({});
    },
  } as unknown as QmpClient;
  return { qmp, sent };
}

test("set_password then expire_password, as libvirt's qemuDomainChangeGraphicsPasswords", async () => {
  const now = Date.UTC(2026, 0, 1);
  const cases: [string, object, [string, unknown][]][] = [
    ["<graphics type='vnc' port='5900' autoport='no'/>", {}, []],
    [
      "<graphics type='vnc' port='5900' autoport='no'/>",
      { vncPassword: "conf" },
      [
        ["set_password", { protocol: "vnc", password: "conf" }],
        ["expire_password", { protocol: "vnc", time: "never" }],
      ],
    ],
    [
      "<graphics type='spice' autoport='yes' passwd='p' passwdValidTo='2030-01-01T00:00:00' connected='disconnect'/>",
      { spicePassword: "conf" },
      [
        ["set_password", { protocol: "spice", password: "p", connected: "disconnect" }],
        ["expire_password", { protocol: "spice", time: String(Date.UTC(2030, 0, 1) / 1000) }],
      ],
    ],
    [
      "<graphics type='spice' autoport='yes' passwd='p' passwdValidTo='2001-01-01T00:00:00'/>",
      {},
      [
        ["set_password", { protocol: "spice", password: "p" }],
        ["expire_password", { protocol: "spice", time: "now" }],
      ],
    ],
    [
      "<graphics type='vnc' autoport='yes' passwd=''/>",
      {},
      [
        ["set_password", { protocol: "vnc", password: "" }],
        ["expire_password", { protocol: "vnc", time: "now" }],
      ],
    ],
  ];
  for (const [xml, conf, want] of cases) {
    const { qmp, sent } = recorder();
    await setGraphicsPassword(qmp, graphics(xml), conf, now);
    assert.deepEqual(sent, want, xml);
  }
});

test("passwdValidTo and connected are checked when the XML is read", () => {
  for (const [xml, reason] of [
    [
      "<graphics type='vnc' passwd='x' passwdValidTo='tomorrow'/>",
      "cannot parse password validity time 'tomorrow', expect YYYY-MM-DDTHH:MM:SS",
    ],
    [
      "<graphics type='vnc' passwd='x' passwdValidTo='2020-13-01T00:00:00'/>",
      "cannot parse password validity time",
    ],
    [
      "<graphics type='vnc' passwd='x' connected='disconnect'/>",
      "unsupported configuration: VNC supports connected='keep' only",
    ],
    [
      "<graphics type='spice' passwd='x' connected='later'/>",
      "unknown connected value later: expected fail, disconnect or keep",
    ],
  ] as const) {
    assert.throws(
      () => domain(xml),
      (e: unknown) => isVirtError(e) && e.message.includes(reason),
      xml,
    );
  }
});

test("a running guest's graphics change only their password (libvirt's messages otherwise)", () => {
  const live = domain(
    "<graphics type='spice' port='5901' tlsPort='5902' autoport='no' keymap='en-us'><listen type='address' address='127.0.0.1'/></graphics><graphics type='sdl'/>",
  );
  const base = "port='5901' tlsPort='5902' autoport='no' keymap='en-us'";
  const listen = "<listen type='address' address='127.0.0.1'/>";
  const old = checkGraphicsChange(
    live,
    graphics(`<graphics type='spice' ${base} passwd='n'>${listen}</graphics>`),
  );
  assert.equal(old, live.devices.graphics[0]);
  for (const [xml, message] of [
    [`<graphics type='vnc' port='5900'/>`, "cannot find existing graphics device to modify of type 'vnc'"],
    [`<graphics type='sdl'/>`, "unable to change config on 'sdl' graphics type"],
    [`<graphics type='spice' ${base}/>`, "cannot change listen address setting on spice graphics"],
    [
      `<graphics type='spice' ${base}>${listen}${listen}</graphics>`,
      "cannot change the number of listen addresses on 'spice' graphics",
    ],
    [
      `<graphics type='spice' ${base}><listen type='network' network='default'/></graphics>`,
      "cannot change the type of listen address on 'spice' graphics",
    ],
    [
      `<graphics type='spice' ${base.replace("5902", "5903")}>${listen}</graphics>`,
      "cannot change port settings on spice graphics",
    ],
    [
      `<graphics type='spice' ${base.replace("en-us", "de")}>${listen}</graphics>`,
      "cannot change keymap setting on spice graphics",
    ],
  ] as const) {
    assert.throws(
      () => checkGraphicsChange(live, graphics(xml)),
      (e: unknown) => isVirtError(e) && e.message.includes(message),
      xml,
    );
  }
  // what makes libvirt set the password again
  const g = live.devices.graphics[0]!;
  assert.equal(graphicsPasswordChanged(g, { ...g }), false);
  assert.equal(graphicsPasswordChanged(g, { ...g, passwd: "n" }), true);
  assert.equal(graphicsPasswordChanged(g, { ...g, connected: "disconnect" }), true);
  assert.equal(graphicsPasswordChanged(g, { ...g, passwdValidTo: "2030-01-01T00:00:00" }), true);
  const next = withGraphicsPassword(
    { ...g, passwd: "a", passwdValidTo: "2030-01-01T00:00:00" },
    { ...g, passwd: "b" },
  );
  assert.deepEqual([next.passwd, next.passwdValidTo, next.port], ["b", undefined, 5901]);
});

test("a graphics listen on a network binds the network's first IP address", () => {
  const net = (ips: string) => `<network><name>n</name><bridge name='virbr9'/>${ips}</network>`;
  assert.equal(
    networkListenAddress(
      "n",
      net(
        "<ip address='192.168.122.1' netmask='255.255.255.0'/><ip family='ipv6' address='2001:db8::1' prefix='64'/>",
      ),
    ),
    "192.168.122.1",
  );
  assert.throws(
    () => networkListenAddress("n", net("")),
    (e: unknown) => isVirtError(e) && /network 'n' has no IP address/.test(e.message),
  );
});
