import { CliIO } from '../io.js';
import { readItems } from '../files.js';
import { printError, printJson, style } from '../style.js';
import { InputItem } from '../../src/core/input.js';
import { isoDate } from '../../src/core/chain.js';

export interface PinsOptions {
  json?: boolean;
}

export function itemJson(i: InputItem) {
  const c = i.cert;
  return {
    source: i.source,
    index: i.index,
    kind: i.kind,
    subject: c?.subject ?? null,
    issuer: c?.issuer ?? null,
    serialNumber: c?.serialNumber ?? null,
    notBefore: c?.notBefore.toISOString() ?? null,
    notAfter: c?.notAfter.toISOString() ?? null,
    keyType: i.keyType,
    keyBits: i.keyBits,
    curve: i.curve,
    isCA: c?.isCA ?? null,
    spkiSha256: i.spkiSha256,
    sha256Fingerprint: c?.sha256Fingerprint ?? null,
  };
}

function keyLabel(i: InputItem): string {
  if (i.keyType === 'ec') return `EC ${i.curve ?? ''}`.trim();
  return `${i.keyType.toUpperCase()}${i.keyBits ? ` ${i.keyBits}` : ''}`;
}

export async function pinsCommand(files: string[], opts: PinsOptions, io: CliIO): Promise<number> {
  const s = style(io, io.stdout);
  const items: InputItem[] = [];
  let failed = false;
  for (const f of files) {
    try {
      items.push(...(await readItems(f, io)));
    } catch (e) {
      printError(io, e); // one bad file never hides the others' pins
      failed = true;
    }
  }
  if (opts.json) {
    printJson(io, items.map(itemJson));
  } else {
    for (const i of items) {
      const c = i.cert;
      const lines = [`${s.bold(`${i.source} #${i.index + 1}`)} ${i.kind}${c?.isCA ? ' (CA)' : ''}`];
      if (c) {
        lines.push(`  subject      ${c.subject || '(empty)'}`, `  issuer       ${c.issuer || '(empty)'}`, `  validity     ${isoDate(c.notBefore)} → ${isoDate(c.notAfter)}`);
      }
      lines.push(`  key          ${keyLabel(i)}`, `  spki-sha256  ${i.spkiSha256}`);
      if (c) lines.push(`  sha256       ${c.sha256Fingerprint}`);
      io.stdout.write(`${lines.join('\n')}\n\n`);
    }
  }
  return failed ? 2 : 0;
}
