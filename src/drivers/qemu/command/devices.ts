/**
 * The remaining devices: inputs, audio backends and sound cards, watchdogs, USB redirection and
 * hubs, the memory balloon, RNGs, panic devices, vsock, IOMMU, TPM, vmcoreinfo.
 */
import type {
  AudioDef,
  AudioIo,
  InputDef,
  LaunchSecurity,
  RedirFilterRule,
  TpmDef,
} from "../../../conf/domain/types.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag, unsupported } from "./build.ts";
import { buildChardev } from "./chardev.ts";
import { escapeComma, Props } from "./escape.ts";
import { audioIdFor } from "./graphics.ts";
import { virtioProps } from "./virtio.ts";

const USB_INPUTS: Record<string, string> = { mouse: "usb-mouse", tablet: "usb-tablet", keyboard: "usb-kbd" };
const VIRTIO_INPUTS: Record<string, string> = {
  mouse: "virtio-mouse",
  tablet: "virtio-tablet",
  keyboard: "virtio-keyboard",
  passthrough: "virtio-input-host",
};

function inputElement(i: InputDef): string {
  return `input ${i.alias ?? i.type}`;
}

export function buildInputs(b: Build): void {
  for (const i of b.def.devices.inputs) {
    if (i.type === "evdev") {
      const p = new Props()
        .set("qom-type", "input-linux")
        .set("id", i.alias ?? "")
        .set("evdev", i.source?.dev ?? i.source?.evdev ?? "")
        .opt("repeat", i.source?.repeat);
      if (i.source?.grab === "all") p.set("grab_all", true);
      if (i.source?.grabToggle !== undefined) p.set("grab-toggle", i.source.grabToggle);
      b.addJson("-object", p);
      continue;
    }
    switch (i.bus ?? "ps2") {
      case "usb": {
        const driver = USB_INPUTS[i.type];
        if (!driver)
          return fail("QEMU_CMD_UNSUPPORTED", {
            element: inputElement(i),
            reason: "no USB device of this type",
          });
        const p = new Props().set("driver", driver).set("id", i.alias ?? "");
        addAddressProps(b, p, i, inputElement(i));
        b.addJson("-device", p);
        break;
      }
      case "virtio": {
        const base = VIRTIO_INPUTS[i.type];
        if (!base)
          return fail("QEMU_CMD_UNSUPPORTED", {
            element: inputElement(i),
            reason: "no virtio device of this type",
          });
        const p = virtioProps(b, base, i.address, i.model, inputElement(i), true, i.virtio)
          .set("id", i.alias ?? "")
          .opt("evdev", i.type === "passthrough" ? i.source?.evdev : undefined);
        addAddressProps(b, p, i, inputElement(i));
        b.addJson("-device", p);
        break;
      }
      default:
        break;
    }
  }
}

const AUDIO_DRIVERS: Record<string, string> = { pulseaudio: "pa", file: "wav" };

/** One direction (`in`/`out`) of an audiodev: the common properties, then the backend's. */
function audioIoProps(io: AudioIo | undefined, type: string): Props | undefined {
  if (!io) return undefined;
  const p = new Props()
    .opt("mixing-engine", io.mixingEngine)
    .opt("fixed-settings", io.fixedSettings)
    .pos("voices", io.voices)
    .pos("buffer-length", io.bufferLength);
  if (io.fixedSettings === true && io.settings) {
    p.pos("frequency", io.settings.frequency)
      .pos("channels", io.settings.channels)
      .opt("format", io.settings.format);
  }
  switch (type) {
    case "alsa":
      p.opt("dev", io.dev);
      break;
    case "coreaudio":
    case "sdl":
      p.pos("buffer-count", io.bufferCount);
      break;
    case "jack":
      p.opt("server-name", io.serverName)
        .opt("client-name", io.clientName)
        .opt("connect-ports", io.connectPorts)
        .opt("exact-name", io.exactName);
      break;
    case "oss":
      p.opt("dev", io.dev).pos("buffer-count", io.bufferCount).opt("try-poll", io.tryPoll);
      break;
    case "pulseaudio":
    case "pipewire":
      p.opt("name", io.name).opt("stream-name", io.streamName).pos("latency", io.latency);
      break;
    default:
      break;
  }
  return p.toString() === "{}" ? undefined : p;
}

