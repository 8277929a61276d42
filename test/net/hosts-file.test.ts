import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostsFile, hostsKey, parseHosts } from '../../src/net/hosts-file.js';

const SAMPLE = [
  '# The following lines are desirable for IPv4 capable hosts',
  '127.0.0.1\tlocalhost',
  '127.0.1.1   box.corp.test  box # the machine itself',
  '',
  '::1     localhost ip6-localhost ip6-loopback',
  'fe00::0 ip6-localnet',
  '10.0.0.5 API.Corp.Test api   ',
  '10.0.0.6 api.corp.test',
  '10.0.0.5 api.corp.test',
  '2001:db8::7 api.corp.test',
  'not-an-address bogus.test',
  '300.1.1.1 bogus2.test',
  '10.0.0.9',
  '   # indented comment 10.0.0.10 commented.test',
  '10.0.0.11 trailing.test.\r',
].join('\n');

describe('parseHosts', () => {
  const t = parseHosts(SAMPLE);
  it('maps every name and alias to its addresses, case-insensitively, each address once, in file order', () => {
    expect(t.get('api.corp.test')).toEqual(['10.0.0.5', '10.0.0.6', '2001:db8::7']);
    expect(t.get('api')).toEqual(['10.0.0.5']);
    expect(t.get('box')).toEqual(['127.0.1.1']);
  });
  it('IPv4 and IPv6 addresses of one name (localhost on two lines)', () => {
    expect(t.get('localhost')).toEqual(['127.0.0.1', '::1']);
    expect(t.get('ip6-loopback')).toEqual(['::1']);
    expect(t.get('ip6-localnet')).toEqual(['fe00::0']);
  });
  it('skips comments, lines without a name, and lines whose first field is not an address', () => {
    expect(t.has('commented.test')).toBe(false);
    expect(t.has('bogus.test')).toBe(false);
    expect(t.has('bogus2.test')).toBe(false);
    expect(t.has('the')).toBe(false); // words after '#'
    expect([...t.values()].flat()).not.toContain('10.0.0.9');
  });
  it('a name written with a trailing dot, and CRLF line ends', () => {
    expect(t.get('trailing.test')).toEqual(['10.0.0.11']);
    expect(t.get(hostsKey('Trailing.Test.'))).toEqual(['10.0.0.11']);
  });
  it('an empty file lists nothing', () => {
    expect(parseHosts('').size).toBe(0);
  });
});

describe('HostsFile', () => {
  it('reads the file again when it changes, and not otherwise; a missing file lists nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-hosts-'));
    try {
      const path = join(dir, 'hosts');
      const hosts = new HostsFile(path);
      expect(hosts.lookup('a.test')).toBeUndefined();
      writeFileSync(path, '10.1.1.1 a.test\n');
      expect(hosts.lookup('A.TEST.')).toEqual(['10.1.1.1']);
      // Same size and mtime: not parsed again (the cached table answers).
      writeFileSync(path, '10.2.2.2 a.test\n');
      const stamp = new Date('2026-01-01T00:00:00Z');
      utimesSync(path, stamp, stamp);
      expect(hosts.lookup('a.test')).toEqual(['10.2.2.2']);
      writeFileSync(path, '10.3.3.3 a.test\n');
      utimesSync(path, stamp, stamp);
      expect(hosts.lookup('a.test')).toEqual(['10.2.2.2']);
      const later = new Date('2026-01-01T00:00:01Z');
      utimesSync(path, later, later);
      expect(hosts.lookup('a.test')).toEqual(['10.3.3.3']);
      rmSync(path);
      expect(hosts.lookup('a.test')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
