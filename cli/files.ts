import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { existingAncestor, makeDirs } from '../src/make-dirs.js';
import { CliIO } from './io.js';
import { InputError } from '../src/errors.js';
import { MAX_INPUT_BYTES, InputItem, parseInput } from '../src/core/input.js';

/** Reads a file argument ('-' is stdin) with a size limit checked before reading. */
export async function readSource(path: string, io: CliIO): Promise<{ name: string; bytes: Uint8Array }> {
  if (path === '-') return { name: 'stdin', bytes: await io.readStdin() };
  const full = resolve(io.cwd, path);
  try {
    const st = statSync(full);
    if (st.isDirectory()) throw new InputError('INPUT_UNREADABLE', `${path}: is a directory, expected a file`);
    if (st.size > MAX_INPUT_BYTES) throw new InputError('TOO_LARGE', `${path}: ${st.size} bytes is over the ${MAX_INPUT_BYTES}-byte limit`);
    return { name: path, bytes: readFileSync(full) };
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `${path}: cannot read it (${code ?? 'error'})`, {
      hint: code === 'ENOENT' ? 'check the path' : undefined,
    });
  }
}

export async function readItems(path: string, io: CliIO): Promise<InputItem[]> {
  const { name, bytes } = await readSource(path, io);
  return parseInput(bytes, name);
}

/** Makes an output directory (level by level, see src/make-dirs.ts), with errors that name the flag. */
export function ensureOutputDir(path: string, flag: string, io: CliIO): string {
  const full = resolve(io.cwd, path);
  const dir = existingAncestor(full);
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new InputError('OUTPUT_UNWRITABLE', `${flag} ${path}: expected a directory, found a file at ${dir}`, { hint: 'choose another directory' });
  }
  try {
    makeDirs(full);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InputError('OUTPUT_UNWRITABLE', `${flag} ${path}: cannot create ${err.path ?? full} (${err.code ?? 'error'})`, { hint: 'choose a directory you can write to' });
  }
  return full;
}

export function writeOutput(path: string, content: string, flag: string, opts: { mode?: number; exclusive?: boolean } = {}): void {
  try {
    writeFileSync(path, content, { mode: opts.mode, flag: opts.exclusive ? 'wx' : 'w' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError('OUTPUT_UNWRITABLE', `${flag}: cannot write ${path} (${code})`, {
      hint: code === 'EEXIST' ? 'pinctl never overwrites a key: choose another directory' : 'choose a directory you can write to',
    });
  }
}
