/**
 * generate --update on a network_security_config.xml: the generated domains get their new
 * <pin-set> (and <domain includeSubdomains>, <trust-anchors> when asked) inside the domain-config
 * that holds them; everything else in the file stays byte for byte (base-config, cleartext
 * domain-configs, other pinned domains, debug-overrides, comments, indentation). A generated
 * domain sharing a domain-config with names that are not generated moves to its own domain-config
 * (same attributes), so the other names keep the pins they had.
 */
import { XmlElement, childElements, parseXml, textContent } from './xml.js';
import { Edit, applyEdits, indentAt, indentUnit, reindent, removeElement, span, updateRefused } from './splice.js';
import { xmlEscape } from './escape.js';
import { normalizeHostName } from '../vocab/hostname.js';

const RENDERED_UNIT = '    ';

interface Found {
  cfg: XmlElement;
  domainEl: XmlElement;
  /** This domain-config holds only generated names and this is the first: it is updated in place. */
  inPlace: boolean;
}

function domainName(el: XmlElement): string {
  return normalizeHostName(textContent(el) ?? '');
}

function allConfigs(el: XmlElement, out: XmlElement[] = []): XmlElement[] {
  for (const k of childElements(el)) {
    if (k.name === 'domain-config') {
      out.push(k);
      allConfigs(k, out);
    }
  }
  return out;
}

function locate(root: XmlElement, generated: Set<string>): Map<string, Found> {
  const found = new Map<string, Found>();
  for (const cfg of allConfigs(root)) {
    const domains = childElements(cfg).filter((k) => k.name === 'domain');
    const onlyGenerated = domains.every((d) => generated.has(domainName(d)));
    let first = true;
    for (const d of domains) {
      const name = domainName(d);
      if (!generated.has(name)) continue;
      found.set(name, { cfg, domainEl: d, inPlace: onlyGenerated && first });
      first = false;
    }
  }
  return found;
}

export function updateAndroid(
  body: string,
  source: string,
  rendered: string,
): { content: string; replaced: string[]; added: string[] } {
  const { root } = parseXml(body, source);
  if (root.name !== 'network-security-config')
    updateRefused(
      source,
      `expected <network-security-config>, found <${root.name}>`,
      "pass the app's res/xml/network_security_config.xml",
    );
  const fresh = parseXml(rendered, 'rendered').root;
  const freshConfigs = new Map(
    childElements(fresh)
      .filter((k) => k.name === 'domain-config')
      .map((c) => [domainName(childElements(c)[0]!), c]),
  );
  const found = locate(root, new Set(freshConfigs.keys()));
  const unit = indentUnit(body, root, childElements(root)[0], RENDERED_UNIT);
  const cut = (el: XmlElement, toBase: string) =>
    reindent(
      rendered.slice(span(el).start, span(el).end),
      { base: indentAt(rendered, span(el).start) ?? '', unit: RENDERED_UNIT },
      { base: toBase, unit },
    );

  const edits: Edit[] = [];
  const appended: string[] = [];
  const replaced: string[] = [];
  const added: string[] = [];
  for (const [name, freshCfg] of freshConfigs) {
    const at = found.get(name);
    if (at?.inPlace) {
      edits.push(...syncChildren(body, at, freshCfg, cut));
      replaced.push(name);
      continue;
    }
    let startTag: string | null = null;
    if (at) {
      edits.push(removeElement(body, at.domainEl));
      startTag = `<domain-config${Object.entries(at.cfg.attrs)
        .map(([k, v]) => ` ${k}="${xmlEscape(v)}"`)
        .join('')}>`;
      replaced.push(name);
    } else {
      added.push(name);
    }
    const text = cut(freshCfg, '\u0000');
    appended.push(startTag ? text.replace(/^<domain-config>/, startTag) : text);
  }
  const freshDebug = childElements(fresh).find((k) => k.name === 'debug-overrides');
  const oldDebug = childElements(root).find((k) => k.name === 'debug-overrides');
  if (freshDebug && oldDebug) edits.push(...mergeDebugOverrides(body, oldDebug, freshDebug, cut, unit));
  else if (freshDebug) appended.push(cut(freshDebug, '\u0000'));
  if (appended.length > 0) edits.push(appendToRoot(body, root, appended, unit));
  return { content: applyEdits(body, edits), replaced, added };
}

