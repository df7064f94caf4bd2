import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "../util/errors/index.ts";
import { applyConf, defaultConfig, parseConf } from "./config.ts";

const conf = (text: string) => applyConf(defaultConfig(), parseConf(text, "tvirtd.conf"), "tvirtd.conf");

test("qemu.conf's graphics keys: listen addresses, default passwords, SPICE TLS, SASL, auto socket", () => {
  assert.deepEqual(defaultConfig().graphics, {});
  const c = conf(
    [
      'vnc_listen = "0.0.0.0"',
      'spice_listen = "::1"',
      'vnc_password = "v"',
      'spice_password = "s"',
      "spice_tls = 1",
      'spice_tls_x509_cert_dir = "/etc/pki/x"',
      "spice_sasl = 1",
      "spice_auto_unix_socket = 1",
      "",
    ].join("\n"),
  );
  assert.deepEqual(c.graphics, {
    vncListen: "0.0.0.0",
    spiceListen: "::1",
    vncPassword: "v",
    spicePassword: "s",
    spiceTLS: true,
    spiceTLSx509certdir: "/etc/pki/x",
    spiceSASL: true,
    // qemu.conf's default SASL config dir
    spiceSASLdir: "/etc/sasl2",
    spiceAutoUnixSocket: true,
  });
  assert.deepEqual(c.ignored, []);
  assert.equal(conf('spice_sasl_dir = "/x"\nspice_sasl = 1\n').graphics.spiceSASLdir, "/x");
  assert.equal(conf("spice_tls = 0\n").graphics.spiceTLS, false);
  assert.deepEqual(
    conf(
      'vnc_tls = 1\nvnc_tls_x509_cert_dir = "/v"\nvnc_tls_x509_verify = 1\nvnc_sasl = 1\nvnc_auto_unix_socket = 1\n',
    ).graphics,
    {
      vncTLS: true,
      vncTLSx509certdir: "/v",
      vncTLSx509verify: true,
      vncSASL: true,
      vncSASLdir: "/etc/sasl2",
      vncAutoUnixSocket: true,
    },
  );
});

test("bad graphics values are refused with the key named", () => {
  for (const [text, reason] of [
    ['spice_tls_x509_cert_dir = "pki"', "expected an absolute path"],
    ["spice_tls = -1", "expected an integer >= 0"],
    ["vnc_listen = 1", "expected a string"],
  ] as const) {
    assert.throws(
      () => conf(text),
      (e: unknown) => isVirtError(e) && e.message.includes(reason),
      text,
    );
  }
});

test("qemu.conf's host audio keys: vnc_allow_host_audio, nographics_allow_host_audio", () => {
  assert.deepEqual(conf("vnc_allow_host_audio = 1\nnographics_allow_host_audio = 0\n").graphics, {
    vncAllowHostAudio: true,
    nogfxAllowHostAudio: false,
  });
  assert.deepEqual(conf("vnc_allow_host_audio = 1\n").ignored, []);
});
