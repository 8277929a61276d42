import { InputError } from '../../src/errors.js';
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
      printError(io, looksLikeEndpoint(f, e) ? endpointHint(f) : e); // one bad file never hides the others' pins
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

/** `pinctl pins api.example.com:443`: no such file, and the argument reads as an endpoint. */
function looksLikeEndpoint(arg: string, e: unknown): boolean {
  return e instanceof InputError && e.code === 'INPUT_NOT_FOUND' && (/^https?:\/\//i.test(arg) || /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+\.[a-z0-9-]+)(:\d{1,5})?$/i.test(arg));
}

function endpointHint(arg: string): InputError {
  const host = arg.replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
  const connect = /:\d+$/.test(host) ? host : `${host}:443`;
  return new InputError('INPUT_NOT_FOUND', `${arg}: expected a file (pins reads certificates and keys), found no such file; it looks like an endpoint`, {
    hint: `to pin a live server: pinctl generate ${host}; or: openssl s_client -connect ${connect} -showcerts </dev/null | pinctl pins -`,
  });
}
