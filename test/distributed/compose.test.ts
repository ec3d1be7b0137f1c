/**
 * The deployment files (issue 3): `compose.yaml` must pass Debian's `docker-compose config` and
 * describe the topology of the README (proxy with sticky sessions, two apis, a worker, Redis with
 * AOF, TRUST_PROXY set to the compose network); the Dockerfile and the proxy config must agree
 * with it. No Docker engine runs here, so images are not built; the container health check script
 * runs for real against local servers.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
// A fixed environment, so the developer's own variables do not change what compose interpolates.
const cleanEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: { type?: string; source: string; target: string }[] | string[];
  ports?: unknown[];
  networks?: Record<string, unknown>;
  healthcheck?: { test: string[] };
}
interface ComposeConfig {
  services: Record<string, ComposeService>;
  networks: Record<string, { ipam?: { config?: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
}

/** `docker-compose config` resolves anchors, merges and defaults; python3-yaml comes with it. */
async function composeConfig(): Promise<ComposeConfig> {
  const { stdout } = await run('docker-compose', ['-f', 'compose.yaml', 'config'], { cwd: ROOT, env: cleanEnv });
  const toJson = run('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], {
    env: cleanEnv,
  });
  toJson.child.stdin?.end(stdout);
  return JSON.parse((await toJson).stdout) as ComposeConfig;
}

function mounts(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });
}

describe.skipIf(!hasCompose)(`compose.yaml${hasCompose ? '' : ' (skipped: docker-compose is not installed; scripts/setup.sh installs it)'}`, () => {
  it('passes docker-compose config', async () => {
    const result = spawnSync('docker-compose', ['-f', 'compose.yaml', 'config', '-q'], { cwd: ROOT, env: cleanEnv, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
  });

  it('runs two api processes behind a proxy, a worker and redis with AOF, sharing Redis and DOWNLOAD_DIR', async () => {
    const config = await composeConfig();
    const { services } = config;
    const roles = Object.fromEntries(Object.entries(services).map(([name, s]) => [name, s.command?.[0] ?? null]));
    const apis = Object.keys(roles).filter((n) => roles[n] === 'api');
    const workers = Object.keys(roles).filter((n) => roles[n] === 'worker');
    expect(apis).toHaveLength(2);
    expect(workers.length).toBeGreaterThanOrEqual(1);

    const app = [...apis, ...workers].map((n) => services[n]!);
    const redisUrls = new Set(app.map((s) => s.environment?.REDIS_URL));
    expect(redisUrls.size).toBe(1);
    const redisUrl = new URL([...redisUrls][0]!);
    expect(redisUrl.protocol).toBe('redis:');
    const redis = services[redisUrl.hostname]!;
    expect(redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(mounts(redis).some((m) => m.target === '/data' && m.source in config.volumes)).toBe(true);

    // One DOWNLOAD_DIR for all, on one named volume.
    for (const s of app) {
      const dir = s.environment?.DOWNLOAD_DIR ?? '/data/downloads';
      const mount = mounts(s).find((m) => m.target === dir);
      expect(mount, `${dir} is not a volume`).toBeDefined();
      expect(mount!.source).toBe(mounts(app[0]!).find((m) => m.target === dir)!.source);
      expect(s.build?.context).toBe(ROOT);
    }

    // TRUST_PROXY is the compose network, where the proxy is.
    const subnets = Object.values(config.networks).flatMap((n) => n.ipam?.config?.map((c) => c.subnet) ?? []);
    expect(subnets).toHaveLength(1);
    for (const s of app) expect(s.environment?.TRUST_PROXY).toBe(subnets[0]);
  });

  it('points the proxy at every api process with sticky sessions', async () => {
    const { services } = await composeConfig();
    const proxy = Object.values(services).find((s) => (s.image ?? '').startsWith('haproxy'));
    expect(proxy?.ports?.length).toBeGreaterThan(0);
    const cfgMount = mounts(proxy!).find((m) => m.target.endsWith('haproxy.cfg'))!;
    expect(path.relative(ROOT, cfgMount.source)).toBe(path.join('deploy', 'haproxy.cfg'));
    const cfg = readFileSync(cfgMount.source, 'utf8');

    const servers = [...cfg.matchAll(/^\s*server\s+\S+\s+([\w-]+):(\d+)\s.*\bcookie\s+\S+/gm)].map((m) => `${m[1]}:${m[2]}`);
    const apis = Object.entries(services)
      .filter(([, s]) => s.command?.[0] === 'api')
      .map(([name, s]) => `${name}:${s.environment?.PORT ?? '8000'}`);
    expect(servers.sort()).toEqual(apis.sort());
    expect(cfg).toMatch(/^\s*cookie\s+\S+\s+insert\b/m);
    expect(cfg).toMatch(/^\s*balance\s+source\b/m);
    expect(cfg).toMatch(/^\s*option\s+forwardfor\b/m);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM\s+/m).slice(1);
  const runtime = stages.at(-1) ?? '';

  it('builds on Node 24 with ffmpeg and a current yt-dlp[default] from pip in a venv', () => {
    for (const stage of stages) expect(stage).toMatch(/^node:24[\w.-]*/);
    expect(runtime).toMatch(/apt-get install[^\n]*\bffmpeg\b/);
    expect(runtime).toMatch(/python3 -m venv (\S+)/);
    const venv = /python3 -m venv (\S+)/.exec(runtime)![1]!;
    expect(runtime).toContain(`${venv}/bin/pip install`);
    expect(runtime).toContain('yt-dlp[default]');
    expect(runtime).toMatch(new RegExp(`YTDLP_PATH=${venv.replace(/[/.]/g, '\\$&')}/bin/yt-dlp\\b`));
  });

  it('runs as a non-root user with a health check script that exists', () => {
    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const health = /^HEALTHCHECK\s.*CMD\s+\["node",\s*"\/app\/([^"]+)"\]/m.exec(runtime);
    expect(health?.[1]).toBe('deploy/healthcheck.mjs');
    expect(runtime).toContain(`COPY ${health![1]} ./${health![1]}`);
    expect(runtime).toMatch(/^ENTRYPOINT\s.*"\/app\/dist\/src\/main\.js"\]/m);
  });

  it('leaves dependencies and build output out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    expect(ignored).not.toContain('deploy');
  });
});

describe('the container health check script', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function healthServer(status: number): Promise<string> {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/health' ? status : 404, { 'content-type': 'application/json' });
      res.end('{}');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return String((server.address() as AddressInfo).port);
  }

  /** A port nothing listens on: a server's, after it closed. */
  async function closedPort(): Promise<string> {
    const port = await healthServer(200);
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function check(env: Record<string, string>): Promise<number> {
    const script = path.join(ROOT, 'deploy/healthcheck.mjs');
    return run(process.execPath, [script], { env: { PATH: cleanEnv.PATH, ...env } }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );
  }

  it('is healthy when the API port answers 200, and when only the worker port does', async () => {
    expect(await check({ PORT: await healthServer(200), WORKER_PORT: await closedPort() })).toBe(0);
    expect(await check({ PORT: await closedPort(), WORKER_PORT: await healthServer(200) })).toBe(0);
  });

  it('is unhealthy on a 503 (degraded) or when nothing answers', async () => {
    expect(await check({ PORT: await healthServer(503), WORKER_PORT: await healthServer(200) })).toBe(1);
    expect(await check({ PORT: await closedPort(), WORKER_PORT: await closedPort() })).toBe(1);
  });
});
