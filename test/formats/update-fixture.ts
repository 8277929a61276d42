/** The pin set --update tests write into the before-files of test/golden/update/. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PinSet } from '../../src/core/model.js';
import { renderConfig } from '../../src/formats/index.js';
import { UpdateOutcome, updateConfig, updateFormatOf } from '../../src/formats/update.js';
import { pinOf } from './fixture.js';

export const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden', 'update');
export const INTER = pinOf('intermediate.pem');
export const ROOT = pinOf('root.pem');
export const BACKUP = pinOf('backup.key');
export const OLD_A = `${'A'.repeat(43)}=`;
export const OLD_B = `${'B'.repeat(42)}E=`;
export const OLD_C = `${'C'.repeat(42)}E=`;

/** What generate would write: api.example.com (exists in every before-file) and new.example.com (new). */
export const generated: PinSet = {
  expiration: '2027-06-30',
  domains: [
    { domain: 'api.example.com', includeSubdomains: false, endpoints: [], pins: [
      { spkiSha256: INTER, role: 'intermediate', subject: 'CN=pinctl Test Intermediate CA', notAfter: null, source: 'test' },
      { spkiSha256: ROOT, role: 'root', subject: 'CN=pinctl Test Root CA', notAfter: null, source: 'test' },
    ] },
    { domain: 'new.example.com', includeSubdomains: true, endpoints: [], pins: [
      { spkiSha256: INTER, role: 'intermediate', subject: 'CN=pinctl Test Intermediate CA', notAfter: null, source: 'test' },
      { spkiSha256: BACKUP, role: 'backup', subject: null, notAfter: null, source: 'backup.key' },
    ] },
  ],
};

export function runCase(name: string, wanted?: string): { before: string; after: string; outcome: UpdateOutcome } {
  const file = ['before.xml', 'before.plist', 'before.json'].map((f) => join(DIR, name, f)).find((f) => existsSync(f))!;
  const before = readFileSync(file, 'utf8');
  const format = updateFormatOf(before, file, wanted);
  const outcome = updateConfig(before, file, format, generated, renderConfig(format, generated).content);
  return { before, after: outcome.content, outcome };
}

