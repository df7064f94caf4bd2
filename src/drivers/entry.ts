import { toVirtError } from "../util/errors/index.ts";

/** A driver method as an API entry: a promise, failing with a VirtError. */
export function entry<A extends unknown[], T>(fn: (...a: A) => T | Promise<T>): (...a: A) => Promise<T> {
  return async (...a: A): Promise<T> => {
    try {
      return await fn(...a);
    } catch (e) {
      throw toVirtError(e);
    }
  };
}