function audioProps(b: Build, a: AudioDef): Props {
  const p = new Props()
    .set("id", `audio${a.id}`)
    .set("driver", AUDIO_DRIVERS[a.type] ?? a.type)
    .pos("timer-period", a.timerPeriod);
  switch (a.type) {
    case "oss":
      p.opt("try-mmap", a.tryMMap).opt("exclusive", a.exclusive);
      if (a.dspPolicy !== undefined) p.set("dsp-policy", a.dspPolicy);
      break;
    case "pulseaudio":
      p.opt("server", a.serverName);
      break;
    case "sdl":
      if (a.driver !== undefined) b.env.push(["SDL_AUDIODRIVER", a.driver]);
      break;
    case "pipewire": {
      // the runtime directory of the XML, else the daemon's own, reaches QEMU by environment
      const dir = a.runtimeDir ?? b.ctx.pipewireRuntimeDir;
      if (dir !== undefined) b.env.push(["PIPEWIRE_RUNTIME_DIR", dir]);
      break;
    }
    case "file":
      p.opt("path", a.path);
      break;
    default:
      break;
  }
  const input = audioIoProps(a.input, a.type);
  const output = audioIoProps(a.output, a.type);
  if (input) p.set("in", input.toObject());
  if (output) p.set("out", output.toObject());
  return p;
}

export function buildAudios(b: Build): void {
  for (const a of b.def.devices.audios) b.addJson("-audiodev", audioProps(b, a));
}

const SOUND_MODELS: Record<string, string> = {
  es1370: "ES1370",
  ac97: "AC97",
  ich6: "intel-hda",
  usb: "usb-audio",
  ich9: "ich9-intel-hda",
  sb16: "sb16",
};
const CODECS = new Set(["ich6", "ich9", "ich7"]);
const CODEC_DRIVERS: Record<string, string> = {
  duplex: "hda-duplex",
  micro: "hda-micro",
  output: "hda-output",
};

export function buildSounds(b: Build): void {
  for (const s of b.def.devices.sounds) {
    if (s.model === "pcspk") continue;
    const alias = s.alias ?? "";
    const model = s.model === "ich7" ? "intel-hda" : SOUND_MODELS[s.model];
    if (s.model === "virtio") {
      const p = virtioProps(b, "virtio-sound", s.address, undefined, `sound ${alias}`, true, s.virtio)
        .set("id", alias)
        .opt("audiodev", audioIdFor(b, s.audio?.id))
        .pos("streams", s.streams);
      addAddressProps(b, p, s, `sound ${alias}`);
      b.addJson("-device", p);
      continue;
    }
    if (!model)
      return fail("QEMU_CMD_UNSUPPORTED", {
        element: `sound model '${s.model}'`,
        reason: "QEMU has no such device",
      });
    const hasCodecs = CODECS.has(s.model);
    const p = new Props()
      .set("driver", model)
      .set("id", alias)
      .opt("audiodev", hasCodecs ? undefined : audioIdFor(b, s.audio?.id))
      .opt("multi", s.model === "usb" ? s.multichannel : undefined);
    addAddressProps(b, p, s, `sound ${alias}`);
    b.addJson("-device", p);
    if (hasCodecs) {
      const codecs = s.codecs && s.codecs.length > 0 ? s.codecs : ["duplex"];
      codecs.forEach((c, cad) => {
        b.addJson(
          "-device",
          new Props()
            .set("driver", CODEC_DRIVERS[c] ?? `hda-${c}`)
            .set("id", `${alias}-codec${cad}`)
            .set("bus", `${alias}.0`)
            .set("cad", cad)
            .set("audiodev", audioIdFor(b, s.audio?.id)),
        );
      });
    }
  }
}

/** `pcspk-audiodev=` of `-machine`. */
export function machinePcspk(b: Build): string {
  const s = b.def.devices.sounds.find((x) => x.model === "pcspk");
  return s ? `,pcspk-audiodev=${audioIdFor(b, s.audio?.id)}` : "";
}

export function buildWatchdogs(b: Build): void {
  const wds = b.def.devices.watchdogs;
  if (wds.length === 0) return;
  let itco = false;
  for (const w of wds) {
    if (w.model === "itco") {
      itco = true;
      continue;
    }
    const p = new Props().set("driver", w.model).set("id", w.alias ?? "");
    addAddressProps(b, p, w, `watchdog ${w.alias ?? ""}`);
    b.addJson("-device", p);
  }
  if (itco) b.add("-global", "ICH9-LPC.noreboot=off");
  let action = wds[wds.length - 1]!.action ?? "reset";
  if (action === "dump") action = "pause";
  b.add("-watchdog-action", action);
}

/**
 * `<smartcard>`: a card on its CCID controller's bus, emulated by QEMU from the host's NSS
 * (`host`, `host-certificates`) or passed through a chardev (`passthrough`).
 */
