/**
 * The JSON documents tvirsh prints with `--json`, one per command, as JSON Schema (a subset:
 * type, properties, required, additionalProperties, items, enum, oneOf). The CLI tests validate
 * every command's output against these, so they stay true. Schema version 1; fields are only
 * ever added.
 *
 * Conventions: state, reason and event names are lowercase identifiers (`shutoff`,
 * `destroyed`) with libvirt's numbers beside them (`stateCode`); ids of inactive domains are
 * null; sizes say their unit in the name (`memoryKiB`); 64-bit counters are decimal strings.
 * Every failure is `{"error": {...}}` (see `errorSchema`) and exits with status 1.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly (string | number | boolean | null)[];
  oneOf?: JsonSchema[];
  description?: string;
}

const str: JsonSchema = { type: "string" };
const int: JsonSchema = { type: "integer" };
const bool: JsonSchema = { type: "boolean" };
const nullable = (t: string): JsonSchema => ({ type: [t, "null"] });

function obj(properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema {
  return {
    type: "object",
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  };
}

/** A domain handle: `id` is null while the domain is not running. */
export const domainRefSchema = obj({ name: str, uuid: str, id: nullable("integer") });

/** Failures: the VirtError (catalogue code, libvirt's numbers) plus virsh's context line. */
export const errorSchema = obj({
  error: obj(
    {
      code: { type: "string", description: "stable catalogue code, e.g. DOMAIN_NOT_RUNNING" },
      kind: { type: "string", enum: ["user", "environment", "bug"] },
      message: { type: "string", description: "the text virsh would print after 'error: '" },
      virCode: { type: "integer", description: "libvirt's virErrorNumber" },
      virDomain: { type: "integer", description: "libvirt's virErrorDomain" },
      details: { type: "object", description: "structured facts: xpath, line, column, name, ..." },
      context: { type: "string", description: "virsh's first error line, when it differs from message" },
    },
    ["context"],
  ),
});

/** One change between two domain definitions (conf/domain/diff.ts). */
const changeSchema = obj(
  {
    kind: { type: "string", enum: ["added", "removed", "changed"] },
    subject: { type: "string", description: "the element or device, e.g. <memory>, disk 'vda'" },
    xpath: str,
    details: { type: "array", items: str },
    tag: str,
  },
  ["tag"],
);

const action = (name: string, extra: Record<string, JsonSchema> = {}): JsonSchema =>
  obj({ action: { type: "string", enum: [name] }, domain: domainRefSchema, ...extra });

/** A network handle (virtual networks). */
export const networkRefSchema = obj({ name: str, uuid: str });
const netAction = (name: string, extra: Record<string, JsonSchema> = {}): JsonSchema =>
  obj({ action: { type: "string", enum: [name] }, network: networkRefSchema, ...extra });

/** A storage pool handle. */
export const poolRefSchema = obj({ name: str, uuid: str });
/** A storage volume handle: its pool's name, its name and its key. */
export const volRefSchema = obj({ pool: str, name: str, key: str });
const poolAction = (name: string, extra: Record<string, JsonSchema> = {}): JsonSchema =>
  obj({ action: { type: "string", enum: [name] }, pool: poolRefSchema, ...extra });
const volAction = (name: string, extra: Record<string, JsonSchema> = {}): JsonSchema =>
  obj({ action: { type: "string", enum: [name] }, volume: volRefSchema, ...extra });
const xmlDump: JsonSchema = {
  oneOf: [obj({ xml: str }), obj({ xpath: str, nodes: { type: "array", items: str } })],
};
const bytesOrNull = nullable("integer");

const stateFields = {
  state: {
    type: "string",
    enum: ["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"],
  },
  stateCode: int,
};

const lifecycle = obj({ event: str, eventCode: int, detail: str, detailCode: int });

