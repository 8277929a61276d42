/** `pinctl keys generate --out DIR`: an Ed25519 signing key pair for bundles (SPEC §2). */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CliIO } from '../io.js';
import { ensureOutputDir, writeOutput } from '../files.js';
import { printError, printJson, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { PRIVATE_KEY_FILE, PUBLIC_FILE, PUBLIC_PEM_FILE, generateSigningKey, publicKeyFileText } from '../../src/service/keys.js';

export interface KeysGenerateOptions {
  out: string;
  json?: boolean;
}

export async function keysGenerateCommand(opts: KeysGenerateOptions, io: CliIO): Promise<number> {
  try {
    const dir = ensureOutputDir(opts.out, '--out', io);
    const keyPath = join(dir, PRIVATE_KEY_FILE);
    const shown = join(opts.out, PRIVATE_KEY_FILE);
    if (existsSync(keyPath)) {
      throw new InputError('OUTPUT_UNWRITABLE', `--out ${opts.out}: ${shown} already exists`, { hint: 'pinctl never overwrites a signing key: choose another directory (rotating? see pinctl bundle create --keyset)' });
    }
    const k = generateSigningKey();
    writeOutput(keyPath, k.privatePem, '--out', { mode: 0o600, exclusive: true });
    chmodSync(keyPath, 0o600); // whatever the umask did
    // Replace, never follow: a symlink planted where a public key goes must not redirect the write.
    for (const [name, text] of [[PUBLIC_PEM_FILE, k.publicPem], [PUBLIC_FILE, publicKeyFileText(k.publicKey)]] as const) {
      rmSync(join(dir, name), { force: true });
      writeOutput(join(dir, name), text, '--out', { exclusive: true });
    }
    const files = { privateKey: shown, publicKeyPem: join(opts.out, PUBLIC_PEM_FILE), publicKey: join(opts.out, PUBLIC_FILE) };
    if (opts.json) {
      printJson(io, { keyid: k.keyid, publicKey: Buffer.from(k.publicKey).toString('base64'), files });
    } else {
      io.stdout.write(`${k.keyid}\n`);
      const s = style(io);
      io.stderr.write(
        `${s.dim('note:')} wrote ${files.privateKey} (private, mode 0600: keep it secret and backed up), ${files.publicKeyPem} and ${files.publicKey}\n` +
          `${s.dim('note:')} embed the public key in the app; the key id above is the SHA-256 of its 32 raw bytes\n`,
      );
    }
    return 0;
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}
