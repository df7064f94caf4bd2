/**
 * Domain XML → the QEMU command line with no connection: what `tvirsh domxml-to-native --caps
 * FILE` prints (a tvirt extension: the command line for a libvirt QEMU capabilities file instead
 * of the installed QEMU). Through a connection the same comes from
 * `Connection.domainXMLToNative` (`virConnectDomainXMLToNative`).
 */
import type { XmlWarning } from "../conf/domain/index.ts";
import { domainXMLToNative } from "../drivers/qemu/native.ts";

export interface QemuArgvOptions {
  /** Build for this libvirt QEMU capabilities file instead of probing the installed emulator. */
  capsFile?: string;
  /** Names the document in errors. */
  document?: string;
}

/** A QEMU command line: the process environment (in order), the emulator and its arguments. */
export interface QemuArgv {
  env: [string, string][];
  emulator: string;
  args: string[];
  /** What parsing the XML warned about. */
  warnings: XmlWarning[];
}

/** The QEMU command line tvirt would run for `xml` on this host, as a domain that is not running. */
export async function domainXMLToQemuArgv(xml: string, options: QemuArgvOptions = {}): Promise<QemuArgv> {
  const { command, warnings } = await domainXMLToNative(xml, options);
  return { env: command.env, emulator: command.emulator, args: command.args, warnings };
}
