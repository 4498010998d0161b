// Waiting for something asynchronous without guessing how long it takes: tests poll for the
// outcome (bounded) instead of sleeping a fixed time, so a fast machine does not check too early
// and a slow one is not failed for being slow.

/** Polls `fn` every 20 ms until it returns a value other than undefined or false; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
