import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }> | string[];
  deploy?: { replicas?: number };
  volumes?: string[];
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
const { services } = compose;
const dependsOn = (name: string) => Object.keys(services[name]?.depends_on ?? {});

describe('docker-compose.yml (the production-like topology)', () => {
  it('has PostgreSQL, Temporal on PostgreSQL, the UI, migrations, the API and several workers', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'temporal', 'temporal-ui', 'worker']);
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(dependsOn('temporal')).toContain('postgres');
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(services.worker?.deploy?.replicas).toBeGreaterThan(1);
  });

  it.each(['api', 'worker', 'migrate'])('%s runs the app image with settings the app accepts', (name) => {
    const service = services[name];
    expect(service?.build).toBe('.');
    // As compose interpolates with only the required settings exported: `${NAME:-default}` becomes its default,
    // `${NAME:?why}` the exported value (compose refuses to start without it).
    const exported: Record<string, string> = { OPT_OUT_HASH_SECRET: 'a-deployment-secret-of-at-least-32-characters' };
    const interpolate = (value: string | number) =>
      String(value)
        .replace(/\$\{\w+:-([^}]*)\}/g, '$1')
        .replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => exported[name] ?? '');
    const env = Object.fromEntries(
      Object.entries(service?.environment ?? {}).map(([key, value]) => [key, interpolate(value)]),
    );
    // The image runs with NODE_ENV=production (Dockerfile), where every secret must be set.
    const config = loadConfig({ ...env, NODE_ENV: 'production' });
    expect(config.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(new URL(config.DATABASE_URL).hostname).toBe('postgres');
  });

  it('starts the API and workers only after migrations and a healthy Temporal, each with its own entry point', () => {
    for (const name of ['api', 'worker']) expect(dependsOn(name).sort()).toEqual(['migrate', 'temporal']);
    // node directly, not npx: a shell in between would swallow docker stop's SIGTERM.
    // Compiled JavaScript from the image's dist/ (Dockerfile); test/integration/production-build.test.ts starts them.
    expect(services.api?.command).toEqual(['node', 'dist/api/index.js']);
    expect(services.worker?.command).toEqual(['node', 'dist/worker/index.js']);
    expect(services.migrate?.command).toEqual(['node', 'dist/scripts/migrate.js', 'deploy']);
  });

  it("keeps the API's inbound spool on a named volume the service's user can write (INBOUND_SPOOL_DIR's default)", () => {
    const spool = `/app/${loadConfig({ DATABASE_URL: 'postgresql://x@localhost/x' }).INBOUND_SPOOL_DIR}`;
    expect(services.api?.volumes).toEqual([`inbound-spool:${spool}`]);
    expect(Object.keys(compose.volumes)).toContain('inbound-spool');
    // A named volume takes the ownership of the image's directory when first created: made and handed to `node` before
    // the image switches to that user (a directory Docker made itself would be root's, and every keep would fail).
    const made = dockerfile.indexOf(`mkdir -p ${spool} && chown -R node:node /app/.data`);
    expect(made).toBeGreaterThan(-1);
    expect(made).toBeLessThan(dockerfile.indexOf('USER node'));
  });
});