export function buildSmartcards(b: Build): void {
  for (const s of b.def.devices.smartcards ?? []) {
    const alias = s.alias ?? "";
    const element = `smartcard ${alias}`;
    const a = s.address;
    const ctrl =
      a?.type === "ccid"
        ? b.def.devices.controllers.find((c) => c.type === "ccid" && c.index === a.controller)
        : undefined;
    if (!ctrl)
      return fail("QEMU_CMD_INVALID_VALUE", { element, reason: "no CCID controller for its address" });
    const p = new Props();
    switch (s.mode) {
      case "host":
        p.set("driver", "ccid-card-emulated").set("backend", "nss-emulated");
        break;
      case "host-certificates":
        p.set("driver", "ccid-card-emulated").set("backend", "certificates");
        (s.certificates ?? []).forEach((c, i) => p.set(`cert${i + 1}`, c));
        p.set("db", s.database ?? "/etc/pki/nssdb");
        break;
      case "passthrough":
        buildChardev(
          b,
          {
            type: s.type ?? "spicevmc",
            source: s.source,
            protocol: s.protocol,
            devAlias: alias,
            spicevmcName: "smartcard",
          },
          `char${alias}`,
        );
        p.set("driver", "ccid-card-passthru").set("chardev", `char${alias}`);
        break;
    }
    p.set("id", alias).set("bus", `${ctrl.alias ?? ""}.0`);
    b.addJson("-device", p);
  }
}

/** usb-redir's `filter=`: `class:vendor:product:version:allow` per rule, `|` between, `-1` for any. */
function redirFilter(rules: readonly RedirFilterRule[] | undefined): string | undefined {
  if (!rules || rules.length === 0) return undefined;
  const h = (n: number | undefined, width: number): string =>
    n === undefined ? "-1" : `0x${n.toString(16).toUpperCase().padStart(width, "0")}`;
  return rules
    .map((r) => `${h(r.class, 2)}:${h(r.vendor, 4)}:${h(r.product, 4)}:${h(r.version, 4)}:${r.allow ? 1 : 0}`)
    .join("|");
}

export function buildRedirdevs(b: Build): void {
  for (const r of b.def.devices.redirdevs) {
    const alias = r.alias ?? "";
    buildChardev(
      b,
      { type: r.type, source: r.source, protocol: r.protocol, devAlias: alias, spicevmcName: "usbredir" },
      `char${alias}`,
    );
    const p = new Props()
      .set("driver", "usb-redir")
      .set("chardev", `char${alias}`)
      .set("id", alias)
      .opt("filter", redirFilter(b.def.devices.redirfilter))
      .pos("bootindex", r.boot?.order);
    addAddressProps(b, p, r, `redirdev ${alias}`);
    b.addJson("-device", p);
  }
}

export function buildHubs(b: Build): void {
  for (const h of b.def.devices.hubs) {
    requireFlag(b, "usb-hub", "USB hub");
    const p = new Props().set("driver", "usb-hub").set("id", h.alias ?? "");
    addAddressProps(b, p, h, `hub ${h.alias ?? ""}`);
    b.addJson("-device", p);
  }
}

export function buildMemballoon(b: Build): void {
  const m = b.def.devices.memballoon;
  if (!m || m.model === "none" || m.model === "xen") return;
  const p = virtioProps(b, "virtio-balloon", m.address, m.model, "memballoon", true, m.virtio)
    .set("id", m.alias ?? "")
    .opt("deflate-on-oom", m.autodeflate)
    .opt("free-page-reporting", m.freePageReporting);
  addAddressProps(b, p, m, "memballoon");
  b.addJson("-device", p);
}

export function buildRngs(b: Build): void {
  for (const r of b.def.devices.rngs) {
    const alias = r.alias ?? "";
    const obj = new Props();
    switch (r.backend.model) {
      case "random":
        obj
          .set("qom-type", "rng-random")
          .set("id", `obj${alias}`)
          .set("filename", r.backend.path ?? "/dev/urandom");
        break;
      case "egd":
        buildChardev(
          b,
          {
            type: r.backend.type ?? "tcp",
            source: r.backend.source,
            protocol: r.backend.protocol,
            devAlias: alias,
          },
          `char${alias}`,
        );
        obj.set("qom-type", "rng-egd").set("id", `obj${alias}`).set("chardev", `char${alias}`);
        break;
      case "builtin":
        obj.set("qom-type", "rng-builtin").set("id", `obj${alias}`);
        break;
    }
    b.addJson("-object", obj);
    const bytes = r.rate?.bytes ?? 0;
    const period = bytes > 0 ? (r.rate?.period ?? 1000) : 0;
    const p = virtioProps(b, "virtio-rng", r.address, r.model, `rng ${alias}`, true, r.virtio)
      .set("rng", `obj${alias}`)
      .set("id", alias)
      .pos("max-bytes", bytes)
      .pos("period", period);
    addAddressProps(b, p, r, `rng ${alias}`);
    b.addJson("-device", p);
  }
}

