/** Entry of dist/hermes/client-harness.js: runClientScenario on the bundled vector files; prints `N passed, M failed`. */
// @ts-expect-error generated at build time
import vectors from 'pinctl-vectors';
import { base64DecodeStrict } from '../../src/bundle/bytes.js';
import { runClientScenario } from './client-scenario.js';

const out = (globalThis as { print?: (s: string) => void }).print ?? ((s: string) => console.log(s));
const encoded = vectors as { manifest: { defaults: { now: string } }; files: Record<string, string> };
const files: Record<string, Uint8Array> = {};
for (const [name, b64] of Object.entries(encoded.files)) files[name] = base64DecodeStrict(b64)!;

runClientScenario(files, new Date(encoded.manifest.defaults.now)).then(
  (checks) => {
    for (const c of checks) if (!c.ok) out(`FAIL ${c.name} ${c.detail}`);
    const failed = checks.filter((c) => !c.ok).length;
    out(`${checks.length - failed} passed, ${failed} failed`);
  },
  (e: unknown) => out(`FAIL the scenario threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n0 passed, 1 failed`),
);
