/**
 * test:///default's networks and pools live as long as some connection to them is open (as the
 * test driver's domains): one driver shared by the open connections, and the defaults again once
 * all are closed.
 */

/**
 * A function that opens one more connection to the shared driver `make()` builds when none is
 * open; closing a connection (once, however often `close` is called) lets it go.
 */
export function sharedWhileOpen<D, C extends { close(): Promise<void> }>(
  make: () => D,
  connect: (driver: D) => C,
): () => C {
  let shared: D | undefined;
  let users = 0;
  return () => {
    shared ??= make();
    users++;
    let closed = false;
    const conn = connect(shared);
    return {
      ...conn,
      close: async () => {
        await conn.close();
        if (!closed) {
          closed = true;
          if (--users === 0) shared = undefined;
        }
      },
    };
  };
}
