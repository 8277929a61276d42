/** docs/FORMATS.md's format table comes from the registry (UPDATE_DOCS=1 rewrites it). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTRY, formatsTableMarkdown } from '../../src/formats/registry.js';
import { run } from '../../cli/run.js';
import { testIO } from '../helpers/cli.js';

const DOC = join(import.meta.dirname, '..', '..', 'docs', 'FORMATS.md');
const BLOCK = /<!-- formats:begin -->\n[\s\S]*?<!-- formats:end -->/;

describe('the format registry feeds docs and help', () => {
  it('docs/FORMATS.md has the registry table', () => {
    let doc = readFileSync(DOC, 'utf8');
    const block = `<!-- formats:begin -->\n${formatsTableMarkdown()}\n<!-- formats:end -->`;
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, (doc = doc.replace(BLOCK, block)));
    expect(BLOCK.exec(doc)?.[0]).toBe(block);
  });
  it('generate --help lists every format with its file name', async () => {
    const io = testIO();
    expect(await run(['generate', '--help'], io)).toBe(0);
    for (const e of REGISTRY) expect(io.out()).toMatch(new RegExp(`\\n  ${e.id.replace('-', '\\-')} +${e.fileName.replace('.', '\\.')} `));
  });
});
