import { test } from "node:test";
import assert from "node:assert/strict";
import { assignAliases, formatDomainXML, parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { domainWithDevices, fakeCapsX86 } from "../../../testing/qemu/capabilities.ts";
import { Build } from "./build.ts";
import { hostCommandContext } from "./context.ts";
import { buildCryptos, buildShmems } from "./shmem.ts";

const caps = fakeCapsX86(["virtio-crypto-pci"]);

const domain = domainWithDevices;

function built(devices: string): string[] {
  const { def } = parseDomainXML(domain(devices));
  assignAliases(def);
  const b = new Build(def, hostCommandContext(caps, "n", { kind: "embed", root: "/tmp/tvirt-shmem-test" }));
  buildShmems(b);
  buildCryptos(b);
  return b.args;
}

function refusal(xml: string): string {
  try {
    parseDomainXML(domain(xml));
  } catch (e) {
    assert.ok(e instanceof VirtError);
    return e.message;
  }
  return "accepted";
}

test("shmem: defaults (ivshmem-plain, 4 MiB; a doorbell's MSI with ioeventfd) and a PCI slot", () => {
  const { def } = parseDomainXML(
    domain(
      "    <shmem name='a'/>\n    <shmem name='b'>\n      <model type='ivshmem-doorbell'/>\n      <server/>\n    </shmem>\n",
    ),
  );
  const xml = formatDomainXML(def);
  assert.match(
    xml,
    /<shmem name='a'>\n\s+<model type='ivshmem-plain'\/>\n\s+<size unit='M'>4<\/size>\n\s+<address type='pci' [^>]*slot='0x0[2-9]'/,
  );
  assert.match(
    xml,
    /<shmem name='b'>\n\s+<model type='ivshmem-doorbell'\/>\n\s+<server\/>\n\s+<msi ioeventfd='on'\/>/,
  );
});

test("shmem: libvirt's refusals of a size, of MSI without a server and of a server on a plain region", () => {
  const size = "shmem size must be a power of 2 and at least 1 MiB (1024 KiB)";
  assert.equal(
    refusal("    <shmem name='a'>\n      <size unit='K'>16</size>\n    </shmem>\n"),
    `XML error: ${size}`,
  );
  assert.equal(
    refusal("    <shmem name='a'>\n      <size unit='M'>3</size>\n    </shmem>\n"),
    `XML error: ${size}`,
  );
  assert.equal(
    refusal("    <shmem name='a'>\n      <msi/>\n    </shmem>\n"),
    "XML error: msi option is only supported with a server",
  );
  assert.equal(
    refusal("    <shmem name='a'>\n      <model type='ivshmem-plain'/>\n      <server/>\n    </shmem>\n"),
    "XML error: shmem model 'ivshmem-plain' is supported only with server option disabled",
  );
  assert.equal(
    refusal("    <shmem name='a'>\n      <model type='ivshmem-doorbell'/>\n    </shmem>\n"),
    "XML error: shmem model 'ivshmem-doorbell' is supported only with server option enabled",
  );
});

test("shmem and crypto argv: a /dev/shm backend, the doorbell's server socket, a builtin crypto backend", () => {
  const args = built(
    "    <shmem name='s0' role='master'>\n      <size unit='M'>8</size>\n    </shmem>\n" +
      "    <shmem name='s1'>\n      <model type='ivshmem-doorbell'/>\n      <server/>\n      <msi vectors='4'/>\n    </shmem>\n" +
      "    <crypto model='virtio' type='qemu'>\n      <backend model='builtin' queues='2'/>\n    </crypto>\n",
  );
  const values = args.filter((_, i) => i % 2 === 1);
  assert.equal(
    values[0],
    '{"qom-type":"memory-backend-file","id":"shmmem-shmem0","mem-path":"/dev/shm/s0","size":8388608,"share":true}',
  );
  assert.match(
    values[1]!,
    /^\{"driver":"ivshmem-plain","id":"shmem0","memdev":"shmmem-shmem0","master":"on","bus":"pci.0"/,
  );
  assert.match(
    values[2]!,
    /^\{"driver":"ivshmem-doorbell","id":"shmem1","chardev":"charshmem1","vectors":4,"ioeventfd":true,"bus":"pci.0"/,
  );
  assert.equal(values[3], "socket,id=charshmem1,path=/var/lib/libvirt/shmem-s1-sock");
  assert.equal(values[4], '{"qom-type":"cryptodev-backend-builtin","id":"objcrypto0","queues":2}');
  assert.match(
    values[5]!,
    /^\{"driver":"virtio-crypto-pci","cryptodev":"objcrypto0","id":"crypto0","bus":"pci.0"/,
  );
});

test("shmem argv: only PCI addresses", () => {
  assert.throws(
    () => built("    <shmem name='s0'>\n      <address type='isa'/>\n    </shmem>\n"),
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "unsupported configuration: only 'pci' addresses are supported for the shared memory device",
  );
});
