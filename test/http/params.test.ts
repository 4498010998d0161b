// One strict decimal form for every numeric query parameter (issue 18 §5): "0x1", " 1", "1e3",
// "+1", "01", "-1", "1.0" and numbers past 2^53 - 1 are refused with 400 naming the parameter,
// never read as another number. Against a real log on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLog } from '../helpers/log.js';

let log: Awaited<ReturnType<typeof startTestLog>>;
beforeAll(async () => {
  log = await startTestLog({ publicEntries: true });
  for (let i = 0; i < 3; i++) await log.service.add(new TextEncoder().encode(`entry ${i}`));
});
afterAll(async () => {
  await log?.cleanup();
});

const BAD = ['0x1', ' 1', '1e3', '+1', '01', '-1', '1.0', '9007199254740992', ''];

describe('numeric query parameters', () => {
  it('are strict decimals on /proof/* and /entries', async () => {
    const routes: [string, string][] = [
      ['/proof/inclusion?index=', 'index'],
      ['/proof/inclusion?index=0&size=', 'size'],
      ['/proof/consistency?from=', 'from'],
      ['/proof/consistency?from=1&to=', 'to'],
      ['/entries?start=', 'start'],
      ['/entries?start=0&end=', 'end'],
    ];
    for (const [route, name] of routes) {
      for (const v of BAD) {
        const r = await fetch(`${log.url}${route}${encodeURIComponent(v)}`);
        const body = (await r.json()) as { error: { code: string; message: string } };
        expect([r.status, body.error.code], `${route}${JSON.stringify(v)}`).toEqual([400, 'invalid_argument']);
        expect(body.error.message, `${route}${JSON.stringify(v)}`).toBe(`${name} must be a decimal integer from 0 to 2^53 - 1 (digits only: no sign, exponent, spaces or leading zeros)`);
      }
    }
    // The canonical forms are served.
    expect((await fetch(`${log.url}/proof/inclusion?index=1&size=3`)).status).toBe(200);
    expect((await fetch(`${log.url}/proof/consistency?from=1&to=3`)).status).toBe(200);
    expect((await fetch(`${log.url}/entries?start=0&end=2`)).status).toBe(200);
  });
});
