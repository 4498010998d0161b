// The openings store's master key: created 0600 on first use, never silently replaced when it
// is missing while wrapped keys exist, and a configured key file must exist.
import { rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLog } from '../../src/app.js';
import { CONFIG_DEFAULTS } from '../../src/config.js';
import { OpeningsStore } from '../../src/privacy/store.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
const dir = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the privacy master key', () => {
  it('is created 0600 on first use and refused missing once keys depend on it', () => {
    const d = dir();
    const keyFile = join(d, 'privacy.key');
    const s = OpeningsStore.open({ dir: join(d, 'openings'), masterKeyFile: keyFile, createKey: true });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const dek = s.dataKey({ tenant: 'org-1', subject: '' }, true)!;
    // Reopened, the same key unwraps the same DEK.
    const again = OpeningsStore.open({ dir: join(d, 'openings'), masterKeyFile: keyFile, createKey: true });
    expect(Buffer.from(again.dataKey({ tenant: 'org-1', subject: '' })!).equals(Buffer.from(dek))).toBe(true);
    unlinkSync(keyFile);
    expect(() => OpeningsStore.open({ dir: join(d, 'openings'), masterKeyFile: keyFile, createKey: true })).toThrow(/privacy master key .* does not exist: restore it/);
    writeFileSync(keyFile, 'not a key\n', { mode: 0o600 });
    expect(() => OpeningsStore.open({ dir: join(d, 'openings'), masterKeyFile: keyFile, createKey: true })).toThrow(/is not a Candor privacy master key/);
  });

  it('must exist when configured: the log does not start without it', async () => {
    const d = dir();
    await expect(startLog({ ...CONFIG_DEFAULTS, data: d, http: '127.0.0.1:0', logLevel: 'silent', privacyKeyFile: join(d, 'elsewhere.key') })).rejects.toThrow(/elsewhere\.key does not exist/);
  });
});
