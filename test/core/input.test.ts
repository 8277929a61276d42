import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { parseInput } from '../../src/core/input.js';
import { OPENSSL_PINS, PKI, readPki } from '../helpers/fixtures.js';
import { ParseError } from '../../src/errors.js';

describe('every fixture file agrees with openssl', () => {
  const files = Object.keys(OPENSSL_PINS);
  it('covers the fixture directory', () => {
    const onDisk = readdirSync(PKI).filter((f) => !f.endsWith('.md') && f !== 'openssl-pins.json');
    expect(files.sort()).toEqual(onDisk.sort());
    expect(files.length).toBeGreaterThan(40);
  });
  for (const file of files) {
    it(file, () => {
      const items = parseInput(readPki(file), file);
      expect(items.map((i) => i.spkiSha256)).toEqual(OPENSSL_PINS[file]!.map((p) => p.spkiSha256));
      expect(items.map((i) => i.cert?.sha256Fingerprint ?? null)).toEqual(OPENSSL_PINS[file]!.map((p) => p.sha256Fingerprint));
    });
  }
});

describe('input kinds', () => {
  it('reads a mixed PEM file with comments between blocks', () => {
    const items = parseInput(readPki('mixed.pem'), 'mixed.pem');
    expect(items.map((i) => i.kind)).toEqual(['certificate', 'public-key', 'csr']);
  });
  it('a private key, its public key and its certificate share one pin', () => {
    const pins = ['leaf.key', 'leaf-ec-traditional.key', 'leaf-pub.pem', 'leaf-pub.der', 'leaf.pem', 'leaf.der'].map((f) => parseInput(readPki(f), f)[0]!.spkiSha256);
    expect(new Set(pins).size).toBe(1);
  });
  it('describes keys', () => {
    expect(parseInput(readPki('leaf.pem'), 'x')[0]).toMatchObject({ keyType: 'ec', keyBits: 256, curve: 'P-256' });
    expect(parseInput(readPki('root.pem'), 'x')[0]).toMatchObject({ keyType: 'ec', keyBits: 384, curve: 'P-384' });
    expect(parseInput(readPki('leaf-rsa.pem'), 'x')[0]).toMatchObject({ keyType: 'rsa', keyBits: 2048 });
    expect(parseInput(readPki('ed25519.key'), 'x')[0]).toMatchObject({ keyType: 'ed25519', kind: 'private-key' });
  });
  it('reads certificate fields', () => {
    const c = parseInput(readPki('leaf.pem'), 'x')[0]!.cert!;
    expect(c.subject).toContain('CN=api.pinctl.test');
    expect(c.issuer).toContain('CN=pinctl Test Intermediate CA');
    expect(c.notBefore.toISOString()).toBe('2025-06-01T00:00:00.000Z');
    expect(c.notAfter.toISOString()).toBe('2036-01-01T00:00:00.000Z');
    expect(c.isCA).toBe(false);
  });
  it('names the problem in an encrypted key', () => {
    const pem = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n';
    expect(() => parseInput(Buffer.from(pem), 'enc.key')).toThrow(/encrypted/);
  });
  it('rejects text without PEM blocks with a hint', () => {
    try {
      parseInput(Buffer.from('hello world\n'), 'notes.txt');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).code).toBe('NOTHING_FOUND');
      expect((e as ParseError).message).toContain('notes.txt');
    }
  });
});
