/**
 * The secret driver's entry points: the opener the API's registry uses for QEMU URIs
 * (`openLocalSecretDriver`: an embed root's secrets under `ROOT/etc/secrets`, the system's or
 * the user's under the daemon's state root) and the daemon's start-up load.
 */
import type { ConnectURI } from "../driver.ts";
import type { SecretDriverConnection } from "../secret-driver.ts";
import { embedRoot } from "../qemu/index.ts";
import { secretDriverFor, type SecretDriver, type SecretRoot } from "./driver.ts";

export { SecretDriver, secretDriverFor, secretsDir, KEY_FILE, type SecretRoot } from "./driver.ts";

const instanceRoots = new Map<"system" | "session", SecretRoot>();

/** Loads the daemon instance's secrets (tvirtd, before serving); with `stateRoot`, embed's layout. */
export function loadDaemonSecrets(
  kind: "system" | "session",
  options: { stateRoot?: string } = {},
): SecretDriver {
  const root: SecretRoot =
    options.stateRoot !== undefined ? { kind: "embed", root: options.stateRoot } : { kind };
  instanceRoots.set(kind, root);
  if (kind === "system") instanceRoots.set("session", root);
  return secretDriverFor(root);
}

/** The local secret driver for a `qemu` URI served in this process, or undefined. */
export function openLocalSecretDriver(uri: ConnectURI): SecretDriverConnection | undefined {
  let root: SecretRoot;
  switch (uri.path) {
    case "/embed":
      root = { kind: "embed", root: embedRoot(uri) };
      break;
    case "/system":
      root = instanceRoots.get("system") ?? { kind: "system" };
      break;
    case "/session":
      root = instanceRoots.get("session") ?? { kind: "session" };
      break;
    default:
      return undefined;
  }
  return secretDriverFor(root).connection();
}
