/**
 * The CLI's voice, written down as age does: results on stdout; on stderr `error: …` then
 * `hint: …`, `warning: …`, `note: …`. Colour only on a terminal and never with NO_COLOR.
 */
import { CliIO, Output } from './io.js';
import { PinctlError, describeError } from '../src/errors.js';
import type { Warning } from '../src/core/model.js';

export interface Style {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** Styles for text written to `stream` (stderr unless said): colour only when that stream is a
 * terminal and NO_COLOR is unset or empty (no-color.org). */
export function style(io: CliIO, stream: Output = io.stderr): Style {
  const on = Boolean(stream.isTTY) && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap('31'), yellow: wrap('33'), green: wrap('32'), dim: wrap('2'), bold: wrap('1') };
}

export function printError(io: CliIO, e: unknown): void {
  const s = style(io);
  const message = describeError(e).replace(/\s+/g, ' ');
  io.stderr.write(`${s.red('error:')} ${message}\n`);
  if (e instanceof PinctlError && e.hint) io.stderr.write(`${s.dim('hint:')} ${e.hint}\n`);
}

export function printWarnings(io: CliIO, warnings: Warning[]): void {
  const s = style(io);
  for (const w of warnings) {
    const label = w.severity === 'danger' ? s.red('danger:') : w.severity === 'warning' ? s.yellow('warning:') : s.dim('note:');
    io.stderr.write(`${label} ${w.domain ? `${w.domain}: ` : ''}${w.message} ${s.dim(`[${w.code}]`)}\n`);
  }
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
