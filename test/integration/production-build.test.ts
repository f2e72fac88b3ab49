// The image's build, as far as this machine can run it without a Docker engine: TypeScript compiled as `npm run build`
// compiles it, production dependencies only (`npm ci --omit=dev`, as the Dockerfile's runtime stage), and the compiled
// entry points started from dist/ against the suite's PostgreSQL and Temporal: migrations, the API and a worker.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../common/free-port.js';
import { projectRoot } from '../../scripts/stack/paths.js';

const image = path.join(projectRoot, '.data', `production-build-${process.pid}`);
const packageJson = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const children: ChildProcess[] = [];

beforeAll(() => {
  rmSync(image, { recursive: true, force: true });
  mkdirSync(image, { recursive: true });
  for (const file of ['package.json', 'package-lock.json'])
    cpSync(path.join(projectRoot, file), path.join(image, file));
  cpSync(path.join(projectRoot, 'prisma', 'migrations'), path.join(image, 'prisma', 'migrations'), { recursive: true });
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: image,
    stdio: 'pipe',
  });
  const tsc = path.join(projectRoot, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', path.join(projectRoot, 'tsconfig.build.json'), '--outDir', path.join(image, 'dist')], {
    cwd: projectRoot,
    stdio: 'pipe',
  });
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/build-workflow-bundle.ts', path.join(image, 'dist', 'workflow-bundle.js')],
    { cwd: projectRoot, stdio: 'pipe' },
  );
  // As `npm run build` does: the dashboard's browser files are not TypeScript, so tsc leaves them behind.
  cpSync(path.join(projectRoot, 'api', 'dashboard', 'assets'), path.join(image, 'dist', 'api', 'dashboard', 'assets'), {
    recursive: true,
  });
}, 300_000);
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(image, { recursive: true, force: true });
});

/**
 * A database of its own on the suite's server: the compiled migration re-keys opt-out hashes with the production
 * secret, which must not touch the rows the other test files keep under the development one.
 */
async function freshDatabase(): Promise<string> {
  const url = new URL(inject('databaseUrl'));
  const name = `production_build_${process.pid}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}

function javascriptFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? javascriptFiles(file) : file.endsWith('.js') ? [file] : [];
  });
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for relative and built-in ones. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) return null;
  const [first = '', second = ''] = specifier.split('/');
  return first.startsWith('@') ? `${first}/${second}` : first;
}

/** Starts a compiled entry point and resolves with its output once `ready` appears in it. */
function startCompiled(entry: string, env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(image, 'dist', entry)], {
    cwd: image,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      OPT_OUT_HASH_SECRET: 'a-deployment-secret-of-at-least-32-characters',
      ...env,
    },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${entry} exited ${code} before it was ready:\n${output}`)));
  });
}

describe('the production build', () => {
  it('imports only packages listed in dependencies', () => {
    const imported = new Set<string>();
    for (const file of javascriptFiles(path.join(image, 'dist'))) {
      if (file.endsWith('workflow-bundle.js')) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()\s*['"]([^'"]+)['"]/g)) {
        const name = packageOf(match[1] ?? '');
        if (name) imported.add(name);
      }
    }
    expect([...imported].filter((name) => !(name in packageJson.dependencies))).toEqual([]);
    expect(imported.size).toBeGreaterThan(10);
  });

  it('migrates, and starts the API and a worker from dist/ with production dependencies only', async () => {
    const databaseUrl = await freshDatabase();
    const temporalAddress = inject('temporalAddress');
    expect(
      execFileSync(process.execPath, [path.join(image, 'dist', 'scripts', 'migrate.js'), 'deploy'], {
        cwd: image,
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: databaseUrl,
          NODE_ENV: 'production',
          OPT_OUT_HASH_SECRET: 'a-deployment-secret-of-at-least-32-characters',
        },
        encoding: 'utf8',
      }),
    ).toMatch(/^applied: .*_init, .*_events_and_webhooks/);

    const port = await freePort();
    const common = {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `production-build-${process.pid}`,
    };
    await startCompiled('api/index.js', { ...common, API_HOST: '127.0.0.1', API_PORT: String(port) }, /API listening/);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    for (const asset of ['dashboard.js', 'chart.umd.min.js'])
      expect((await fetch(`http://127.0.0.1:${port}/dashboard/assets/${asset}`)).status).toBe(200);

    const worker = await startCompiled(
      'worker/index.js',
      { ...common, WORKFLOW_BUNDLE_PATH: path.join(image, 'dist', 'workflow-bundle.js'), WORKER_METRICS_PORT: '0' },
      /worker started/,
    );
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});
