/**
 * The x509-limbo corpus (../shared/corpus/x509-limbo-certs.tgz: real-world-shaped certificates,
 * empty Names, odd encodings) through `pinctl pins --json`: every certificate openssl reads gives
 * openssl's pin and fingerprint, or the file is refused with a clear one-line error; never a crash.
 * openssl's answers were computed with the openssl CLI alone by fixtures/limbo/make-openssl-pins.sh
 * (900 openssl runs take minutes on a busy machine; the corpus hash below says when to re-run it).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CORPUS = join(ROOT, '..', 'shared', 'corpus', 'x509-limbo-certs.tgz');
const EXPECTED = join(ROOT, 'fixtures', 'limbo', 'openssl-pins.json');

interface OpensslAnswer {
  spkiSha256: string;
  sha256Fingerprint: string;
}
interface Expected {
  corpusSha256: string;
  files: Record<string, (OpensslAnswer | null)[]>;
}
interface Printed {
  source: string;
  index: number;
  spkiSha256: string;
  sha256Fingerprint: string | null;
}

const present = existsSync(CORPUS);
if (!present) console.warn(`x509-limbo corpus test skipped: ${CORPUS} is absent (../shared is not mounted here)`);

describe.skipIf(!present)('x509-limbo corpus through pins --json', () => {
  it('every certificate openssl reads gives openssl\'s pin, or its file is refused clearly', async () => {
    const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as Expected;
    const corpusSha = createHash('sha256').update(readFileSync(CORPUS)).digest('hex');
    expect(corpusSha, 'the corpus changed: run `bash fixtures/limbo/make-openssl-pins.sh` and commit the result').toBe(expected.corpusSha256);

    const dir = mkdtempSync(join(tmpdir(), 'pinctl-limbo-'));
    execFileSync('tar', ['xzf', CORPUS, '-C', dir]);
    const files = readdirSync(join(dir, 'limbo')).sort().map((f) => join(dir, 'limbo', f));
    expect(files.length).toBeGreaterThan(900);

    const r = await cli(['pins', '--json', ...files]);
    const printed = JSON.parse(r.stdout) as Printed[];
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    // No crash text and no stack trace anywhere.
    expect(r.stderr).not.toMatch(/Cannot read properties|undefined|TypeError|\bat .*\.[jt]s:\d+/);
    expect(r.stderr.split('\n').filter((l) => l && !/^(error|hint): /.test(l))).toEqual([]);

    let compared = 0;
    for (const [name, answers] of Object.entries(expected.files)) {
      const path = join(dir, 'limbo', name);
      const mine = printed.filter((p) => p.source === path).sort((a, b) => a.index - b.index);
      const refused = errors.some((e) => e.startsWith(`error: ${path}`));
      if (refused) {
        expect(mine, `${name} refused but also printed`).toEqual([]);
        continue;
      }
      expect(mine.length, `${name}: certificates printed`).toBe(answers.length);
      answers.forEach((a, i) => {
        if (a === null) return; // openssl refuses it; reading it anyway is not an error
        expect(mine[i]!.spkiSha256, `${name} #${i + 1} pin`).toBe(a.spkiSha256);
        expect(mine[i]!.sha256Fingerprint, `${name} #${i + 1} fingerprint`).toBe(a.sha256Fingerprint);
        compared++;
      });
    }
    // Most of the corpus is ordinary certificates: a reader that refused them all would pass above.
    expect(compared).toBeGreaterThan(900);
    // Files not in the answers (keys, CSRs) were read or refused, one line each.
    const others = files.filter((f) => !(f.split('/').pop()! in expected.files));
    for (const f of others) {
      expect(printed.some((p) => p.source === f) || errors.some((e) => e.startsWith(`error: ${f}`)), f).toBe(true);
    }
  }, 120_000);
});
