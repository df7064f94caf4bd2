/**
 * `<devices>`: dispatches each child to its parser and keeps libvirt's list semantics
 * (controllers kept grouped by type and sorted by index, as libvirt inserts them).
 */
import { parsePstore } from "./pstore.ts";
import type { XmlElement } from "../xml.ts";
import type { ControllerDef, Devices } from "./types.ts";
import { insertDisk, parseController, parseDisk } from "./parse-disk.ts";
import { parseInterface } from "./parse-net.ts";
import { parseChr } from "./parse-chr.ts";
import { parseHostdev } from "./parse-hostdev.ts";
import { parseFilesystem } from "./parse-fs.ts";
import { parseAudio, parseGraphics, parseInput, parseSound, parseVideo } from "./parse-media.ts";
import {
  parseHub,
  parseIommu,
  parseMemballoon,
  parseMemoryDevice,
  parsePanic,
  parseRedirdev,
  parseSmartcard,
  parseRedirFilter,
  parseRng,
  parseTpm,
  parseVsock,
  parseWatchdog,
} from "./parse-misc.ts";
import { structural } from "./reader.ts";
import { parseLease } from "./lease.ts";
import { parseCrypto, parseShmem } from "./shmem.ts";
import { VirtError } from "../../util/errors/index.ts";

export function emptyDevices(): Devices {
  return {
    disks: [],
    controllers: [],
    filesystems: [],
    interfaces: [],
    serials: [],
    parallels: [],
    consoles: [],
    channels: [],
    inputs: [],
    tpms: [],
    graphics: [],
    sounds: [],
    audios: [],
    videos: [],
    hostdevs: [],
    redirdevs: [],
    hubs: [],
    watchdogs: [],
    rngs: [],
    panics: [],
    memories: [],
  };
}

/**
 * Inserts a controller where libvirt would (virDomainControllerInsertPreAlloced): after the last
 * controller of the same type whose index is not greater, before the first one with a greater
 * index; a USB2 master (no `<master>`) goes before the companions sharing its index; at the end
 * if none of its type. One still unindexed (-1) goes right after the last of its type.
 */
export function insertController(list: ControllerDef[], c: ControllerDef): void {
  let at = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    const cur = list[i]!;
    if (cur.type !== c.type) continue;
    if (c.index === -1) {
      at = i + 1;
      break;
    }
    if (cur.index > c.index) at = i;
    else if (!c.master && cur.master && cur.index === c.index) at = i;
    else if (at === -1) at = i + 1;
  }
  if (at === -1) list.push(c);
  else list.splice(at, 0, c);
}

function checkUsbNone(d: Devices, c: ControllerDef, el: XmlElement): void {
  if (c.type !== "usb") return;
  const hasNone = d.controllers.some((x) => x.type === "usb" && x.model === "none");
  if (hasNone || (c.model === "none" && d.controllers.some((x) => x.type === "usb"))) {
    throw new VirtError(
      "DOMAIN_USB_DISABLED_CONTROLLER",
      {},
      { xpath: el.xpath, line: el.line, column: el.column },
    );
  }
}

function addController(d: Devices, el: XmlElement): void {
  const parsed = parseController(el);
  const { indexGiven, ...c } = parsed;
  checkUsbNone(d, c, el);
  if (!indexGiven) {
    // libvirt keeps it unindexed (-1) right after the last controller of its type and gives it
    // the lowest unused index once all are read.
    c.index = -1;
    insertController(d.controllers, c);
    return;
  }
  if (c.type !== "usb" && d.controllers.some((x) => x.type === c.type && x.index === c.index)) {
    throw new VirtError(
      "DOMAIN_CONTROLLER_INDEX_DUPLICATE",
      { type: c.type, index: c.index },
      { xpath: el.xpath, line: el.line, column: el.column },
    );
  }
  insertController(d.controllers, c);
}

type Handler = (d: Devices, el: XmlElement) => void;

const handlers: Readonly<Record<string, Handler>> = {
  disk: (d, el) => {
    insertDisk(d.disks, parseDisk(el));
  },
  controller: addController,
  lease: (d, el) => (d.leases ??= []).push(parseLease(el)),
  filesystem: (d, el) => d.filesystems.push(parseFilesystem(el)),
  interface: (d, el) => d.interfaces.push(parseInterface(el)),
  serial: (d, el) => d.serials.push(parseChr(el)),
  parallel: (d, el) => d.parallels.push(parseChr(el)),
  console: (d, el) => d.consoles.push(parseChr(el)),
  channel: (d, el) => d.channels.push(parseChr(el)),
  input: (d, el) => d.inputs.push(parseInput(el)),
  tpm: (d, el) => d.tpms.push(parseTpm(el)),
  graphics: (d, el) => d.graphics.push(parseGraphics(el)),
  sound: (d, el) => d.sounds.push(parseSound(el)),
  audio: (d, el) => {
    const a = parseAudio(el);
    if (d.audios.some((x) => x.id === a.id)) throw structural(el, `audio id ${a.id} is used twice`);
    d.audios.push(a);
  },
  video: (d, el) => {
    const v = parseVideo(el);
    if (!v.model.primary) {
      d.videos.push(v);
      return;
    }
    if (d.videos[0]?.model.primary) {
      throw new VirtError(
        "DOMAIN_VIDEO_PRIMARY_MULTIPLE",
        {},
        { xpath: el.xpath, line: el.line, column: el.column },
      );
    }
    d.videos.unshift(v);
  },
  hostdev: (d, el) => d.hostdevs.push(parseHostdev(el)),
  redirdev: (d, el) => d.redirdevs.push(parseRedirdev(el)),
  smartcard: (d, el) => (d.smartcards ??= []).push(parseSmartcard(el)),
  redirfilter: (d, el) => {
    if (d.redirfilter) throw structural(el, "only one <redirfilter> is allowed");
    d.redirfilter = parseRedirFilter(el);
  },
  hub: (d, el) => d.hubs.push(parseHub(el)),
  watchdog: (d, el) => d.watchdogs.push(parseWatchdog(el)),
  memballoon: (d, el) => {
    if (d.memballoon) throw structural(el, "only one <memballoon> is allowed");
    d.memballoon = parseMemballoon(el);
  },
  rng: (d, el) => d.rngs.push(parseRng(el)),
  panic: (d, el) => d.panics.push(parsePanic(el)),
  shmem: (d, el) => (d.shmems ??= []).push(parseShmem(el)),
  memory: (d, el) => d.memories.push(parseMemoryDevice(el)),
  iommu: (d, el) => {
    if (d.iommu) throw structural(el, "only one <iommu> is allowed");
    d.iommu = parseIommu(el);
  },
  vsock: (d, el) => {
    if (d.vsock) throw structural(el, "only one <vsock> is allowed");
    d.vsock = parseVsock(el);
  },
  crypto: (d, el) => (d.cryptos ??= []).push(parseCrypto(el)),
  pstore: (d, el) => {
    if (d.pstore) throw structural(el, "only one <pstore> is allowed");
    d.pstore = parsePstore(el);
  },
};

/** Device kinds in libvirt's parse order (all of one kind before the next). */
const ORDER = Object.keys(handlers);

export function parseDevices(el: XmlElement | undefined): Devices {
  const d = emptyDevices();
  if (!el) return d;
  const emulator = el.child("emulator");
  if (emulator) {
    const path = emulator.content;
    if (path !== "") d.emulator = path;
  }
  for (const name of ORDER) {
    for (const c of el.children) {
      if (c.name !== name) continue;
      c.used = true;
      handlers[name]!(d, c);
    }
  }
  return d;
}
