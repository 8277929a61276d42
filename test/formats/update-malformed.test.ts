/**
 * The update readers against broken input: every cut and random mutation of each before-file
 * either updates (and the result reads back) or is refused with an InputError; never a crash, and
 * never a written file that no longer parses.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readConfig, renderConfig } from '../../src/formats/index.js';
import { updateConfig, updateFormatOf } from '../../src/formats/update.js';
import { generated } from './update-fixture.js';
import { unifiedDiff } from '../../src/formats/diff.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden', 'update');
const cases = readdirSync(DIR).map((name) => {
  const file = readdirSync(join(DIR, name)).find((f) => f.startsWith('before.'))!;
  return { name, text: readFileSync(join(DIR, name, file), 'utf8'), wanted: name === 'info-plist-bare' ? 'ios' : undefined };
});

function attempt(text: string, wanted: string | undefined): 'updated' | 'refused' {
  try {
    const format = updateFormatOf(text, 'mutated', wanted);
    const out = updateConfig(text, 'mutated', format, generated, renderConfig(format, generated).content);
    readConfig(out.content, 'result'); // what would be written must parse
    return 'updated';
  } catch (e) {
    if (e instanceof InputError) return 'refused';
    throw e;
  }
}

/** A small deterministic PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

describe.each(cases)('update reader, malformed $name', ({ text, wanted }) => {
  it('every 5th truncation is updated or refused with an InputError', () => {
    const outcomes = new Set<string>();
    for (let cut = 0; cut < text.length; cut += 5) outcomes.add(attempt(text.slice(0, cut), wanted));
    expect(outcomes.has('refused')).toBe(true);
  });
  it('300 random mutations are updated or refused with an InputError', () => {
    const next = rng(text.length);
    const alphabet = '<>/"=&!?-[] \n\tabcxyz012';
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const chars = [...text];
      for (let k = 0; k < 3; k++) {
        const at = Math.floor(next() * chars.length);
        const op = next();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.8) chars[at] = alphabet[Math.floor(next() * alphabet.length)]!;
        else chars.splice(at, 0, alphabet[Math.floor(next() * alphabet.length)]!);
      }
      if (attempt(chars.join(''), wanted) === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(0);
  });
});

/** Applies a unified diff to `before` (hunks in order), as patch(1) would. */
function applyDiff(before: string, diff: string): string {
  const src = before.split('\n');
  const out: string[] = [];
  let at = 0;
  for (const hunk of diff.split(/^(?=@@ )/m).slice(1)) {
    const [header, ...body] = hunk.replace(/\n$/, '').split('\n');
    const start = Number(/^@@ -(\d+)/.exec(header!)![1]) - 1;
    while (at < start) out.push(src[at++]!);
    for (const line of body) {
      if (line.startsWith('+')) out.push(line.slice(1));
      else {
        expect(src[at], `context/removed line ${at + 1}`).toBe(line.slice(1));
        if (line.startsWith(' ')) out.push(src[at]!);
        at++;
      }
    }
  }
  while (at < src.length) out.push(src[at++]!);
  return out.join('\n');
}

describe('unified diff', () => {
  it('applied to the before-file gives the after-file, with as many changed lines as `diff -u`', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-diff-'));
    for (const { name, text, wanted } of cases.filter((c) => !c.name.includes('crlf'))) {
      const format = updateFormatOf(text, name, wanted);
      const after = updateConfig(text, name, format, generated, renderConfig(format, generated).content).content;
      const ours = unifiedDiff(text, after, 'a', 'b');
      expect(applyDiff(text, ours), name).toBe(after);
      writeFileSync(join(dir, 'a'), text);
      writeFileSync(join(dir, 'b'), after);
      let theirs = '';
      try {
        execFileSync('diff', ['-u', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
      } catch (e) {
        theirs = (e as { stdout: string }).stdout; // diff exits 1 when the files differ
      }
      const count = (d: string, c: string) => d.split('\n').filter((l) => l.startsWith(c) && !l.startsWith(c.repeat(3))).length;
      expect([count(ours, '+'), count(ours, '-')], name).toEqual([count(theirs, '+'), count(theirs, '-')]);
    }
  });
  it('is empty for equal texts', () => expect(unifiedDiff('x\n', 'x\n', 'a', 'b')).toBe(''));
});
