import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
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