type Cut = (el: XmlElement, toBase: string) => string;

/**
 * The app's own <debug-overrides> stays (it may trust user CAs for a proxy): the generated
 * <certificates> are added to its <trust-anchors>, each once.
 */
function mergeDebugOverrides(body: string, old: XmlElement, fresh: XmlElement, cut: Cut, unit: string): Edit[] {
  const freshAnchors = childElements(fresh).find((k) => k.name === 'trust-anchors')!;
  const oldAnchors = childElements(old).find((k) => k.name === 'trust-anchors');
  const base = indentAt(body, span(old).start) ?? '';
  if (!oldAnchors) {
    const at = span(childElements(old).at(-1) ?? old).end;
    if (childElements(old).length === 0) return [{ ...span(old), text: cut(fresh, base) }];
    return [{ start: at, end: at, text: `\n${base}${unit}${cut(freshAnchors, base + unit)}` }];
  }
  const have = new Set(childElements(oldAnchors).map((c) => c.attrs.src));
  const missing = childElements(freshAnchors).filter((c) => !have.has(c.attrs.src));
  const last = childElements(oldAnchors).at(-1);
  if (missing.length === 0 || !last)
    return missing.length === 0
      ? []
      : [{ ...span(oldAnchors), text: cut(freshAnchors, indentAt(body, span(oldAnchors).start) ?? base) }];
  const indent = indentAt(body, span(last).start) ?? base + unit + unit;
  return [
    { start: span(last).end, end: span(last).end, text: missing.map((c) => `\n${indent}${cut(c, indent)}`).join('') },
  ];
}

/** New <domain>, <pin-set> and (when generated) <trust-anchors> inside an existing domain-config. */
function syncChildren(body: string, at: Found, freshCfg: XmlElement, cut: Cut): Edit[] {
  const kids = childElements(at.cfg);
  const freshKids = childElements(freshCfg);
  const edits: Edit[] = [{ ...span(at.domainEl), text: rendered1(freshKids, 'domain', cut, '') }];
  const base = indentAt(body, span(at.domainEl).start) ?? '';
  let anchor = span(kids.filter((k) => k.name === 'domain').at(-1)!).end;
  let pending = '';
  for (const name of ['pin-set', 'trust-anchors']) {
    const freshEl = freshKids.find((k) => k.name === name);
    if (!freshEl) continue;
    const old = kids.find((k) => k.name === name);
    if (old) {
      edits.push({ ...span(old), text: cut(freshEl, indentAt(body, span(old).start) ?? base) });
      if (pending) edits.push({ start: anchor, end: anchor, text: pending });
      pending = '';
      anchor = span(old).end;
    } else {
      pending += `\n${base}${cut(freshEl, base)}`;
    }
  }
  if (pending) edits.push({ start: anchor, end: anchor, text: pending });
  return edits;
}

function rendered1(kids: XmlElement[], name: string, cut: Cut, base: string): string {
  return cut(
    kids.find((k) => k.name === name)!,
    base,
  );
}

/** New domain-configs go after the last top-level one (else at the end of the root), at its indent. */
function appendToRoot(body: string, root: XmlElement, snippets: string[], unit: string): Edit {
  const last = childElements(root)
    .filter((k) => k.name === 'domain-config')
    .at(-1);
  if (last) {
    const base = indentAt(body, span(last).start) ?? unit;
    return {
      start: span(last).end,
      end: span(last).end,
      text: snippets.map((s) => `\n${base}${s.replace(/\u0000/g, base)}`).join(''),
    };
  }
  const { end } = span(root);
  const close = body.lastIndexOf('</', end);
  if (close <= span(root).start)
    updateRefused(
      'the file',
      'expected <network-security-config> with a closing tag, found an empty element',
      'write <network-security-config></network-security-config> and run the update again',
    );
  const closeIndent = indentAt(body, close);
  const base = (closeIndent ?? '') + unit;
  const text = snippets.map((s) => `${base}${s.replace(/\u0000/g, base)}\n`).join('');
  return closeIndent === null
    ? { start: close, end: close, text: `\n${text}` }
    : { start: close - closeIndent.length, end: close - closeIndent.length, text };
}
