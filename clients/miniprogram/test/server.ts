// Builds wxid from this repository once and runs it on free ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const gomod = join(dir, 'go.mod');
    if (existsSync(gomod) && /^module\s+github\.com\/wxid\/wxid\s*$/m.test(readFileSync(gomod, 'utf8'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the wxid repository root above ' + __dirname);
    dir = parent;
  }
}

let dir: string | undefined;
function workDir(): string {
  if (!dir) dir = mkdtempSync(join(tmpdir(), 'wxid-client-test-'));
  return dir;
}

/** `go build` of the server (or $WXID_BIN when set). */
export function buildServer(): string {
  if (process.env.WXID_BIN) return process.env.WXID_BIN;
  const bin = join(workDir(), 'wxid');
  const r = spawnSync('go', ['build', '-o', bin, '.'], { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`go build failed:\n${r.stdout}${r.stderr}`);
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  url: string;
  /** The server's output so far. */
  log(): string;
  stop(): Promise<void>;
}

let serial = 0;

/** Starts the server with the given environment and waits for /healthz. */
export async function startServer(bin: string, env: Record<string, string>): Promise<RunningServer> {
  const id = ++serial;
  const logPath = join(workDir(), `server-${id}.log`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fd = openSync(logPath, 'w');
  const child: ChildProcess = spawn(bin, [], {
    cwd: workDir(),
    env: {
      // The caller's environment without any WXID_* setting, then ours.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WXID_'))),
      WXID_ENV: 'development',
      WXID_ADDR: `127.0.0.1:${port}`,
      WXID_DATABASE_URL: `sqlite://${join(workDir(), `wxid-${id}.db`)}`,
      ...env,
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`wxid exited during start-up:\n${log()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wxid did not answer /healthz within 30s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    log,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exitPromise;
        clearTimeout(t);
      }
    },
  };
}

export function cleanup(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

/** A raw GraphQL call with an explicit skey, bypassing the client. */
export async function rawGraphQL(
  url: string,
  query: string,
  skey?: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (skey) headers.authorization = `Bearer ${skey}`;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: `non-JSON answer (HTTP ${res.status}): ${text.slice(0, 200)}` }] };
  }
  return { status: res.status, body };
}
