// npm run build:hermes: pinctl/sdk/core as one file the Hermes VM runs (dist/hermes/pinctl-core.js),
// and the vectors harness (dist/hermes/vectors-harness.js) with every vector bundled in (Hermes
// cannot read files).
//
// Hermes 0.12 (hermes-engine-cli, the React Native 0.69/0.70 engine) has BigInt, let/const, async
// functions and generators, but no `class` syntax: Metro's Babel preset lowers classes in every
// React Native app, and so do we, with the same Babel plugin, after esbuild bundled the sources
// (target ES2020: class fields and private members are lowered by esbuild first).
import { build } from 'esbuild';
import { transformAsync } from '@babel/core';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'hermes');
const ED25519_DIR = join(ROOT, '..', 'shared', 'vectors', 'ed25519');

const common = {
  bundle: true,
  write: false,
  platform: 'neutral',
  format: 'esm', // turned into a script below: exports become a plain object
  target: 'es2020',
  // Hermes 0.12 has async function declarations but not async arrows or methods: esbuild
  // lowers every async function to a generator (which Hermes has).
  supported: { bigint: true, 'async-await': false, 'async-generator': false },
  mainFields: ['module', 'main'],
  keepNames: true, // error classes are told apart by name
  legalComments: 'inline', // nothing after the final export statement
  logLevel: 'warning',
};

/** The vectors as a module: manifest, every file it names (base64), the Ed25519 vector files. */
function vectorsPlugin() {
  return {
    name: 'pinctl-vectors',
    setup(b) {
      b.onResolve({ filter: /^pinctl-vectors$/ }, () => ({ path: 'pinctl-vectors', namespace: 'pinctl-vectors' }));
      b.onLoad({ filter: /.*/, namespace: 'pinctl-vectors' }, () => {
        const bundles = join(ROOT, 'fixtures', 'bundles');
        const manifest = JSON.parse(readFileSync(join(bundles, 'vectors.json'), 'utf8'));
        const rolesManifest = JSON.parse(readFileSync(join(bundles, 'vectors-roles.json'), 'utf8'));
        const dir = join(bundles, manifest.directory);
        const files = {};
        for (const f of readdirSync(dir)) if (!f.endsWith('.pae') && !/^key\d\.pem$/.test(f)) files[f] = readFileSync(join(dir, f)).toString('base64');
        const wycheproof = JSON.parse(readFileSync(join(ED25519_DIR, 'wycheproof_ed25519_test.json'), 'utf8'));
        const speccheck = JSON.parse(readFileSync(join(ED25519_DIR, 'speccheck_cases.json'), 'utf8'));
        const slim = { testGroups: wycheproof.testGroups.map((g) => ({ publicKey: { pk: g.publicKey.pk }, tests: g.tests.map(({ tcId, msg, sig, result }) => ({ tcId, msg, sig, result })) })) };
        return { contents: JSON.stringify({ manifest, rolesManifest, files, wycheproof: slim, speccheck }), loader: 'json' };
      });
    },
  };
}

/** Classes to ES5 constructor functions (the plugin React Native's Babel preset uses). */
async function lowerClasses(code, file) {
  const out = await transformAsync(code, { filename: file, babelrc: false, configFile: false, compact: false, plugins: ['@babel/plugin-transform-classes'] });
  return out.code;
}

/**
 * ESM output to a script: the final `export { a, b as c }` becomes `var NAME = { a: a, c: b }`.
 * Not esbuild's iife: its exports are getters (`a: () => a`), and on Hermes 0.12 every one of
 * those getters returned the last exported function (seen with this bundle, not reduced further).
 */
function toScript(code, globalName) {
  const m = /\nexport\s*\{([^}]*)\};?\s*$/.exec(code);
  if (!m) return `(function () {\n${code}\n})();\n`;
  if (!globalName) throw new Error('an entry with exports needs a globalName');
  const pairs = m[1].split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const [local, exported = local] = s.split(/\s+as\s+/);
    return `${JSON.stringify(exported)}: ${local}`;
  });
  return `var ${globalName} = (function () {\n${code.slice(0, m.index)}\nreturn { ${pairs.join(', ')} };\n})();\n`;
}

async function bundle(entry, outFile, { globalName, ...extra } = {}) {
  const r = await build({ ...common, entryPoints: [join(ROOT, entry)], ...extra });
  const code = await lowerClasses(toScript(r.outputFiles[0].text, globalName), outFile);
  writeFileSync(join(OUT, outFile), code);
  return code.length;
}

mkdirSync(OUT, { recursive: true });
const core = await bundle('src/sdk/core/index.ts', 'pinctl-core.js', { globalName: 'pinctlCore' });
const harness = await bundle('test/hermes/vectors-harness.ts', 'vectors-harness.js', { plugins: [vectorsPlugin()] });
const rn = await bundle('src/sdk/react-native/index.ts', 'pinctl-react-native.js', { globalName: 'pinctlReactNative' });
const client = await bundle('test/hermes/client-harness.ts', 'client-harness.js', { plugins: [vectorsPlugin()] });
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.error(`dist/hermes: pinctl-core.js ${kib(core)}, pinctl-react-native.js ${kib(rn)}, vectors-harness.js ${kib(harness)}, client-harness.js ${kib(client)}`);
