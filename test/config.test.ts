import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, loadConfig, parseHostPort } from '../src/config.js';
import { tempDir } from './helpers/server.js';

describe('configuration', () => {
  it('layers defaults, file, environment and flags in that order', () => {
    const file = join(tempDir(), 'c.yaml');
    writeFileSync(file, 'data: /from/file\nhttp: 127.0.0.1:1111\nbatchMaxEntries: 10\nkeys: [a.key, b.key]\n');
    const c = loadConfig({ file, env: { CANDOR_HTTP: '127.0.0.1:2222', CANDOR_BATCH_MAX_DELAY_MS: '3' }, flags: { http: '[::1]:3333' } });
    expect(c).toMatchObject({ data: '/from/file', http: '[::1]:3333', batchMaxEntries: 10, batchMaxDelayMs: 3, keys: ['a.key', 'b.key'] });
    expect(c.queueMaxEntries).toBe(CONFIG_DEFAULTS.queueMaxEntries);
    expect(loadConfig({ env: { CANDOR_KEYS: 'x.key, y.key' } }).keys).toEqual(['x.key', 'y.key']);
  });

  it('accepts JSON too, since YAML is a superset', () => {
    const file = join(tempDir(), 'c.json');
    writeFileSync(file, '{"origin": "j.example/log", "cacheBytes": 1024}');
    expect(loadConfig({ file, env: {} })).toMatchObject({ origin: 'j.example/log', cacheBytes: 1024 });
  });

  it('names the bad key and where it came from', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'batchMaxEntries: -1\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/config batchMaxEntries \(from .*bad\.yaml\) must be a non-negative integer/);
    expect(() => loadConfig({ env: { CANDOR_QUEUE_MAX_BYTES: '1e9' } })).toThrow(/queueMaxBytes \(from environment\)/);
    expect(() => loadConfig({ env: {}, flags: { batchMaxEntries: 0 } })).toThrow(/batchMaxEntries .* must be at least 1/);
    writeFileSync(file, '- a\n- b\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/must hold a mapping/);
    expect(() => loadConfig({ file: '/nonexistent/c.yaml', env: {} })).toThrow(/cannot read config file/);
  });

  it('takes the security keys: HTTP TLS, the admin listener, default producer limits', () => {
    const c = loadConfig({ env: { CANDOR_HTTP_TLS_CERT: 'c.pem', CANDOR_HTTP_TLS_KEY: 'k.pem', CANDOR_ADMIN: '127.0.0.1:8090', CANDOR_PRODUCER_EVENTS_PER_SECOND: '200' }, flags: { producerDailyQuota: '1000000' } });
    expect(c).toMatchObject({ httpTlsCert: 'c.pem', httpTlsKey: 'k.pem', admin: '127.0.0.1:8090', producerEventsPerSecond: 200, producerBurst: 0, producerDailyQuota: 1_000_000 });
    expect(() => loadConfig({ env: { CANDOR_HTTP_TLS_CERT: 'c.pem' } })).toThrow(/httpTlsCert .* and httpTlsKey must be given together/);
    expect(() => loadConfig({ env: { CANDOR_HTTP_TLS_CLIENT_CA: 'ca.pem' } })).toThrow(/httpTlsClientCa .* needs httpTlsCert and httpTlsKey/);
    expect(() => loadConfig({ env: { CANDOR_ADMIN: 'localhost' } })).toThrow(/config admin .* must be HOST:PORT/);
    expect(() => loadConfig({ env: { CANDOR_PRODUCER_BURST: '-5' } })).toThrow(/producerBurst \(from environment\) must be a non-negative integer/);
  });

  it('parses listen addresses', () => {
    expect(parseHostPort('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['8080', 'host:', 'host:99999', ':80', 'a b:1']) expect(() => parseHostPort(bad)).toThrow(/HOST:PORT/);
  });
});

describe('storage', () => {
  const cloud = { driver: 'cloud', bucket: 'b', region: 'us-east-1', postgres: 'postgres://127.0.0.1/x' };
  it('defaults to the embedded store; a cloud storage needs indexes off and names what is wrong', () => {
    expect(loadConfig({ env: {} }).storage).toEqual({ driver: 'level' });
    expect(loadConfig({ env: { CANDOR_STORAGE: JSON.stringify(cloud), CANDOR_INDEXES: 'false' } }).storage).toEqual(cloud);
    expect(() => loadConfig({ env: { CANDOR_STORAGE: JSON.stringify(cloud) } })).toThrow(/indexes .*must be false with storage driver cloud/);
    expect(() => loadConfig({ env: { CANDOR_STORAGE: JSON.stringify({ ...cloud, bucket: undefined }), CANDOR_INDEXES: 'false' } })).toThrow(/storage \(from environment\) \.bucket is required/);
    expect(() => loadConfig({ env: { CANDOR_STORAGE: JSON.stringify({ ...cloud, bukket: 'x' }), CANDOR_INDEXES: 'false' } })).toThrow(/\.bukket is not a key of the cloud driver/);
    expect(() => loadConfig({ env: { CANDOR_STORAGE: JSON.stringify({ ...cloud, schema: 'x; drop' }), CANDOR_INDEXES: 'false' } })).toThrow(/\.schema must be a plain PostgreSQL identifier/);
    expect(() => loadConfig({ env: { CANDOR_STORAGE: '{"driver":"s3"}' } })).toThrow(/\.driver must be "level" or "cloud"/);
  });
});