export function buildPanics(b: Build): void {
  for (const p of b.def.devices.panics) {
    if (p.model === "isa") {
      const props = new Props().set("driver", "pvpanic");
      if (p.address?.type === "isa") props.set("ioport", p.address.iobase ?? 0);
      b.addJson("-device", props);
    } else if (p.model === "pvpanic") {
      const props = new Props().set("driver", "pvpanic-pci");
      addAddressProps(b, props, p, "panic");
      b.addJson("-device", props);
    }
  }
}

export function buildVsock(b: Build): void {
  const v = b.def.devices.vsock;
  if (!v) return;
  const fd = b.ctx.vsockFd;
  // the driver does not open /dev/vhost-vsock for QEMU yet (the harness passes libvirt's fd)
  if (fd === undefined)
    fail("QEMU_CMD_HOST_BACKEND_UNSUPPORTED", {
      element: "vsock",
      what: "a vsock device (QEMU needs /dev/vhost-vsock opened for it)",
      hint: "remove <vsock> to start the domain",
    });
  const p = virtioProps(b, "vhost-vsock", v.address, v.model, "vsock", true, v.virtio)
    .set("id", v.alias ?? "")
    .set("guest-cid", (v.cid?.auto === true ? b.ctx.vsockAutoCid : undefined) ?? v.cid?.address ?? 0)
    .set("vhostfd", String(fd));
  addAddressProps(b, p, v, "vsock");
  b.addJson("-device", p);
}

export function buildIommu(b: Build): void {
  const i = b.def.devices.iommu;
  if (!i) return;
  const d = i.driver ?? {};
  const onoff = (v: string | undefined) => (v === undefined ? undefined : v === "on" ? "on" : "off");
  const bool = (v: string | undefined) => (v === undefined ? undefined : v === "on");
  switch (i.model) {
    case "intel": {
      const p = new Props()
        .set("driver", "intel-iommu")
        .set("id", i.alias ?? "")
        .opt("intremap", onoff(d.intremap))
        .opt("caching-mode", bool(d.caching_mode))
        .opt("eim", onoff(d.eim))
        .opt("device-iotlb", bool(d.iotlb));
      if (d.aw_bits !== undefined) p.set("aw-bits", Number(d.aw_bits));
      p.opt("dma-translation", bool(d.dma_translation));
      b.addJson("-device", p);
      break;
    }
    case "virtio": {
      const p = new Props().set("driver", "virtio-iommu").set("id", i.alias ?? "");
      addAddressProps(b, p, i, "iommu");
      b.addJson("-device", p);
      break;
    }
    case "smmuv3":
      break;
    default:
      fail("QEMU_CMD_UNSUPPORTED", {
        element: `iommu model '${i.model}'`,
        reason: "QEMU has no such device",
      });
  }
}

/** libvirt's qemuBuildTPMBackendStr: `-tpmdev` with its chardev or host files. */
function buildTpmBackend(b: Build, t: TpmDef, alias: string): void {
  const be = t.backend;
  const element = `tpm ${alias}`;
  let tpmdev: string;
  switch (be.type) {
    case "passthrough": {
      requireFlag(b, "tpm-passthrough", element);
      const path = be.path ?? "/dev/tpm0";
      const host = b.ctx.tpmPassthrough?.(alias, path);
      if (host === undefined)
        fail("QEMU_CMD_CONTEXT_MISSING", { element, what: `the descriptors of ${path} and its cancel file` });
      let devPath: string;
      let cancelPath: string;
      if ("fds" in host) {
        // one fd set each, named after the device as libvirt's qemuFDPass does
        const tpmSet = b.nextFdset();
        b.add("-add-fd", `set=${tpmSet},fd=${host.fds.tpm},opaque=${alias}-tpm`);
        const cancelSet = b.nextFdset();
        b.add("-add-fd", `set=${cancelSet},fd=${host.fds.cancel},opaque=${alias}-cancel`);
        devPath = `/dev/fdset/${tpmSet}`;
        cancelPath = `/dev/fdset/${cancelSet}`;
      } else {
        devPath = path;
        cancelPath = host.cancelPath;
      }
      tpmdev = `passthrough,id=tpm-${alias},path=${escapeComma(devPath)},cancel-path=${escapeComma(cancelPath)}`;
      break;
    }
    case "emulator":
    case "external": {
      requireFlag(b, "tpm-emulator", element);
      const socket = be.type === "external" ? be.socket : b.ctx.tpmEmulatorSocket?.(alias);
      if (socket === undefined)
        fail("QEMU_CMD_CONTEXT_MISSING", { element, what: "the socket of its swtpm" });
      // QEMU is swtpm's client on the control socket
      buildChardev(b, { type: "unix", source: { mode: "connect", path: socket }, devAlias: alias }, "chrtpm");
      // an external swtpm is driven by QEMU's emulator backend too
      tpmdev = `emulator,id=tpm-${alias},chardev=chrtpm`;
      break;
    }
  }
  b.add("-tpmdev", tpmdev);
}

