// Every LogStore driver passes the same conformance checks (test/storage/conformance.ts).
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { FaultyStore } from '../../src/storage/faulty.js';
import { LevelStore } from '../../src/storage/level.js';
import { tempDir } from '../helpers/server.js';
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
