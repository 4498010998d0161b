// Every LogStore driver passes the same conformance checks (test/storage/conformance.ts).
import { rmSync } from 'node:fs';
import { afterAll, describe, test } from 'vitest';
import { CloudStore } from '../../src/storage/cloud/store.js';
import { FaultyStore } from '../../src/storage/faulty.js';
import { LevelStore } from '../../src/storage/level.js';
import { tempDir } from '../helpers/server.js';
import { cloudOptions } from '../helpers/cloud.js';
import { postgresMissing, s3Missing } from '../helpers/services.js';
import { conformance } from './conformance.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function levelFactory(wrap: (s: LevelStore) => import('../../src/storage/store.js').LogStore) {
  return {
    async create() {
      const dir = tempDir();
      dirs.push(dir);
      return { store: wrap(await LevelStore.open(dir)), reopen: async () => wrap(await LevelStore.open(dir)) };
    },
  };
}

conformance('LevelStore', levelFactory((s) => s));
conformance('FaultyStore(LevelStore), no fault set', levelFactory((s) => new FaultyStore(s)));

// The cloud driver on the real Ceph RGW and PostgreSQL: a fresh bucket and schema per store.
const cloudSkip = s3Missing() ?? postgresMissing();
if (cloudSkip) describe.skip(`LogStore conformance: CloudStore (skipped: ${cloudSkip})`, () => test('skipped', () => {}));
else {
  conformance('CloudStore (Ceph RGW + PostgreSQL)', {
    async create() {
      const o = cloudOptions();
      return { store: await CloudStore.open(o), reopen: () => CloudStore.open(o) };
    },
  });
}
