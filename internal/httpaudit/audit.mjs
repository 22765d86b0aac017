// Runs graphql-http's GraphQL-over-HTTP server audits against a live wxid
// built from this repository (or $WXID_BIN), started on a free loopback
// port with a throwaway SQLite database and the WeChat sandbox.
//
//   node audit.mjs            build, start, audit, stop
//   node audit.mjs URL        audit a wxid already running at URL (…/graphql)
//
// Every MUST and every SHOULD must pass; the SHOULDs wxid declines on
// purpose are listed in `declined` with the reason (README, "Clients").
// MAY audits are reported but do not fail the run. It ends with a line
// "httpaudit: N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditServer } from 'graphql-http';

/** SHOULD audits wxid declines, by id, with the reason. None today. */
const declined = {};

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startWxid() {
  const dir = mkdtempSync(join(tmpdir(), 'wxid-httpaudit-'));
  let bin = process.env.WXID_BIN;
  if (!bin) {
    bin = join(dir, 'wxid');
    const r = spawnSync('go', ['build', '-o', bin, '.'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('go build failed');
  }
  const port = await freePort();
  const logPath = join(dir, 'wxid.log');
  const fd = openSync(logPath, 'w');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WXID_')));
  const child = spawn(bin, [], {
    cwd: dir,
    env: {
      ...env,
      WXID_ENV: 'development',
      WXID_ADDR: `127.0.0.1:${port}`,
      WXID_DATABASE_URL: `sqlite://${join(dir, 'wxid.db')}`,
      WXID_LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wxid exited:\n${readFileSync(logPath, 'utf8')}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wxid did not start in 30s:\n${readFileSync(logPath, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `${base}/graphql`,
    log: () => readFileSync(logPath, 'utf8'),
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const level = (name) => (name.startsWith('MUST') ? 'MUST' : name.startsWith('SHOULD') ? 'SHOULD' : 'MAY');

async function main() {
  const server = process.argv[2] ? { url: process.argv[2], log: () => '', stop: async () => {} } : await startWxid();
  let passed = 0;
  let failed = 0;
  try {
    const results = await auditServer({ url: server.url });
    for (const r of results) {
      const lvl = level(r.name);
      if (r.status === 'ok') {
        passed++;
        console.log(`ok    ${r.id} ${r.name}`);
        continue;
      }
      const why = r.reason + (r.response ? ` (status ${r.response.status})` : '');
      if (lvl === 'MAY') {
        passed++;
        console.log(`may   ${r.id} ${r.name}: ${why}`);
      } else if (lvl === 'SHOULD' && declined[r.id]) {
        passed++;
        console.log(`decl  ${r.id} ${r.name}: declined: ${declined[r.id]}`);
      } else {
        failed++;
        console.log(`FAIL  ${r.id} ${r.name}: ${why}`);
        if (r.response) console.log(`      body: ${await r.response.text().catch(() => '')}`);
      }
    }
  } finally {
    await server.stop();
  }
  console.log(`httpaudit: ${passed} passed, ${failed} failed`);
  if (failed > 0) {
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
