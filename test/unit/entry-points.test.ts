import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/stack/paths.js';

/** Runs an entry point as `npm run start:*` does, with only the given settings. */
function run(entry: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('entry points refuse bad settings', () => {
  it.each(['api/index.ts', 'worker/index.ts'])('%s prints one line per bad value and exits 1', (entry) => {
    const result = run(entry, {
      DATABASE_URL: 'mysql://nope',
      API_PORT: '70000',
      TEMPORAL_ADDRESS: 'no-port',
      TWILIO_FROM_NUMBER: '555',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n').sort()).toEqual([
      'Invalid setting API_PORT: Too big: expected number to be <=65535',
      'Invalid setting DATABASE_URL: must be a postgres:// or postgresql:// URL',
      'Invalid setting TEMPORAL_ADDRESS: must be host:port',
      'Invalid setting TWILIO_FROM_NUMBER: must be an E.164 number like +15005550006',
    ]);
  });

  it('start names a bad port of its own services the same way', () => {
    const result = run('scripts/start.ts', { DEV_TEMPORAL_PORT: 'seventy' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Invalid setting DEV_TEMPORAL_PORT: Invalid input: expected number, received NaN',
    );
  });
});
