/**
 * A tiny mustache subset, so the config layouts live in editable files under templates/ rather
 * than in string concatenation: {{name}} (escaped), {{{name}}} and {{&name}} (raw), sections
 * {{#x}}…{{/x}}, inverted {{^x}}…{{/x}}, comments {{! … }}, dotted names and {{.}}.
 *
 * Stricter than mustache on purpose: a name that resolves to nothing is an error rather than an
 * empty string, so a typo in a template cannot silently drop pins from a generated config.
 */

export type Escape = (value: string) => string;

/** A template that does not parse, or asks for data the view does not have (a programming error). */
export class TemplateError extends Error {}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'var'; name: string; raw: boolean; line: number }
  | { kind: 'section'; name: string; inverted: boolean; line: number; children: Node[] };

const NAME = /^(?:\.|[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)$/;
const STANDALONE_TAIL = /[ \t]*(?:\r?\n|$)/y;
const cache = new Map<string, Node[]>();

export function render(template: string, view: unknown, escape: Escape): string {
  let nodes = cache.get(template);
  if (!nodes) {
    nodes = parse(template);
    if (cache.size > 64) cache.clear();
    cache.set(template, nodes);
  }
  const out: string[] = [];
  renderNodes(nodes, [view], escape, out);
  return out.join('');
}

function lineAt(template: string, pos: number): number {
  let line = 1;
  for (let i = template.indexOf('\n'); i !== -1 && i < pos; i = template.indexOf('\n', i + 1)) line++;
  return line;
}

function parse(template: string): Node[] {
  const root: Node[] = [];
  const stack: { name: string; line: number; children: Node[] }[] = [];
  let children = root;
  let textStart = 0;
  let pos = 0;
  for (;;) {
    const open = template.indexOf('{{', pos);
    if (open === -1) break;
    const triple = template.startsWith('{{{', open);
    const close = template.indexOf(triple ? '}}}' : '}}', open + 2);
    const line = lineAt(template, open);
    if (close === -1) throw new TemplateError(`template line ${line}: unterminated tag`);
    const end = close + (triple ? 3 : 2);
    let body = template.slice(open + (triple ? 3 : 2), close).trim();
    let sigil = triple ? '{' : '';
    if (!triple && /^[#^/!&]/.test(body)) {
      sigil = body[0]!;
      body = body.slice(1).trim();
    }
    if (sigil !== '!' && !NAME.test(body)) throw new TemplateError(`template line ${line}: bad tag name "${body}"`);

    // Standalone section/comment tags own their whole line: drop its indent and newline.
    let textEnd = open;
    let next = end;
    if (sigil === '#' || sigil === '^' || sigil === '/' || sigil === '!') {
      const lineStart = template.lastIndexOf('\n', open - 1) + 1;
      STANDALONE_TAIL.lastIndex = end;
      const after = STANDALONE_TAIL.exec(template);
      if (lineStart >= textStart && /^[ \t]*$/.test(template.slice(lineStart, open)) && after) {
        textEnd = lineStart;
        next = end + after[0].length;
      }
    }
    if (textEnd > textStart) children.push({ kind: 'text', text: template.slice(textStart, textEnd) });

    if (sigil === '#' || sigil === '^') {
      const section: Node = { kind: 'section', name: body, inverted: sigil === '^', line, children: [] };
      children.push(section);
      stack.push({ name: body, line, children });
      children = section.children;
    } else if (sigil === '/') {
      const top = stack.pop();
      if (!top || top.name !== body) {
        throw new TemplateError(`template line ${line}: {{/${body}}} closes ${top ? `{{#${top.name}}} from line ${top.line}` : 'nothing'}`);
      }
      children = top.children;
    } else if (sigil !== '!') {
      children.push({ kind: 'var', name: body, raw: sigil === '{' || sigil === '&', line });
    }
    textStart = pos = next;
  }
  if (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    throw new TemplateError(`template line ${top.line}: {{#${top.name}}} is never closed`);
  }
  if (textStart < template.length) children.push({ kind: 'text', text: template.slice(textStart) });
  return root;
}

function lookup(name: string, stack: unknown[], line: number): unknown {
  if (name === '.') return stack[stack.length - 1];
  const [first, ...rest] = name.split('.') as [string, ...string[]];
  for (let i = stack.length - 1; i >= 0; i--) {
    const ctx = stack[i];
    if (ctx !== null && typeof ctx === 'object' && Object.prototype.hasOwnProperty.call(ctx, first)) {
      let value = (ctx as Record<string, unknown>)[first];
      for (const part of rest) {
        if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, part)) {
          throw new TemplateError(`template line ${line}: "${name}" has no "${part}"`);
        }
        value = (value as Record<string, unknown>)[part];
      }
      return value;
    }
  }
  throw new TemplateError(`template line ${line}: nothing named "${name}" in the view`);
}

function truthy(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : Boolean(value);
}

function renderNodes(nodes: Node[], stack: unknown[], escape: Escape, out: string[]): void {
  for (const node of nodes) {
    if (node.kind === 'text') {
      out.push(node.text);
    } else if (node.kind === 'var') {
      const value = lookup(node.name, stack, node.line);
      if (value === null || value === undefined) continue;
      if (typeof value === 'object') throw new TemplateError(`template line ${node.line}: "${node.name}" is not a scalar`);
      const text = String(value);
      out.push(node.raw ? text : escape(text));
    } else {
      const value = lookup(node.name, stack, node.line);
      if (node.inverted) {
        if (!truthy(value)) renderNodes(node.children, stack, escape, out);
      } else if (Array.isArray(value)) {
        for (const item of value) renderNodes(node.children, [...stack, item], escape, out);
      } else if (truthy(value)) {
        renderNodes(node.children, [...stack, value], escape, out);
      }
    }
  }
}
