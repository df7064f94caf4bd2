/** The QMP monitor client (one connection per QEMU process). */
export { connectQmp, QmpClient } from "./qmp.ts";
export type {
  QmpConnectOptions,
  QmpEvent,
  QmpExecuteOptions,
  QmpGreeting,
  QmpObject,
  QmpVersion,
  Unsubscribe,
} from "./qmp.ts";
