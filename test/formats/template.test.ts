import { describe, expect, it } from 'vitest';
import { TemplateError, render } from '../../src/formats/template.js';

const upper = (s: string) => s.toUpperCase();
const tag = (s: string) => `[${s}]`;

describe('template renderer', () => {
  it('escapes {{x}} with the given function and leaves {{{x}}} and {{&x}} raw', () => {
    expect(render('{{a}} {{{a}}} {{& a}}', { a: 'x<y' }, tag)).toBe('[x<y] x<y x<y');
  });

  it('renders numbers and booleans, and null as nothing', () => {
    expect(render('{{n}}/{{b}}/{{z}}/', { n: 3, b: false, z: null }, (s) => s)).toBe('3/false//');
  });

  it('iterates arrays with {{.}} for the current item and looks names up the context stack', () => {
    const view = { sep: ';', items: ['a', 'b'] };
    expect(render('{{#items}}{{.}}{{sep}}{{/items}}', view, upper)).toBe('A;B;');
  });

  it('resolves dotted names and pushes objects as the section context', () => {
    const view = { d: { name: 'n', inner: { v: 'deep' } }, list: [{ x: 1 }, { x: 2 }] };
    expect(render('{{d.inner.v}} {{#d}}{{name}}{{/d}} {{#list}}{{x}}{{/list}}', view, (s) => s)).toBe('deep n 12');
  });

  it('renders inverted sections for false, null and empty arrays only', () => {
    const t = '{{^v}}none{{/v}}';
    expect(render(t, { v: false }, (s) => s)).toBe('none');
    expect(render(t, { v: null }, (s) => s)).toBe('none');
    expect(render(t, { v: [] }, (s) => s)).toBe('none');
    expect(render(t, { v: 'x' }, (s) => s)).toBe('');
    expect(render(t, { v: [0] }, (s) => s)).toBe('');
  });

  it('drops standalone section lines entirely, like mustache', () => {
    const t = 'begin\n  {{#items}}\n  - {{.}}\n  {{/items}}\n{{! a comment }}\n{{^items}}\nempty\n{{/items}}\nend\n';
    expect(render(t, { items: ['a', 'b'] }, (s) => s)).toBe('begin\n  - a\n  - b\nend\n');
    expect(render(t, { items: [] }, (s) => s)).toBe('begin\nempty\nend\n');
  });

  it('keeps inline section tags inline', () => {
    expect(render('<a{{#x}} b="{{.}}"{{/x}}>\n', { x: 'v' }, (s) => s)).toBe('<a b="v">\n');
    expect(render('<a{{#x}} b="{{.}}"{{/x}}>\n', { x: null }, (s) => s)).toBe('<a>\n');
  });

  it('handles CRLF templates', () => {
    expect(render('a\r\n{{#x}}\r\nb\r\n{{/x}}\r\nc', { x: true }, (s) => s)).toBe('a\r\nb\r\nc');
  });

  it('refuses unknown names instead of rendering nothing', () => {
    expect(() => render('{{missing}}', {}, (s) => s)).toThrow(TemplateError);
    expect(() => render('{{a.b}}', { a: {} }, (s) => s)).toThrow(/has no "b"/);
    expect(() => render('{{#nope}}x{{/nope}}', {}, (s) => s)).toThrow(TemplateError);
  });

  it('reports broken templates with a line number', () => {
    expect(() => render('a\n{{#x}}', { x: 1 }, (s) => s)).toThrow(/line 2: \{\{#x\}\} is never closed/);
    expect(() => render('{{#x}}{{/y}}', { x: 1 }, (s) => s)).toThrow(/closes \{\{#x\}\}/);
    expect(() => render('{{x', { x: 1 }, (s) => s)).toThrow(/unterminated/);
    expect(() => render('{{a b}}', {}, (s) => s)).toThrow(/bad tag name/);
    expect(() => render('{{o}}', { o: { a: 1 } }, (s) => s)).toThrow(/not a scalar/);
  });
});
