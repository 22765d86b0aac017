// Fails when src/generated/graphql.ts is not what GraphQL Code Generator makes
// from ../../schema/wxid.graphql and operations/*.graphql right now.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(pkg, 'src/generated/graphql.ts');
const dir = mkdtempSync(join(tmpdir(), 'wxid-codegen-'));
const fresh = join(dir, 'graphql.ts');
try {
  const bin = join(pkg, 'node_modules/@graphql-codegen/cli/cjs/bin.js');
  const r = spawnSync(process.execPath, [bin, '--config', 'codegen.ts', '--silent'], {
    cwd: pkg,
    env: { ...process.env, WXID_CODEGEN_OUT: fresh },
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error('codegen failed');
    process.exit(1);
  }
  if (readFileSync(fresh, 'utf8') !== readFileSync(committed, 'utf8')) {
    console.error('src/generated/graphql.ts is stale: run `npm run codegen` in clients/miniprogram and commit it');
    process.exit(1);
  }
  console.log('src/generated/graphql.ts is up to date');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