const eventRecord = obj(
  {
    event: { type: "string", description: "event type name as in `event --list`" },
    eventId: { type: "integer", description: "libvirt's virDomainEventID" },
    domain: domainRefSchema,
    timestamp: str,
    lifecycle,
    utcoffset: str,
    actualKiB: str,
    devAlias: str,
    ioError: obj({
      srcPath: str,
      devAlias: str,
      action: { type: "string", enum: ["none", "pause", "report", "unknown"] },
      reason: str,
    }),
    tray: { type: "string", enum: ["opened", "closed", "unknown"] },
    metadata: obj({ type: str, uri: nullable("string") }),
    agent: obj({
      state: { type: "string", enum: ["unknown", "connected", "disconnected"] },
      reason: { type: "string", enum: ["unknown", "domain started", "channel event"] },
    }),
    blockJob: obj({ disk: str, type: str, status: str }),
  },
  [
    "timestamp",
    "lifecycle",
    "utcoffset",
    "actualKiB",
    "devAlias",
    "ioError",
    "tray",
    "metadata",
    "agent",
    "blockJob",
  ],
);

/** Output schema of each command's `--json` document. */
/** nodedev-list --tree: a device and its children (recursive). */
const nodedevTreeNode: JsonSchema = {
  type: "object",
  properties: { name: str, children: { type: "array" } },
  required: ["name", "children"],
  additionalProperties: false,
};
nodedevTreeNode.properties!.children!.items = nodedevTreeNode;

