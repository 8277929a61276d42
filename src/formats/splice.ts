/**
 * Text surgery for in-place updates: offsets from the strict XML parser, indentation read from the
 * file itself, and snippets cut from a freshly rendered config re-indented to match. Everything the
 * edit does not touch keeps its bytes (comments, attributes, other elements, blank lines).
 */
import { InputError } from '../errors.js';
import { XmlElement } from './xml.js';

export interface Edit {
  start: number;
  end: number;
  text: string;
}

export interface TextShape {
  body: string;
  bom: boolean;
  crlf: boolean;
}

/** The form the XML parser's offsets refer to: no BOM, "\n" line ends. */
export function shapeOf(text: string): TextShape {
  return {
    body: text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n'),
    bom: text.startsWith('\uFEFF'),
    crlf: /\r\n/.test(text),
  };
}

export function restoreShape(body: string, shape: TextShape): string {
  return `${shape.bom ? '\uFEFF' : ''}${shape.crlf ? body.replace(/\n/g, '\r\n') : body}`;
}

export function applyEdits(body: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.end > sorted[i - 1]!.start) throw new Error('overlapping edits'); // a programming error
  }
  let out = body;
  for (const e of sorted) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

export function span(el: XmlElement): { start: number; end: number } {
  if (el.start === undefined || el.end === undefined) throw new Error(`<${el.name}> has no offsets`);
  return { start: el.start, end: el.end };
}

/** The whitespace before `pos` on its line, or null when other text precedes it on that line. */
export function indentAt(body: string, pos: number): string | null {
  const lineStart = body.lastIndexOf('\n', pos - 1) + 1;
  const before = body.slice(lineStart, pos);
  return /^[ \t]*$/.test(before) ? before : null;
}

/** One indentation step of this file: a child's indent minus its parent's, else the fallback. */
export function indentUnit(body: string, parent: XmlElement, child: XmlElement | undefined, fallback: string): string {
  if (!child) return fallback;
  const p = indentAt(body, span(parent).start);
  const c = indentAt(body, span(child).start);
  if (p === null || c === null || !c.startsWith(p) || c.length === p.length) return fallback;
  return c.slice(p.length);
}

/**
 * A snippet cut from rendered text (starting at an element's "<"), moved from indentation `from`
 * (base indent and unit of the rendered file) to `to` (those of the file being updated).
 */
export function reindent(
  snippet: string,
  from: { base: string; unit: string },
  to: { base: string; unit: string },
): string {
  return snippet
    .split('\n')
    .map((line, i) => {
      if (i === 0) return line;
      let rest = line.startsWith(from.base) ? line.slice(from.base.length) : line.trimStart();
      let depth = 0;
      while (from.unit && rest.startsWith(from.unit)) {
        rest = rest.slice(from.unit.length);
        depth++;
      }
      return rest === '' ? '' : to.base + to.unit.repeat(depth) + rest;
    })
    .join('\n');
}

/** Deletes an element together with its line when nothing else is on that line. */
export function removeElement(body: string, el: XmlElement): Edit {
  const { start, end } = span(el);
  const indent = indentAt(body, start);
  const nl = body.indexOf('\n', end);
  const tail = body.slice(end, nl === -1 ? body.length : nl);
  if (indent !== null && /^[ \t]*$/.test(tail))
    return { start: start - indent.length, end: nl === -1 ? body.length : nl + 1, text: '' };
  return { start, end, text: '' };
}

export function updateRefused(source: string, message: string, hint: string): never {
  throw new InputError('CONFIG_UNSUPPORTED', `${source}: ${message}`, { hint });
}
