import { test } from "node:test";
import assert from "node:assert/strict";
import { assignAliases, parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { fakeCapsX86 } from "../../../testing/qemu/capabilities.ts";
import { Build } from "./build.ts";
import { hostCommandContext } from "./context.ts";
import { buildInterfaces } from "./net.ts";
import type { CommandContext } from "./types.ts";

const caps = fakeCapsX86(["virtio-net-pci"]);

function interfacesOf(iface: string, ctx: Partial<CommandContext> = {}): Build {
  const xml = `<domain type='qemu'>\n  <name>n</name>\n  <memory unit='MiB'>256</memory>\n  <memoryBacking>\n    <access mode='shared'/>\n  </memoryBacking>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n${iface}  </devices>\n</domain>\n`;
  const { def } = parseDomainXML(xml, { slirpPortForwards: true });
  assignAliases(def);
  return new Build(def, {
    ...hostCommandContext(caps, "n", { kind: "embed", root: "/tmp/tvirt-net-test" }),
    ...ctx,
  });
}

test("a custom tap path on an interface that has no tap is refused at start with libvirt's words", () => {
  const b = interfacesOf(
    "    <interface type='vhostuser'>\n      <mac address='52:54:00:ee:96:6b'/>\n      <source type='unix' path='/tmp/vhost0.sock' mode='server'/>\n      <model type='virtio'/>\n      <backend tap='/dev/mytap'/>\n    </interface>\n",
  );
  assert.throws(
    () => {
      buildInterfaces(b, () => undefined);
    },
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "unsupported configuration: interface 52:54:00:ee:96:6b - custom tap device path is not supported for network interfaces of type vhostuser",
  );
});

const user = (pfs: string): string =>
  `    <interface type='user'>\n      <mac address='52:54:00:00:00:01'/>\n${pfs}      <model type='virtio'/>\n    </interface>\n`;

function netdevOf(b: Build): unknown {
  buildInterfaces(b, () => undefined);
  const i = b.args.indexOf("-netdev");
  return JSON.parse(b.args[i + 1]!);
}

test("SLIRP port forwards become hostfwd rules, one per port, exclusions dropped", () => {
  const b = interfacesOf(
    user(
      "      <portForward proto='tcp' address='127.0.0.1'>\n        <range start='2222' to='22'/>\n        <range start='8000' end='8003' to='80'/>\n        <range start='8002' exclude='yes'/>\n      </portForward>\n" +
        "      <portForward proto='udp'>\n        <range start='5353'/>\n      </portForward>\n",
    ),
  );
  assert.deepEqual(netdevOf(b), {
    type: "user",
    hostfwd: [
      { str: "tcp:127.0.0.1:2222-:22" },
      { str: "tcp:127.0.0.1:8000-:80" },
      { str: "tcp:127.0.0.1:8001-:81" },
      { str: "tcp:127.0.0.1:8003-:83" },
      { str: "udp::5353-:5353" },
    ],
    id: "hostnet0",
  });
});

test("SLIRP port forwards SLIRP cannot do are refused with the reason", () => {
  const refused = (pf: string, reason: RegExp): void => {
    assert.throws(
      () => netdevOf(interfacesOf(user(pf))),
      (e: unknown) => {
        assert.ok(e instanceof VirtError, String(e));
        assert.equal(e.code, "QEMU_NET_SLIRP_PORT_FORWARD");
        assert.match(
          e.message,
          /^unsupported configuration: interface 52:54:00:00:00:01: <portForward proto='(tcp|udp)'>/,
        );
        assert.match(e.message, reason);
        return true;
      },
    );
  };
  refused(
    "      <portForward proto='tcp' dev='eth0'>\n        <range start='22'/>\n      </portForward>\n",
    /dev='eth0' is only supported by the passt backend/,
  );
  refused(
    "      <portForward proto='tcp' address='::1'>\n        <range start='22'/>\n      </portForward>\n",
    /'::1' is not an IPv4 address/,
  );
  refused(
    "      <portForward proto='tcp'>\n        <range start='30' end='20'/>\n      </portForward>\n",
    /end='20' is below start='30'/,
  );
  refused(
    "      <portForward proto='tcp'>\n        <range start='100' end='110' to='65530'/>\n      </portForward>\n",
    /past guest port 65535/,
  );
  refused(
    "      <portForward proto='tcp'>\n        <range start='22' exclude='yes'/>\n      </portForward>\n",
    /no <range> that is not excluded/,
  );
  refused(
    "      <portForward proto='tcp'>\n        <range start='22'/>\n      </portForward>\n      <portForward proto='tcp'>\n        <range start='22' to='23'/>\n      </portForward>\n",
    /host port 22 is forwarded twice/,
  );
  refused(
    "      <portForward proto='tcp'>\n        <range start='1' end='2000'/>\n      </portForward>\n",
    /more than 1024 ports/,
  );
});

test("port forward protocol and ports are checked when the XML is read", () => {
  const xml = (pf: string): string =>
    `<domain type='qemu'><name>n</name><memory>262144</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${user(pf)}</devices></domain>`;
  assert.throws(
    () =>
      parseDomainXML(xml("<portForward proto='sctp'><range start='22'/></portForward>"), {
        slirpPortForwards: true,
      }),
    /invalid value 'sctp' for .*portForward\/@proto/,
  );
  assert.throws(
    () =>
      parseDomainXML(xml("<portForward proto='tcp'><range start='70000'/></portForward>"), {
        slirpPortForwards: true,
      }),
    /invalid value '70000' for .*range\/@start.*from 1 to 65535/,
  );
  // without the extension: libvirt's error
  assert.throws(
    () => parseDomainXML(xml("<portForward proto='tcp'><range start='22'/></portForward>")),
    /The <portForward> element can only be used with the 'passt' backend/,
  );
});

test("an unprivileged bridge interface goes through qemu-bridge-helper", () => {
  const b = interfacesOf(
    "    <interface type='bridge'>\n      <mac address='52:54:00:00:00:02'/>\n      <source bridge='br0'/>\n      <model type='virtio'/>\n    </interface>\n",
    {
      interfaceBridgeHelper: (alias) =>
        alias === "net0" ? { bridge: "br0", helper: "/usr/lib/qemu/qemu-bridge-helper" } : undefined,
    },
  );
  assert.deepEqual(netdevOf(b), {
    type: "bridge",
    br: "br0",
    helper: "/usr/lib/qemu/qemu-bridge-helper",
    id: "hostnet0",
  });
});