export const commandSchemas: Record<string, JsonSchema> = {
  // edit / schema validation
  edit: {
    oneOf: [
      action("unchanged"),
      obj({
        action: { type: "string", enum: ["edited"] },
        domain: domainRefSchema,
        dropped: {
          type: "array",
          description: "parts of the edited XML tvirt does not know (left out of the definition)",
          items: obj({ code: str, xpath: str, line: int, message: str }),
        },
        normalised: {
          type: "array",
          description: "what the parser rewrote to canonical form",
          items: changeSchema,
        },
        defaults: { type: "array", description: "what the driver filled in", items: changeSchema },
        running: bool,
        appliesNow: {
          type: "array",
          description: "always empty: edit changes the persistent definition",
          items: changeSchema,
        },
        appliesAtNextBoot: {
          type: "array",
          description: "differences between the running (or old) configuration and the new definition",
          items: changeSchema,
        },
      }),
    ],
  },
  validate: obj({ file: str, schema: str, valid: bool }),
  // device hotplug (live/config: the scope the change was made in)
  "attach-device": action("attached", { file: str, live: bool, config: bool }),
  "detach-device": action("detached", { file: str, live: bool, config: bool }),
  "update-device": action("updated", { file: str, live: bool, config: bool }),
  "attach-disk": {
    oneOf: [obj({ xml: str }), action("attached", { target: str, xml: str, live: bool, config: bool })],
  },
  "detach-disk": {
    oneOf: [obj({ xml: str }), action("detached", { target: str, xml: str, live: bool, config: bool })],
  },
  "attach-interface": {
    oneOf: [obj({ xml: str }), action("attached", { xml: str, live: bool, config: bool })],
  },
  "detach-interface": {
    oneOf: [obj({ xml: str }), action("detached", { xml: str, live: bool, config: bool })],
  },
  "change-media": {
    oneOf: [
      obj({ xml: str }),
      obj({
        action: { type: "string", enum: ["eject", "insert", "update"] },
        domain: domainRefSchema,
        path: str,
        source: nullable("string"),
        live: bool,
        config: bool,
      }),
    ],
  },
  define: action("defined", {
    file: str,
    // what the definition left out: unknown elements and attributes (libvirt drops them silently)
    dropped: {
      type: "array",
      items: obj({
        code: { type: "string", enum: ["XML_UNKNOWN_ELEMENT", "XML_UNKNOWN_ATTRIBUTE"] },
        xpath: str,
        line: int,
        message: str,
      }),
    },
  }),
  create: action("created", { file: str }),
  undefine: action("undefined"),
  start: action("started"),
  shutdown: action("shutdown"),
  reboot: action("rebooted"),
  reset: action("reset"),
  destroy: action("destroyed"),
  suspend: action("suspended"),
  resume: action("resumed"),
  save: action("saved", { file: str }),
  restore: obj({ action: { type: "string", enum: ["restored"] }, file: str }),
  managedsave: action("managedsaved"),
  "managedsave-remove": action("managedsave-removed", { removed: bool }),
  autostart: {
    oneOf: [
      action("autostart-enabled", { autostart: bool }),
      action("autostart-disabled", { autostart: bool }),
    ],
  },
  dumpxml: { oneOf: [obj({ xml: str }), obj({ xpath: str, nodes: { type: "array", items: str } })] },
  domid: obj({ id: nullable("integer"), domain: domainRefSchema }),
  domname: obj({ name: str, domain: domainRefSchema }),
  domuuid: obj({ uuid: str, domain: domainRefSchema }),
  list: obj({
    domains: {
      type: "array",
      items: obj(
        {
          id: nullable("integer"),
          name: str,
          uuid: str,
          ...stateFields,
          reason: str,
          reasonCode: int,
          persistent: nullable("boolean"),
          autostart: nullable("boolean"),
          managedSave: nullable("boolean"),
          title: { type: "string", description: "only with --title" },
        },
        ["title"],
      ),
    },
  }),
  dominfo: obj(
    {
      id: nullable("integer"),
      name: str,
      uuid: str,
      osType: str,
      ...stateFields,
      cpus: int,
      cpuTimeNs: { type: "string", description: "CPU time used, nanoseconds (decimal string)" },
      cpuTimeSeconds: { type: "number" },
      maxMemoryKiB: int,
      usedMemoryKiB: int,
      persistent: nullable("boolean"),
      autostart: nullable("boolean"),
      managedSave: nullable("boolean"),
      security: {
        type: ["object", "null"],
        properties: { model: str, doi: str, label: str, enforcing: bool },
        required: ["model", "doi"],
        additionalProperties: false,
      },
      messages: { type: "array", items: str, description: "virDomainGetMessages (taints, deprecations)" },
      taints: { type: "array", items: str, description: "taint flags, e.g. custom-monitor" },
    },
    ["osType"],
  ),
  domstate: obj({ domain: domainRefSchema, ...stateFields, reason: str, reasonCode: int }),
  domblklist: obj({
    domain: domainRefSchema,
    disks: {
      type: "array",
      items: obj({
        type: nullable("string"),
        device: nullable("string"),
        target: str,
        source: nullable("string"),
      }),
    },
  }),
  domiflist: obj({
    domain: domainRefSchema,
    interfaces: {
      type: "array",
      items: obj({
        interface: nullable("string"),
        type: nullable("string"),
        source: nullable("string"),
        model: nullable("string"),
        mac: nullable("string"),
      }),
    },
  }),
  event: {
    oneOf: [
      obj({ eventTypes: { type: "array", items: str } }),
      obj({
        events: { type: "array", items: eventRecord },
        count: int,
        ended: { type: "string", enum: ["done", "timeout", "interrupt"] },
      }),
    ],
  },
  uri: obj({ uri: str }),
  hostname: obj({ hostname: str }),
  version: obj(
    {
      compiledAgainst: str,
      library: str,
      api: obj({ type: str, version: str }),
      hypervisor: obj({ type: str, version: nullable("string") }),
      daemon: str,
    },
    ["daemon"],
  ),
  nodeinfo: obj({
    cpuModel: str,
    cpus: int,
    mhz: int,
    sockets: int,
    coresPerSocket: int,
    threadsPerCore: int,
    numaCells: int,
    memoryKiB: int,
  }),
  capabilities: obj({ xml: str }),
  domcapabilities: obj({ xml: str }),
  // issue 20: node CPU map and statistics
  nodecpumap: obj({ present: int, online: int, onlineCpus: { type: "array", items: int } }),
  nodecpustats: obj(
    {
      cpu: nullable("integer"),
      user: int,
      system: int,
      idle: int,
      iowait: int,
      percent: obj(
        {
          usage: nullable("number"),
          user: nullable("number"),
          system: nullable("number"),
          idle: nullable("number"),
          iowait: nullable("number"),
        },
        ["user", "system", "iowait"],
      ),
    },
    ["user", "system", "idle", "iowait", "percent"],
  ),
  vcpuinfo: obj({
    domain: domainRefSchema,
    hostCpus: int,
    vcpus: {
      type: "array",
      items: obj({
        vcpu: int,
        cpu: nullable("integer"),
        state: nullable("string"),
        cpuTime: nullable("integer"),
        affinity: { type: "array", items: int },
      }),
    },
  }),
  desc: obj({
    domain: domainRefSchema,
    field: { type: "string", enum: ["description", "title"] },
    value: nullable("string"),
    updated: bool,
  }),
  metadata: obj(
    {
      domain: domainRefSchema,
      uri: { type: "string" },
      key: nullable("string"),
      metadata: nullable("string"),
      updated: bool,
    },
    ["key", "updated"],
  ),
  domtime: obj(
    {
      domain: domainRefSchema,
      set: bool,
      sync: bool,
      seconds: nullable("integer"),
      nseconds: int,
    },
    ["sync", "nseconds"],
  ),
  "inject-nmi": obj({ domain: domainRefSchema, injected: bool }),
  // the guest agent's commands
  "qemu-agent-command": obj({
    domain: domainRefSchema,
    result: { type: "string", description: "the agent's reply as it came (JSON text)" },
    reply: { description: "the reply parsed (null when it is not JSON, as after --async)" },
  }),
  "guest-agent-timeout": obj({ domain: domainRefSchema, timeout: int }),
  domfsfreeze: obj({ domain: domainRefSchema, mountpoints: { type: "array", items: str }, frozen: int }),
  domfsthaw: obj({ domain: domainRefSchema, mountpoints: { type: "array", items: str }, thawed: int }),
  domfsinfo: obj({
    domain: domainRefSchema,
    filesystems: {
      type: "array",
      items: obj({ mountpoint: str, name: str, fstype: str, targets: { type: "array", items: str } }),
    },
  }),
  guestinfo: obj({
    domain: domainRefSchema,
    info: {
      type: "object",
      description: "libvirt's typed parameters by name (user.count, os.id, fs.0.name, ...)",
      additionalProperties: { type: ["string", "integer", "boolean", "number"] },
    },
  }),
  "set-user-password": obj({ domain: domainRefSchema, user: str, encrypted: bool, set: bool }),
  guestvcpus: {
    oneOf: [
      obj({
        domain: domainRefSchema,
        vcpus: obj({ vcpus: str, online: str, offlinable: str }),
      }),
      obj({
        domain: domainRefSchema,
        cpulist: str,
        state: { type: "string", enum: ["enabled", "disabled"] },
      }),
    ],
  },
  // block jobs: started (no wait), or the outcome virsh prints after the wait
  blockcommit: obj({ domain: domainRefSchema, path: str, started: bool, active: bool, outcome: str }, [
    "started",
    "active",
    "outcome",
  ]),
  blockpull: obj({ domain: domainRefSchema, path: str, started: bool, outcome: str }, ["started", "outcome"]),
  blockcopy: obj({ domain: domainRefSchema, path: str, started: bool, outcome: str, xml: str }, [
    "started",
    "outcome",
    "xml",
  ]),
  blockjob: obj(
    {
      domain: domainRefSchema,
      path: str,
      job: {
        type: ["object", "null"],
        properties: {
          type: str,
          bandwidth: int,
          bandwidthUnit: { type: "string", enum: ["bytes/s", "MiB/s"] },
          cur: int,
          end: int,
        },
        required: ["type", "bandwidth", "bandwidthUnit", "cur", "end"],
        additionalProperties: false,
      },
      aborted: bool,
      pivot: bool,
      bandwidth: int,
      bytes: bool,
    },
    ["job", "aborted", "pivot", "bandwidth", "bytes"],
  ),
  blockresize: obj({ domain: domainRefSchema, path: str, size: int }),
  domifaddr: obj({
    domain: domainRefSchema,
    interfaces: {
      type: "array",
      items: obj({
        name: str,
        mac: nullable("string"),
        addresses: {
          type: "array",
          items: obj({ type: { type: "string", enum: ["ipv4", "ipv6"] }, address: str, prefix: int }),
        },
      }),
    },
  }),
  // CPU models, baseline, compare
  "cpu-models": obj({
    arch: str,
    models: { type: "array", items: str },
    anyModel: { type: "boolean", description: "the driver accepts any model for this arch" },
  }),
  "cpu-baseline": obj({ xml: str }),
  "hypervisor-cpu-baseline": obj({ xml: str }),
  "cpu-compare": obj({
    file: str,
    result: { type: "string", enum: ["incompatible", "identical", "superset"] },
  }),
  "hypervisor-cpu-compare": obj({
    file: str,
    result: { type: "string", enum: ["incompatible", "identical", "superset"] },
  }),
  "domxml-to-native": {
    oneOf: [
      obj({
        env: { type: "object", additionalProperties: str },
        emulator: str,
        args: { type: "array", items: str },
        warnings: { type: "array" },
      }),
      obj({ native: str }),
    ],
  },
  help: {
    oneOf: [
      obj({ commands: { type: "array", items: obj({ name: str, group: str, help: str }) } }),
      obj({ group: str, title: str, commands: { type: "array", items: obj({ name: str, help: str }) } }),
      obj({
        name: str,
        group: str,
        help: str,
        description: nullable("string"),
        options: {
          type: "array",
          items: obj({ name: str, type: str, required: bool, positional: bool, help: str }),
        },
      }),
    ],
  },
  connect: obj({ uri: nullable("string"), readonly: bool }),
  pwd: obj({ cwd: str }),
  // --- node devices ---
  // virtual networks
  "net-list": obj({
    networks: {
      type: "array",
      items: obj({ name: str, uuid: str, active: bool, persistent: bool, autostart: nullable("boolean") }),
    },
  }),
  "net-info": obj({
    name: str,
    uuid: str,
    active: bool,
    persistent: bool,
    autostart: nullable("boolean"),
    bridge: nullable("string"),
  }),
  "net-define": netAction("defined", { file: str }),
  "net-create": netAction("created", { file: str }),
  "net-start": netAction("started"),
  "net-destroy": netAction("destroyed"),
  "net-undefine": netAction("undefined"),
  "net-autostart": {
    oneOf: [netAction("autostart-enabled"), netAction("autostart-disabled")],
  },
  "net-dumpxml": {
    oneOf: [obj({ xml: str }), obj({ xpath: str, nodes: { type: "array", items: str } })],
  },
  "net-dhcp-leases": obj({
    network: networkRefSchema,
    leases: {
      type: "array",
      items: obj({
        iface: str,
        expirytime: int,
        type: int,
        mac: nullable("string"),
        iaid: nullable("string"),
        ipaddr: str,
        prefix: int,
        hostname: nullable("string"),
        clientid: nullable("string"),
      }),
    },
  }),
  "net-edit": {
    oneOf: [netAction("edited"), netAction("unchanged")],
  },
  "net-update": netAction("updated", {
    command: { type: "string", enum: ["modify", "delete", "add-last", "add-first"] },
    section: str,
    live: bool,
    config: bool,
  }),
  "net-event": {
    oneOf: [
      obj({ eventTypes: { type: "array", items: str } }),
      obj({
        events: {
          type: "array",
          items: obj(
            {
              event: str,
              network: networkRefSchema,
              lifecycle: obj({
                event: { type: "string", enum: ["defined", "undefined", "started", "stopped", "unknown"] },
                eventCode: int,
              }),
              timestamp: str,
            },
            ["timestamp"],
          ),
        },
        count: int,
        ended: { type: "string", enum: ["done", "timeout", "interrupt"] },
      }),
    ],
  },
  "net-port-list": obj({ network: networkRefSchema, ports: { type: "array", items: str } }),
  "net-port-create": obj({
    action: { type: "string", enum: ["created"] },
    port: obj({ network: networkRefSchema, uuid: str }),
    file: str,
  }),
  "net-port-delete": obj({
    action: { type: "string", enum: ["deleted"] },
    port: obj({ network: networkRefSchema, uuid: str }),
  }),
  "net-port-dumpxml": {
    oneOf: [obj({ xml: str }), obj({ xpath: str, nodes: { type: "array", items: str } })],
  },
  "net-uuid": obj({ uuid: str, name: str }),
  "net-name": obj({ name: str, uuid: str }),
  // storage pools and volumes
  "pool-list": obj({
    pools: {
      type: "array",
      items: obj({
        name: str,
        uuid: str,
        state: {
          type: "string",
          description: "virsh's State column: active/inactive, or running, ... with --details",
        },
        active: bool,
        persistent: nullable("boolean"),
        autostart: nullable("boolean"),
        capacity: bytesOrNull,
        allocation: bytesOrNull,
        available: bytesOrNull,
      }),
    },
  }),
  "pool-info": obj({
    name: str,
    uuid: str,
    state: str,
    persistent: nullable("boolean"),
    autostart: nullable("boolean"),
    capacity: bytesOrNull,
    allocation: bytesOrNull,
    available: bytesOrNull,
  }),
  "pool-define": poolAction("defined", { file: str }),
  "pool-create": poolAction("created", { file: str }),
  "pool-define-as": { oneOf: [poolAction("defined"), obj({ xml: str })] },
  "pool-create-as": { oneOf: [poolAction("created"), obj({ xml: str })] },
  "pool-start": poolAction("started"),
  "pool-build": poolAction("built"),
  "pool-destroy": poolAction("destroyed"),
  "pool-delete": poolAction("deleted"),
  "pool-refresh": poolAction("refreshed"),
  "pool-undefine": poolAction("undefined"),
  "pool-autostart": { oneOf: [poolAction("autostart-enabled"), poolAction("autostart-disabled")] },
  "pool-edit": { oneOf: [poolAction("edited"), poolAction("unchanged")] },
  "pool-dumpxml": xmlDump,
  "pool-uuid": obj({ uuid: str, name: str }),
  "pool-name": obj({ name: str, uuid: str }),
  "pool-capabilities": obj({ xml: str }),
  "pool-event": {
    oneOf: [
      obj({ eventTypes: { type: "array", items: str } }),
      obj({
        events: {
          type: "array",
          items: obj(
            {
              event: str,
              eventId: int,
              pool: poolRefSchema,
              timestamp: str,
              lifecycle: obj({ event: str, eventCode: int }),
            },
            ["timestamp", "lifecycle"],
          ),
        },
        count: int,
        ended: { type: "string", enum: ["done", "timeout", "interrupt"] },
      }),
    ],
  },
  "find-storage-pool-sources": obj({ type: str, xml: str }),
  "find-storage-pool-sources-as": obj({ type: str, xml: str }),
  "vol-list": obj({
    pool: poolRefSchema,
    volumes: {
      type: "array",
      items: obj({
        name: str,
        key: str,
        path: nullable("string"),
        type: nullable("string"),
        capacity: bytesOrNull,
        allocation: bytesOrNull,
      }),
    },
  }),
  "vol-info": obj({ volume: volRefSchema, type: str, capacity: int, allocation: int, physical: int }, [
    "allocation",
    "physical",
  ]),
  "vol-create": volAction("created", { file: str }),
  "vol-create-as": { oneOf: [volAction("created"), obj({ xml: str })] },
  "vol-create-from": volAction("created", { from: volRefSchema, file: str }),
  "vol-clone": { oneOf: [volAction("cloned", { from: volRefSchema }), obj({ xml: str })] },
  "vol-delete": volAction("deleted"),
  "vol-wipe": volAction("wiped", { algorithm: str }),
  "vol-resize": volAction("resized", { capacity: int, delta: bool }),
  "vol-upload": volAction("uploaded", { file: str, bytes: int }),
  "vol-download": volAction("downloaded", { file: str, bytes: int }),
  "vol-dumpxml": xmlDump,
  "vol-path": obj({ path: str, volume: volRefSchema }),
  "vol-key": obj({ key: str, volume: volRefSchema }),
  "vol-name": obj({ name: str, volume: volRefSchema }),
  "vol-pool": obj({ pool: poolRefSchema, volume: volRefSchema }),
  // network doctor (tvirt)
  "net-doctor": obj({
    ok: bool,
    networks: { type: "array", items: obj({ name: str, active: bool, bridge: str }, ["bridge"]) },
    findings: {
      type: "array",
      items: obj({
        kind: {
          enum: [
            "ip-forward-off",
            "forward-policy-drop",
            "address-clash",
            "dnsmasq-not-running",
            "bridge-down",
            "bridge-missing",
          ],
        },
        severity: { enum: ["error", "warning"] },
        networks: { type: "array", items: str },
        message: str,
        fix: { type: "array", items: str },
      }),
    },
  }),
  "nodedev-list": obj(
    {
      devices: { type: "array", items: obj({ name: str, parent: nullable("string") }, ["parent"]) },
      tree: { type: "array", items: nodedevTreeNode },
    },
    ["tree"],
  ),
  "nodedev-dumpxml": {
    oneOf: [obj({ xml: str }), obj({ xpath: str, nodes: { type: "array", items: str } })],
  },
  "nodedev-detach": obj({ device: str, detached: bool }),
  "nodedev-reattach": obj({ device: str, reattached: bool }),
  "nodedev-reset": obj({ device: str, reset: bool }),
  // --- tuning and statistics ----------------------------------------------------------------
  setmem: obj({ domain: domainRefSchema, memoryKiB: int, flags: int }),
  setmaxmem: obj({ domain: domainRefSchema, maxMemoryKiB: int, flags: int }),
  setvcpus: obj({ domain: domainRefSchema, count: int, flags: int }),
  vcpucount: {
    oneOf: [
      obj({
        domain: domainRefSchema,
        maximum: obj({ config: nullable("integer"), live: nullable("integer") }),
        current: obj({ config: nullable("integer"), live: nullable("integer") }),
      }),
      obj({ domain: domainRefSchema, count: int, flags: int }),
    ],
  },
  dommemstat: {
    oneOf: [
      obj({ domain: domainRefSchema, stats: { type: "object", additionalProperties: str } }),
      obj({ domain: domainRefSchema, period: int, flags: int }),
    ],
  },
  hugepages: obj(
    {
      memTotalKiB: int,
      defaultSizeKiB: int,
      mounts: { type: "array", items: obj({ path: str, sizeKiB: int, default: bool }) },
      pools: {
        type: "array",
        items: obj({
          sizeKiB: int,
          default: bool,
          total: int,
          free: int,
          reserved: int,
          surplus: int,
          overcommit: int,
          nodes: { type: "array", items: obj({ node: int, total: int, free: int, surplus: int }) },
          mounts: { type: "array", items: str },
        }),
      },
      transparent: str,
      advice: {
        type: "array",
        items: obj({
          severity: { type: "string", enum: ["warning", "info"] },
          message: str,
          fix: { type: "array", items: str },
        }),
      },
    },
    ["defaultSizeKiB", "transparent"],
  ),
  // cgroup tuning: typed parameters by name (64-bit numbers as decimal strings; memtune's
  // unlimited is null, sizes in KiB)
  memtune: {
    oneOf: [
      obj({
        domain: domainRefSchema,
        parameters: { type: "object", additionalProperties: nullable("string") },
        unit: str,
      }),
      obj({ domain: domainRefSchema, set: { type: "object", additionalProperties: str } }),
    ],
  },
  schedinfo: obj({
    domain: domainRefSchema,
    scheduler: str,
    parameters: { type: "object", additionalProperties: { type: ["string", "integer"] } },
  }),
  blkiotune: {
    oneOf: [
      obj({
        domain: domainRefSchema,
        parameters: { type: "object", additionalProperties: { type: ["string", "integer"] } },
      }),
      obj({
        domain: domainRefSchema,
        set: { type: "object", additionalProperties: { type: ["string", "integer"] } },
      }),
    ],
  },
  domblkstat: obj({
    domain: domainRefSchema,
    device: str,
    stats: { type: "object", additionalProperties: str },
  }),
  domifstat: obj({
    domain: domainRefSchema,
    interface: str,
    stats: { type: "object", additionalProperties: str },
  }),
  domstats: obj({
    domains: {
      type: "array",
      items: obj({ domain: domainRefSchema, stats: { type: "object" } }),
    },
  }),
  "qemu-monitor-command": obj({ domain: domainRefSchema, result: str, returnValue: {} }, ["returnValue"]),
  "qemu-monitor-event": obj({
    events: {
      type: "array",
      items: obj({ event: str, seconds: str, micros: int, domain: domainRefSchema, details: {} }),
    },
    count: int,
    ended: { type: "string", enum: ["done", "timeout", "interrupt"] },
  }),
  // graphical consoles
  vncdisplay: obj({ display: str, address: nullable("string"), port: int, domain: domainRefSchema }),
  domdisplay: obj({ uris: { type: "array", items: str }, domain: domainRefSchema }),
  screenshot: obj({ file: str, mime: str, bytes: int, domain: domainRefSchema }),
  "send-key": obj({
    codeset: int,
    holdtime: int,
    keycodes: { type: "array", items: int },
    domain: domainRefSchema,
  }),
  // REST API (issue 16)
  web: obj({ uri: str, listen: str, openapi: str }),
  "web-token": {
    oneOf: [
      obj({ name: str, readOnly: bool, created: str, token: str }),
      obj({ name: str, revoked: bool }),
      obj({ tokens: { type: "array", items: obj({ name: str, readOnly: bool, created: str }) } }),
    ],
  },
};

