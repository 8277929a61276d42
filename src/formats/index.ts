/** The config formats pinctl writes: everything per format comes from the registry (registry.ts). */
import { PinSet, Warning } from '../core/model.js';
import { REGISTRY, RenderOptions, formatEntry } from './registry.js';
import { TemplateLoader, loadTemplate as defaultLoader } from './templates.js';
import { assertWritable } from './validate.js';
import { InputError } from '../errors.js';

export type Format = string;

export const FORMATS: readonly Format[] = REGISTRY.map((e) => e.id);
export const DEFAULT_OUT_FORMATS: readonly Format[] = REGISTRY.filter((e) => e.inDefaultSet).map((e) => e.id);

export interface RenderedConfig {
  fileName: string;
  content: string;
  warnings: Warning[];
}

/** Template file (under templates/) of each templated format. */
export const TEMPLATE_FILES: Record<string, string> = Object.fromEntries(REGISTRY.flatMap((e) => (e.template ? [[e.id, e.template]] : [])));

export function isFormat(value: string): boolean {
  return formatEntry(value) !== undefined;
}

function entry(format: Format) {
  const e = formatEntry(format);
  if (!e) throw new InputError('USAGE', `--format ${format}: expected one of ${FORMATS.join(', ')}`);
  return e;
}

export function fileNameFor(format: Format): string {
  return entry(format).fileName;
}

/** Format-specific safety notes for this pin set (the generator's own lints are separate). */
export function warningsFor(format: Format, pinSet: PinSet, options: RenderOptions = {}): Warning[] {
  return entry(format).warnings(pinSet, options);
}

/** The third argument may be a template loader alone (older callers) or the render options. */
export function renderConfig(format: Format, pinSet: PinSet, options: RenderOptions | TemplateLoader = {}): RenderedConfig {
  const o: RenderOptions = typeof options === 'function' ? { loadTemplate: options } : options;
  const e = entry(format);
  assertWritable(pinSet);
  const template = e.template ? (o.loadTemplate ?? defaultLoader)(e.template) : '';
  return { fileName: e.fileName, content: e.render(pinSet, template, o), warnings: e.warnings(pinSet, o) };
}

export { renderAndroid } from './android.js';
export { renderIos } from './ios.js';
export { renderJson } from './json.js';
export { renderOkhttp } from './okhttp.js';
export { renderReactNative } from './react-native.js';
export { renderTrustkit } from './trustkit.js';
export { REGISTRY, formatEntry } from './registry.js';
export type { FormatEntry, RenderOptions, TrustAnchor } from './registry.js';
export { loadTemplate } from './templates.js';
export { readConfig } from './read.js';
export type { ConfigFormat, ReadResult } from './read.js';
