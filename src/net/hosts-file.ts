/**
 * The hosts file (hosts(5)): names the machine resolves without any DNS server. Read on the main
 * thread with a stat per lookup (microseconds; no thread-pool work that a stuck lookup could hold)
 * and parsed again only when the file changes.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';

/** Lower-cased name → every address listed for it, in file order, each once. */
export type HostsTable = ReadonlyMap<string, readonly string[]>;

/** Names compare case-insensitively (RFC 4343) and a trailing root dot is the same name. */
export function hostsKey(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * `ADDRESS NAME [ALIAS...]` per line; `#` starts a comment; lines whose first field is not an IPv4
 * or IPv6 address are skipped, as the C library does. A name on several lines gets every address.
 */
export function parseHosts(text: string): HostsTable {
  const table = new Map<string, string[]>();
  for (const raw of text.split(/\r?\n/)) {
    const [address, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || names.length === 0 || !isIP(address)) continue;
    for (const name of names) {
      const key = hostsKey(name);
      const known = table.get(key);
      if (!known) table.set(key, [address]);
      else if (!known.includes(address)) known.push(address);
    }
  }
  return table;
}

/** The hosts file at `path`, parsed again when its mtime, size or inode changes. */
export class HostsFile {
  private table: HostsTable = new Map();
  private version = '';

  constructor(readonly path = '/etc/hosts') {}

  /** The addresses listed for `name`, or undefined when the file does not list it (or is missing). */
  lookup(name: string): readonly string[] | undefined {
    this.refresh();
    return this.table.get(hostsKey(name));
  }

  private refresh(): void {
    let version = 'absent';
    try {
      const st = statSync(this.path, { throwIfNoEntry: false });
      if (st) version = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (version === this.version) return;
      this.table = st ? parseHosts(readFileSync(this.path, 'utf8')) : new Map();
    } catch {
      this.table = new Map(); // unreadable: as if it listed nothing, as getaddrinfo treats it
    }
    this.version = version;
  }
}
