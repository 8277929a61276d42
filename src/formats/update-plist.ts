/**
 * generate --update on a plist: NSAppTransportSecurity › NSPinnedDomains inside a full Info.plist,
 * or TrustKit's TSKConfiguration › TSKPinnedDomains. Each generated domain's <dict> is replaced (or
 * appended); every other key of the file, other domains, comments and indentation stay as they were.
 * A missing level (no NSAppTransportSecurity yet, say) is inserted whole, from the rendered config.
 */
import { XmlElement, childElements, parseXml, textContent } from './xml.js';
import { Edit, applyEdits, indentAt, indentUnit, reindent, span, updateRefused } from './splice.js';
import { normalizeHostName } from '../vocab/hostname.js';

const RENDERED_UNIT = '\t';

interface Updated {
  content: string;
  replaced: string[];
  added: string[];
}

interface Entry {
  key: string;
  keyEl: XmlElement;
  valueEl: XmlElement;
}

function entries(dict: XmlElement): Entry[] {
  const kids = childElements(dict);
  const out: Entry[] = [];
  for (let i = 0; i + 1 < kids.length; i += 2)
    out.push({ key: textContent(kids[i]!) ?? '', keyEl: kids[i]!, valueEl: kids[i + 1]! });
  return out;
}

function rootDict(root: XmlElement, source: string): XmlElement {
  const d = childElements(root)[0];
  if (root.name !== 'plist' || d?.name !== 'dict')
    updateRefused(source, 'expected a <plist> whose value is a <dict>', 'pass an Info.plist or a TrustKit plist');
  return d;
}

export function updatePlist(body: string, source: string, rendered: string, path: readonly [string, string]): Updated {
  const fresh = parseXml(rendered, 'rendered').root;
  let freshDict = rootDict(fresh, 'rendered');
  let dict = rootDict(parseXml(body, source).root, source);
  // A bare configuration (TSKPinnedDomains or NSPinnedDomains at the top) is updated where it is.
  const has = (d: XmlElement, k: string) => entries(d).some((e) => e.key === k);
  const levels = has(dict, path[1]) && !has(dict, path[0]) ? [path[1]] : [...path];
  if (levels.length === 1) freshDict = entries(freshDict).find((e) => e.key === path[0])!.valueEl;
  const unit = indentUnit(body, dict, childElements(dict)[0], RENDERED_UNIT);
  const cut = (from: number, to: number, toBase: string) =>
    reindent(
      rendered.slice(from, to),
      { base: indentAt(rendered, from) ?? '', unit: RENDERED_UNIT },
      { base: toBase, unit },
    );

  for (const level of levels) {
    const freshEntry = entries(freshDict).find((e) => e.key === level)!;
    const entry = entries(dict).find((e) => e.key === level);
    if (!entry) {
      const edit = appendToDict(body, dict, unit, (base) =>
        cut(span(freshEntry.keyEl).start, span(freshEntry.valueEl).end, base),
      );
      const domains = entries(
        level === path[1] ? freshEntry.valueEl : entries(freshEntry.valueEl).find((e) => e.key === path[1])!.valueEl,
      ).map((e) => e.key);
      return { content: applyEdits(body, [edit]), replaced: [], added: domains };
    }
    if (entry.valueEl.name !== 'dict')
      updateRefused(
        source,
        `expected ${level} to be a <dict>, found <${entry.valueEl.name}>`,
        `check it with: plutil -lint ${source}`,
      );
    dict = entry.valueEl;
    freshDict = freshEntry.valueEl;
  }

  return mergeDomains(body, dict, freshDict, unit, cut);
}

type Cut = (from: number, to: number, toBase: string) => string;

/** Each generated domain's dict replaces the same-named one (compared case-insensitively), else is appended. */
function mergeDomains(body: string, dict: XmlElement, freshDict: XmlElement, unit: string, cut: Cut): Updated {
  const edits: Edit[] = [];
  const replaced: string[] = [];
  const existing = entries(dict);
  const toAppend: Entry[] = [];
  for (const e of entries(freshDict)) {
    const old = existing.find((x) => normalizeHostName(x.key) === e.key);
    if (!old) {
      toAppend.push(e);
      continue;
    }
    const base = indentAt(body, span(old.valueEl).start) ?? '';
    edits.push({ ...span(old.valueEl), text: cut(span(e.valueEl).start, span(e.valueEl).end, base) });
    if (old.key !== e.key) edits.push({ ...span(old.keyEl), text: `<key>${e.key}</key>` });
    replaced.push(e.key);
  }
  if (toAppend.length > 0) {
    const text = (base: string) =>
      toAppend.map((e) => cut(span(e.keyEl).start, span(e.valueEl).end, base)).join(`\n${base}`);
    edits.push(appendToDict(body, dict, unit, text));
  }
  return { content: applyEdits(body, edits), replaced, added: toAppend.map((e) => e.key) };
}

/** Text added after a dict's last value at that value's indent, or an empty dict rewritten around it. */
function appendToDict(body: string, dict: XmlElement, unit: string, snippet: (base: string) => string): Edit {
  const last = entries(dict).at(-1);
  if (last) {
    const base = indentAt(body, span(last.keyEl).start) ?? '';
    return { start: span(last.valueEl).end, end: span(last.valueEl).end, text: `\n${base}${snippet(base)}` };
  }
  const dictBase = indentAt(body, span(dict).start) ?? '';
  return { ...span(dict), text: `<dict>\n${dictBase}${unit}${snippet(dictBase + unit)}\n${dictBase}</dict>` };
}