/** Validates `value` against `schema`; returns the problems found (empty = valid). */
export function validate(value: unknown, schema: JsonSchema, path = "$"): string[] {
  if (schema.oneOf) {
    const results = schema.oneOf.map((s) => validate(value, s, path));
    if (results.some((r) => r.length === 0)) return [];
    return [
      `${path}: matches none of ${schema.oneOf.length} alternatives (${results.map((r) => r[0] ?? "").join("; ")})`,
    ];
  }
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual =
      value === null
        ? "null"
        : Array.isArray(value)
          ? "array"
          : Number.isInteger(value)
            ? "integer"
            : typeof value;
    const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
    if (!ok) return [`${path}: expected ${types.join("|")}, got ${actual}`];
  }
  if (schema.enum && !schema.enum.includes(value as string))
    problems.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) problems.push(`${path}.${r}: missing`);
    for (const [k, v] of Object.entries(o)) {
      const sub = schema.properties?.[k];
      if (sub) problems.push(...validate(v, sub, `${path}.${k}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${k}: not in the schema`);
      else if (typeof schema.additionalProperties === "object")
        problems.push(...validate(v, schema.additionalProperties, `${path}.${k}`));
    }
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => problems.push(...validate(v, schema.items!, `${path}[${i}]`)));
  return problems;
}
