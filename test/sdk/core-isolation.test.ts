/**
 * pinctl/sdk/core runs where Node does not: no node: module, no Buffer, nothing from the CLI,
 * monitor or service. Checked on the source import graph, and by bundling it with esbuild for the
 * neutral platform with no externals (any node: import or missing module fails the build).
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { importGraph } from './import-graph.js';

const ROOT = join(import.meta.dirname, '..', '..');
// src/vocab/hostname, ip and pin: the one host-name and pin grammar, pure JavaScript (test/vocab/ip.test.ts).
const CORE_FILES = /^src\/(sdk\/core\/[^/]+|bundle\/(?!sign\.)[^/]+|core\/(x509-structure|der)|vocab\/(hostname|ip|pin)|errors)\.ts$/;

describe('pinctl/sdk/core stands alone, runtime-neutral', () => {
  const cases = [
    { entry: 'src/sdk/core/index.ts', packages: ['@noble/curves', '@noble/hashes'] },
    // tldts: the Public Suffix List; the pinning library is imported for its types only.
    { entry: 'src/sdk/react-native/index.ts', packages: ['@noble/curves', '@noble/hashes', 'tldts', 'react-native-ssl-public-key-pinning'] },
  ];
  for (const { entry, packages: allowed } of cases) {
    it(`${entry}: no node: import, only core and bundle files, packages ${allowed.join(', ')}`, () => {
      const { files, packages, builtins } = importGraph(join(ROOT, entry));
      expect([...builtins]).toEqual([]);
      expect(files.filter((f) => !CORE_FILES.test(f) && !f.startsWith('src/sdk/react-native/'))).toEqual([]);
      expect([...packages].filter((p) => !allowed.includes(p))).toEqual([]);
      for (const f of files) {
        const code = readFileSync(join(ROOT, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
        expect(code, f).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(/);
      }
    });
  }

  it('bundles for platform=neutral with no externals; the inputs hold no cli/, monitor/ or service code', async () => {
    const r = await build({
      entryPoints: [join(ROOT, 'src/sdk/core/index.ts')],
      bundle: true,
      write: false,
      platform: 'neutral',
      mainFields: ['module', 'main'],
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((i) => /^(cli|monitor)\/|src\/(service|net|formats)\/|^node:/.test(i))).toEqual([]);
    expect(inputs).toContain('src/bundle/ed25519.ts');
    expect(inputs.some((i) => i.startsWith('node_modules/@noble/curves/'))).toBe(true);
  });
});
