// The package as a mini-program team gets it: `npm pack` (which builds dist/),
// install the tarball into a fresh strict TypeScript project together with
// miniprogram-api-typings, and type-check pack-test/ (an app.ts and a page
// that use every operation of the client, and a Taro app) with both module
// resolutions mini-program projects use. Dependency versions are the ones
// package-lock.json pins, so after the first run npm's cache serves them all
// (offline works).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(pkgDir, 'package-lock.json'), 'utf8'));
const locked = (name) => {
  const v = lock.packages[`node_modules/${name}`]?.version;
  if (!v) throw new Error(`${name} is not in package-lock.json`);
  return v;
};
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(pkgDir, 'node_modules/typescript/bin/tsc');

let failures = 0;
let passes = 0;
function check(ok, what) {
  if (ok) {
    passes++;
    console.log(`ok - ${what}`);
  } else {
    failures++;
    console.log(`not ok - ${what}`);
  }
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim(), stdout: r.stdout ?? '' };
}

const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'wxid-pack-'));
try {
  // 1. npm pack: prepack builds dist/.
  const packed = run(npm, ['pack', '--json', '--pack-destination', tmp], pkgDir);
  if (!packed.ok) throw new Error(`npm pack failed:\n${packed.out}`);
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
  const tarball = join(tmp, info.filename);
  const files = info.files.map((f) => f.path).sort();
  console.log(`packed ${info.filename}: ${files.length} files, ${info.size} bytes`);
  check(existsSync(tarball), 'npm pack wrote a tarball');
  for (const f of ['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/generated/graphql.d.ts']) {
    check(files.includes(f), `the tarball has ${f}`);
  }
  check(!files.some((f) => /^(src|test|build|scripts|pack-test|node_modules)\//.test(f)), 'the tarball has no sources, tests or scripts');
  check(pkg.license === 'MIT' && readFileSync(join(pkgDir, '../../LICENSE'), 'utf8').startsWith('MIT License'), 'package.json and the repository are MIT');

  // 2. A fresh project: the tarball and miniprogram-api-typings, nothing else.
  const project = join(tmp, 'project');
  cpSync(join(pkgDir, 'pack-test'), project, { recursive: true });
  cpSync(join(pkgDir, 'test/taro.ts'), join(project, 'taro/taro-types.ts'));
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'wxid-pack-test',
        private: true,
        dependencies: { [pkg.name]: `file:${tarball}`, 'miniprogram-api-typings': locked('miniprogram-api-typings') },
        // What the client's lock file pins, so the cache serves every package.
        overrides: {
          '@graphql-typed-document-node/core': locked('@graphql-typed-document-node/core'),
          graphql: locked('graphql'),
        },
      },
      null,
      2,
    ),
  );
  const installed = run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], project);
  if (!installed.ok) throw new Error(`npm install failed:\n${installed.out}`);
  const nm = join(project, 'node_modules');
  check(existsSync(join(nm, pkg.name, 'dist/index.js')), `${pkg.name} installed from the tarball`);
  check(
    existsSync(join(nm, '@graphql-typed-document-node/core/package.json')),
    'its type dependency @graphql-typed-document-node/core came with it',
  );

  // 3. Every operation of the client is used by the sample.
  const sample = readTree(join(project, 'miniprogram')) + readTree(join(project, 'taro'));
  const dts = readFileSync(join(nm, pkg.name, 'dist/generated/graphql.d.ts'), 'utf8');
  const documents = [...dts.matchAll(/export declare const (\w+(?:Document|FragmentDoc)):/g)].map((m) => m[1]);
  const clientDts = readFileSync(join(nm, pkg.name, 'dist/client.d.ts'), 'utf8');
  const body = clientDts.slice(clientDts.indexOf('export interface WxidClient {'));
  const methods = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {4}(\w+)[(<]/gm)].map((m) => m[1]);
  check(documents.length >= 7 && methods.length >= 10, `found ${documents.length} documents and ${methods.length} client methods`);
  for (const d of documents) check(new RegExp(`\\b${d}\\b`).test(sample), `the sample uses ${d}`);
  for (const m of methods) check(sample.includes(`.${m}(`), `the sample calls ${m}()`);

  // 4. Type-check, as a native mini-program (node10 resolution: main/types)
  // and as a bundler project (exports with the types condition).
  for (const config of ['tsconfig.json', 'tsconfig.bundler.json']) {
    const r = run(process.execPath, [tsc, '-p', config], project);
    check(r.ok, `strict type check with ${config}`);
    if (!r.ok) console.log(r.out);
  }

  // 5. It loads: require (mini-program and CommonJS) and import.
  const names = ['createClient', 'isWxidError', 'WxidError', 'parseResponse', 'MeDocument'];
  const req = run(process.execPath, ['-e', `const m = require(${JSON.stringify(pkg.name)}); console.log(${JSON.stringify(names)}.filter((n) => !m[n]).join(','))`], project);
  check(req.ok && req.stdout.trim() === '', `require('${pkg.name}') exports ${names.join(', ')}`);
  const imp = run(
    process.execPath,
    ['--input-type=module', '-e', `import { createClient } from ${JSON.stringify(pkg.name)}; if (typeof createClient !== 'function') process.exit(1);`],
    project,
  );
  check(imp.ok, `import { createClient } from '${pkg.name}'`);
} catch (err) {
  failures++;
  console.log(`not ok - ${err instanceof Error ? err.message : String(err)}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(join(pkgDir, 'LICENSE'), { force: true });
}
console.log(`pack test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`# pass ${passes}\n# fail ${failures}`);
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);

function readTree(dir) {
  let text = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    text += statSync(p).isDirectory() ? readTree(p) : readFileSync(p, 'utf8');
  }
  return text;
}
