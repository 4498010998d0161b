// The real servers the storage tests run against (PostgreSQL, an S3 endpoint), started by
// test/services/services.sh. Their addresses come from the environment (.ci/run exports them), or
// from .services/env after `npm run services -- up`. Without them a test file skips and says why;
// under CI (process.env.CI set) their absence is an error, so these tests never skip there.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface S3Config {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const envFile = fileURLToPath(new URL('../../.services/env', import.meta.url));

function fromEnvFile(): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch {
    return {};
  }
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

const file = fromEnvFile();
const read = (name: string): string | undefined => process.env[name] || file[name];

function missing(names: string[]): string | undefined {
  const absent = names.filter((n) => !read(n));
  if (absent.length === 0) return undefined;
  const reason = `${absent.join(', ')} not set: start the servers with \`npm run services -- up\``;
  if (process.env.CI) throw new Error(`test servers missing under CI: ${reason}`);
  return reason;
}

/** Why the PostgreSQL tests cannot run here (undefined when they can); throws under CI. */
export function postgresMissing(): string | undefined {
  return missing(['CANDOR_TEST_PG_URL']);
}

/** Why the S3 tests cannot run here (undefined when they can); throws under CI. */
export function s3Missing(): string | undefined {
  return missing(['CANDOR_TEST_S3_ENDPOINT', 'CANDOR_TEST_S3_ACCESS_KEY', 'CANDOR_TEST_S3_SECRET_KEY', 'CANDOR_TEST_S3_REGION']);
}

/** postgres://user:password@127.0.0.1:port/db of the test server. */
export function postgresUrl(): string {
  const reason = postgresMissing();
  if (reason) throw new Error(reason);
  return read('CANDOR_TEST_PG_URL')!;
}

/** Endpoint, region and keys of the test S3 user. */
export function s3Config(): S3Config {
  const reason = s3Missing();
  if (reason) throw new Error(reason);
  return {
    endpoint: read('CANDOR_TEST_S3_ENDPOINT')!,
    region: read('CANDOR_TEST_S3_REGION')!,
    accessKeyId: read('CANDOR_TEST_S3_ACCESS_KEY')!,
    secretAccessKey: read('CANDOR_TEST_S3_SECRET_KEY')!,
  };
}
