// An in-process log on a real store on disk, for tests that need the library rather than a process.
import { rmSync } from 'node:fs';
import { startLog, type RunningLog, type StartOptions } from '../../src/app.js';
import { CONFIG_DEFAULTS, type Config } from '../../src/config.js';
import { tempDir } from './server.js';

export async function startTestLog(over: Partial<Config> = {}, opts: StartOptions = {}): Promise<RunningLog & { dir: string; cleanup(): Promise<void> }> {
  const dir = over.data ?? tempDir();
  const log = await startLog({ ...CONFIG_DEFAULTS, data: dir, http: '127.0.0.1:0', logLevel: 'silent', origin: 'test.example/log', ...over }, opts);
  return {
    ...log,
    dir,
    async cleanup() {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