/** libvirt's qemuBuildTPMsCommandLine: backend, then the front end device. */
export function buildTpms(b: Build): void {
  for (const t of b.def.devices.tpms) {
    const alias = t.alias ?? "tpm0";
    const model = t.model ?? "tpm-tis";
    if (model === "spapr-tpm-proxy") {
      unsupported(`tpm ${alias}`, "the spapr-tpm-proxy model exists only for ppc64 pSeries guests");
    }
    requireFlag(b, model, `tpm ${alias}`);
    buildTpmBackend(b, t, alias);
    const p = new Props()
      .set("driver", model === "tpm-tis" && b.def.os.arch === "aarch64" ? "tpm-tis-device" : model)
      .set("tpmdev", `tpm-${alias}`)
      .set("id", alias);
    addAddressProps(b, p, t, `tpm ${alias}`);
    b.addJson("-device", p);
  }
}

export function buildVmcoreinfo(b: Build): void {
  if (b.def.features?.vmcoreinfo === true) b.addJson("-device", new Props().set("driver", "vmcoreinfo"));
}

/** AMD SEV-SNP: the `sev-snp-guest` object (libvirt's qemuBuildSEVSNPCommandLine). */
function buildSevSnp(b: Build, s: LaunchSecurity): void {
  requireFlag(b, "sev-snp-guest", "<launchSecurity type='sev-snp'>");
  const p = new Props()
    .set("qom-type", "sev-snp-guest")
    .set("id", "lsec0")
    .set("cbitpos", s.cbitpos ?? b.ctx.caps.sev?.cbitpos ?? 0)
    .set("reduced-phys-bits", s.reducedPhysBits ?? b.ctx.caps.sev?.reducedPhysBits ?? 0)
    .opt("policy", s.policy)
    .opt("guest-visible-workarounds", s.guestVisibleWorkarounds)
    .opt("id-block", s.idBlock)
    .opt("id-auth", s.idAuth)
    .opt("host-data", s.hostData)
    // only the non-default settings are passed
    .opt("author-key-enabled", s.authorKey === true ? true : undefined)
    .opt("vcek-disabled", s.vcek === false ? true : undefined)
    .opt("kernel-hashes", s.kernelHashes);
  b.addJson("-object", p);
}

export function buildLaunchSecurity(b: Build): void {
  const s = b.def.launchSecurity;
  if (!s) return;
  if (s.type === "sev-snp") {
    buildSevSnp(b, s);
    return;
  }
  if (s.type !== "sev") {
    fail("QEMU_CMD_UNSUPPORTED", {
      element: `launchSecurity type '${s.type}'`,
      reason: "only AMD SEV and SEV-SNP are implemented",
    });
  }
  const dir = b.ctx.paths.domainDir;
  // what the XML leaves out comes from the host's SEV platform (libvirt's qemuProcessUpdateSEVInfo)
  const platform = b.ctx.caps.sev;
  const p = new Props()
    .set("qom-type", "sev-guest")
    .set("id", "lsec0")
    .set("cbitpos", s.cbitpos ?? platform?.cbitpos ?? 0)
    .set("reduced-phys-bits", s.reducedPhysBits ?? platform?.reducedPhysBits ?? 0)
    .set("policy", s.policy ?? 0)
    .opt("dh-cert-file", s.dhCert !== undefined ? `${dir}/dh_cert.base64` : undefined)
    .opt("session-file", s.session !== undefined ? `${dir}/session.base64` : undefined)
    .opt("kernel-hashes", s.kernelHashes);
  b.addJson("-object", p);
}
