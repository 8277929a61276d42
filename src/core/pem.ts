/**
 * PEM scanning (RFC 7468). Text around blocks is ignored, as people paste comments and
 * `openssl x509 -text` output next to their certificates; inside a block the base64 is checked
 * strictly, because Buffer.from(..., 'base64') silently skips bad characters.
 */
import { ParseError } from '../errors.js';

export interface PemBlock {
  label: string;
  der: Uint8Array;
  /** RFC 1421 headers such as Proc-Type (present on legacy encrypted keys). */
  headers: Record<string, string>;
  /** 0-based line where the block starts, for error messages. */
  line: number;
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----\s*$/;
const END = /^-----END ([A-Z0-9 ]+)-----\s*$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

export function hasPem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

export function parsePem(text: string, source: string): PemBlock[] {
  // A byte-order mark (as UTF-16 text, or as its three UTF-8 bytes read as latin1) is not content.
  const lines = text.replace(/^(?:\uFEFF|\xEF\xBB\xBF)/, '').split(/\r?\n|\r/);
  const blocks: PemBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const begin = BEGIN.exec(lines[i]!.trim());
    if (!begin) continue;
    const label = begin[1]!;
    const startLine = i;
    const headers: Record<string, string> = {};
    const body: string[] = [];
    let closed = false;
    for (i++; i < lines.length; i++) {
      const line = lines[i]!.trim();
      const end = END.exec(line);
      if (end) {
        if (end[1] !== label) {
          throw new ParseError('PEM_MALFORMED', `${source}: line ${i + 1}: expected "-----END ${label}-----", found "-----END ${end[1]}-----"`);
        }
        closed = true;
        break;
      }
      if (BEGIN.test(line)) break;
      if (body.length === 0 && /^[A-Za-z-]+:/.test(line)) {
        const idx = line.indexOf(':');
        headers[line.slice(0, idx)] = line.slice(idx + 1).trim();
        continue;
      }
      if (line === '') continue;
      const compact = line.replace(/[ \t]+/g, ''); // openssl tolerates blanks inside a line
      if (!BASE64_LINE.test(compact)) {
        throw new ParseError('PEM_MALFORMED', `${source}: line ${i + 1}: expected base64 inside the ${label} block, found ${JSON.stringify(line.slice(0, 40))}`, {
          hint: 'the file is corrupted or was edited; export it again',
        });
      }
      body.push(compact);
    }
    if (!closed) {
      throw new ParseError('PEM_MALFORMED', `${source}: line ${startLine + 1}: the ${label} block has no "-----END ${label}-----" line (truncated file?)`);
    }
    blocks.push({ label, der: decodeBase64Strict(body.join(''), `${source}: line ${startLine + 1}: ${label}`), headers, line: startLine });
  }
  return blocks;
}

export function decodeBase64Strict(b64: string, what: string): Uint8Array {
  if (b64.length === 0) throw new ParseError('PEM_MALFORMED', `${what}: the block is empty`);
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new ParseError('PEM_MALFORMED', `${what}: expected base64 with a length divisible by 4, found ${b64.length} characters`, {
      hint: 'the block was truncated or edited; export it again',
    });
  }
  return new Uint8Array(Buffer.from(b64, 'base64'));
}
