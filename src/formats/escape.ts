/**
 * Per-format escaping. Pins and domain names are validated before rendering, but certificate
 * subjects come from whoever issued the certificate, so every text that reaches a file goes
 * through one of these.
 */
import { Pin } from '../core/model.js';

// Characters XML 1.0 cannot carry at all, not even as character references.
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlEscape(text: string): string {
  return text
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Text for inside <!-- … -->: one line, never "--", never ending in "-". Entities are not decoded there. */
export function xmlCommentText(text: string): string {
  const t = oneLine(text.replace(XML_INVALID, '\uFFFD')).replace(/-(?=-)/g, '- ');
  return t.endsWith('-') ? `${t} ` : t;
}

/** Text for a // comment (Kotlin, TypeScript): no line terminators of any kind. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001F\u007F\u2028\u2029\u0085]+/g, ' ').trim();
}

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Inside a Kotlin "…" string literal; `$` starts a string template there. */
export function kotlinEscape(text: string): string {
  return text.replace(/[\\"$\u0000-\u001F\u007F\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case '"': return '\\"';
      case '$': return '\\$';
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      default: return unicodeEscape(c);
    }
  });
}

/** Inside a JS/TS '…' string literal. */
export function jsEscape(text: string): string {
  return text.replace(/[\\'\u0000-\u001F\u007F\u2028\u2029]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case "'": return "\\'";
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      default: return unicodeEscape(c);
    }
  });
}

/** "leaf: O=…, CN=api.example.com, expires 2036-01-01" — what a reviewer needs next to a pin. */
export function describePin(pin: Pin): string {
  const what = pin.subject !== null ? pin.subject || '(empty subject)' : `public key from ${pin.source}`;
  const until = pin.notAfter === null ? '' : `, expires ${/^\d{4}-\d{2}-\d{2}T/.test(pin.notAfter) ? pin.notAfter.slice(0, 10) : pin.notAfter}`;
  return `${pin.role}: ${what}${until}`;
}
