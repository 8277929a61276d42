/**
 * `pinctl keys generate [--role signing|root] --out DIR`: an Ed25519 key pair (SPEC §2). A signing
 * key signs pins and trust roots online; a root key (SPEC §7.1) is kept offline and signs keysets.
 */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CliIO } from '../io.js';
import { ensureOutputDir, writeOutput } from '../files.js';
import { printError, printJson, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { PRIVATE_KEY_FILE, PUBLIC_FILE, PUBLIC_PEM_FILE, generateSigningKey, publicKeyFileText } from '../../src/service/keys.js';

export interface KeysGenerateOptions {
  out: string;
  /** Default 'signing' (the files and notes of SPEC 1.0). */
  role?: string;
  json?: boolean;
}

type Role = 'signing' | 'root';

/** File names per role: the signing key's are the service's (src/service/keys.ts). */
function filesOf(role: Role): { key: string; pem: string; pub: string } {
  if (role === 'signing') return { key: PRIVATE_KEY_FILE, pem: PUBLIC_PEM_FILE, pub: PUBLIC_FILE };
  return { key: 'pinctl-root.key', pem: 'pinctl-root.pub.pem', pub: 'pinctl-root.pub' };
}

function parseRole(v: string | undefined): Role {
  if (v === undefined || v === 'signing' || v === 'root') return v ?? 'signing';
  throw new InputError('USAGE', `--role ${v}: expected signing or root`, { hint: 'root keys sign keysets offline (SPEC §7); signing keys sign pins and trust roots' });
}

export async function keysGenerateCommand(opts: KeysGenerateOptions, io: CliIO): Promise<number> {
  try {
    const role = parseRole(opts.role);
    const names = filesOf(role);
    const dir = ensureOutputDir(opts.out, '--out', io);
    const keyPath = join(dir, names.key);
    const shown = join(opts.out, names.key);
    if (existsSync(keyPath)) {
      throw new InputError('OUTPUT_UNWRITABLE', `--out ${opts.out}: ${shown} already exists`, { hint: `pinctl never overwrites a ${role} key: choose another directory (rotating? see pinctl bundle create --keyset)` });
    }
    const k = generateSigningKey();
    writeOutput(keyPath, k.privatePem, '--out', { mode: 0o600, exclusive: true });
    chmodSync(keyPath, 0o600); // whatever the umask did
    // Replace, never follow: a symlink planted where a public key goes must not redirect the write.
    for (const [name, text] of [[names.pem, k.publicPem], [names.pub, publicKeyFileText(k.publicKey)]] as const) {
      rmSync(join(dir, name), { force: true });
      writeOutput(join(dir, name), text, '--out', { exclusive: true });
    }
    const files = { privateKey: shown, publicKeyPem: join(opts.out, names.pem), publicKey: join(opts.out, names.pub) };
    if (opts.json) {
      printJson(io, { keyid: k.keyid, role, publicKey: Buffer.from(k.publicKey).toString('base64'), files });
    } else {
      io.stdout.write(`${k.keyid}\n`);
      const s = style(io);
      io.stderr.write(
        `${s.dim('note:')} wrote ${files.privateKey} (private, mode 0600: keep it secret and backed up), ${files.publicKeyPem} and ${files.publicKey}\n` +
          (role === 'root'
            ? `${s.dim('note:')} a root key signs keysets only (SPEC §7): move the private key offline; embed the public key as rootKeys\n`
            : `${s.dim('note:')} name the public key in a root-signed keyset (pinctl bundle create --keyset), or embed it as publicKeys (SPEC 1.0)\n`) +
          `${s.dim('note:')} the key id above is the SHA-256 of its 32 raw bytes\n`,
      );
    }
    return 0;
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}
