/**
 * The monitor's configuration: YAML or JSON (YAML 1.2 parses JSON too; duplicate keys are errors),
 * validated field by field. Every error names the field path (`endpoints[1].pins[0]`), unknown keys
 * are rejected (a typo such as `adresses` must not silently probe the wrong thing), the cron
 * expression is checked with node-cron's own `validate`, and the pins an endpoint must match are
 * read here, from inline values or from the file the app ships (Android XML, iOS plist, TrustKit,
 * pinctl JSON, or a signed pinctl bundle). Relative paths are relative to the config file.
 *
 * Secrets never sit in the file: `passwordEnv` / `tokenEnv` name environment variables, and
 * `${VAR}` in `smtp` and `url` is replaced from the environment.
 */
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { CORE_SCHEMA, YAMLException, loadAll } from 'js-yaml';
import { parseStrictJson } from '../src/bundle/strict-json.js';
import { validate as validateCron } from 'node-cron';
import { InputError, PinctlError, describeError } from '../src/errors.js';
import { isHostName, normalizeHostName } from '../src/vocab/hostname.js';
import { normalizePin } from '../src/vocab/pin.js';
import { formatDuration, parseDurationMs } from '../src/vocab/duration.js';

export { parseDurationMs };

/** src/vocab's host-name grammar (the one generate, bundles, the service and the SDK use). */
function isHostname(h: string): boolean {
  return isHostName(normalizeHostName(h));
}
import { Pin, PinRole, expirationOf } from '../src/core/model.js';
import { readConfig } from '../src/formats/read.js';
import { TrustedStore } from '../src/bundle/trusted-store.js';
import { embeddedKeyset } from '../src/bundle/keys.js';
import { Severity } from './types.js';
import type { ServedBundleSource } from './served-bundles.js';
import { CHANNELS, CHANNEL_NAMES, ChannelConfigKit, ChannelConfigs } from './channels/index.js';
import type { ReportsSourceConfig } from './reports-source.js';
import { DEFAULT_VANTAGE, VANTAGE_NAME_RULE, parseVantageName } from './vantage.js';

export interface ExpectedPins {
  /** 'inline', or the pin file as written in the config. */
  source: string;
  format: 'inline' | 'android' | 'ios' | 'trustkit' | 'json' | 'bundle';
  /** iOS NSPinnedDomains: a leaf identity must match the leaf and a CA identity a CA; else any pin anywhere. */
  semantics: 'any' | 'ios';
  /** Pin-set expiration (YYYY-MM-DD): after it Android/TrustKit apps no longer enforce the pins. */
  expiration: string | null;
  pins: Pick<Pin, 'spkiSha256' | 'role'>[];
  /**
   * includeSubdomains of the pin file's (or bundle's) entry for exactly this host; undefined for
   * inline pins or when a parent domain's entry covers the host. Dynamic pinning keeps it.
   */
  includeSubdomains?: boolean;
}

export interface EndpointConfig {
  /** "host:port", unique in the config; labels metrics (`target`) and history. */
  id: string;
  host: string;
  port: number;
  /** Name sent in SNI and checked against the leaf; default: host. */
  sni: string;
  /** Addresses to dial; null: every A/AAAA address of the host. */
  addresses: string[] | null;
  /** Absolute path of a private trust store, or null for the system store. */
  caFile: string | null;
  /** As written in the config (for the commands printed in alerts). */
  caFileAsWritten: string | null;
  pins: ExpectedPins | null;
  expiryWarningDays: number[];
  /**
   * `pinsFrom: { bundle: URL, ... }`: the pins come from the bundle the service serves, fetched and
   * verified at every sweep (monitor/served-bundles.ts); `pins` is null until then.
   */
  servedBundle?: ServedBundleSource | null;
}

export type { EmailChannel, WebhookChannel, SlackChannel, PagerDutyChannel } from './channels/index.js';

/** One field per alert channel of the registry (monitor/channels), null when not configured. */
export interface AlertsConfig extends ChannelConfigs {
  /** Open problems are re-sent after this long without another alert. */
  reminderMs: number;
  /** Findings at or above this severity are alerted. */
  minSeverity: Severity;
  retryInitialMs: number;
  retryMaxMs: number;
}

/**
 * `dynamicPinning`: on a leaf-key or intermediate change whose new chain validates, the monitor
 * proposes a new pin set (new keys plus every shipped pin as backup) and, with `publish: true`,
 * POSTs it to the signing service (`pinctl serve`) without `?force=1`.
 */
export interface DynamicPinningConfig {
  /** Base URL of `pinctl serve`, without a trailing slash. */
  service: string;
  /** Name of the environment variable holding the admin token (printed in the curl command). */
  tokenEnv: string;
  /** tokenFile as written (the curl command reads it), or null when the token comes from tokenEnv. */
  tokenFile: string | null;
  /** Resolved from tokenEnv or tokenFile; null when unset (allowed only with publish: false). */
  token: string | null;
  publish: boolean;
  /** How long the old pins stay as backups (informational: recorded in the proposal). */
  overlapMs: number;
}

/** Status page access: a bearer token, or HTTP basic auth (what a browser prompts for). */
export type PageAuth = { kind: 'bearer'; token: string } | { kind: 'basic'; user: string; password: string };

export interface MonitorConfig {
  file: string;
  /** SHA-256 of the file's bytes (and the pin files'), to tell a reload that changed nothing. */
  hash: string;
  schedule: string;
  timezone: string | null;
  /** Absolute directory of the SQLite state, or a `postgres://` URL (monitor/state-pg.ts). */
  state: string;
  /** PostgreSQL password from statePasswordFile / statePasswordEnv (else the URL's, or PGPASSWORD). Never printed. */
  statePassword?: string | null;
  /**
   * Local files (proposals, certificate PEMs for printed commands, served-bundle SDK storage): the
   * state directory itself for SQLite; `localDir`, default ./pinctl-local beside the config, for PostgreSQL.
   */
  localDir: string;
  expiryWarningDays: number[];
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  concurrency: number;
  /**
   * At most this many worker threads share a sweep's handshakes (src/net/probe-threads.ts), one per
   * 500 addresses; 1: all in the monitor's own thread. `auto` (the default): one less than the CPUs.
   */
  probeThreads: number;
  /** How long a chain-drift finding stays open when nothing else resolves it. */
  driftWindowMs: number;
  /** `status` and /healthz report the monitor stale when the last sweep is older than this; null: 3× the schedule's interval. */
  staleAfterMs?: number | null;
  /** `auth` (optional) guards the status page (`/`, `/api/status`); /metrics and /healthz stay open. */
  metrics: { host: string; port: number; auth?: PageAuth } | null;
  alerts: AlertsConfig;
  endpoints: EndpointConfig[];
  /** Absent or null: no proposals. */
  dynamicPinning?: DynamicPinningConfig | null;
  /** `reportsFrom`: pin-failure reports from `pinctl serve` become findings (monitor/report-findings.ts). */
  reportsFrom?: ReportsSourceConfig | null;
  /** Where this monitor probes from (monitor/vantage.ts); absent: DEFAULT_VANTAGE. */
  vantage?: string;
  /** How recent another vantage's observations must be to be compared; null: 2× the schedule interval, at least 5 minutes. */
  vantageWindowMs?: number | null;
}

export const DEFAULTS = {
  state: './pinctl-state',
  expiryWarningDays: [30, 14, 7],
  timeout: '5s',
  retries: 2,
  retryDelay: '1s',
  concurrency: 64,
  probeThreads: 'auto',
  driftWindow: '24h',
  reminder: '24h',
  minSeverity: 'warning' as Severity,
  retryInitial: '30s',
  retryMax: '1h',
  channelTimeout: '10s',
  dynamicPinningTokenEnv: 'PINCTL_ADMIN_TOKEN',
  overlap: '30d',
};

type Obj = Record<string, unknown>;

/** Collects every problem with its path, so one run shows them all. */
class Problems {
  readonly list: string[] = [];
  /** Hints of the sections that had problems (alert channels give their own). */
  readonly hints = new Set<string>();
  add(path: string, expected: string, found: unknown): undefined {
    this.list.push(`${path || '(top level)'}: expected ${expected}, found ${describe(found)}`);
    return undefined;
  }
  say(path: string, message: string): undefined {
    this.list.push(`${path}: ${message}`);
    return undefined;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 60 ? `a ${v.length}-character string` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

function object(p: Problems, v: unknown, path: string, allowed: string[], required: string[] = []): Obj | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return p.add(path, 'a mapping', v);
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      const near = allowed.find((a) => closeTo(a, k));
      p.say(join(path, k), `unknown key${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`);
    }
  }
  for (const k of required) if (o[k] === undefined) p.say(join(path, k), 'required');
  return o;
}

function closeTo(a: string, b: string): boolean {
  if (a.toLowerCase() === b.toLowerCase()) return true;
  if (Math.abs(a.length - b.length) > 2) return false;
  // Levenshtein ≤ 2, enough for "adresses", "pinFrom", "expiryWarningDay".
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]! <= 2;
}

function str(p: Problems, v: unknown, path: string, what = 'a string'): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return p.add(path, what, v);
  return v;
}

function int(p: Problems, v: unknown, path: string, min: number, max: number): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return p.add(path, `a whole number from ${min} to ${max}`, v);
  return v;
}

/**
 * `probeThreads`: `auto` leaves one CPU to the monitor's own thread (and whatever else the host
 * runs): on the 2-core bench machine, whose TLS servers share it, two probing threads starved them
 * (10,000 endpoints: 13.6 s against 11.9 s in one thread); with N CPUs it is N - 1 threads.
 */
function threadCount(p: Problems, v: unknown): number {
  if (v === 'auto') return Math.max(1, availableParallelism() - 1);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64) return v;
  return p.add('probeThreads', '`auto` or a whole number from 1 to 64', v) ?? 1;
}

function duration(p: Problems, v: unknown, path: string, minMs: number, maxMs: number): number | undefined {
  const ms = parseDurationMs(v);
  if (ms === null || ms < minMs || ms > maxMs) return p.add(path, `a duration from ${fmtMs(minMs)} to ${fmtMs(maxMs)} (500ms, 5s, 10m, 24h, 7d)`, v);
  return ms;
}

const fmtMs = formatDuration;

function days(p: Problems, v: unknown, path: string): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return p.add(path, 'a list of whole numbers of days, e.g. [30, 14, 7]', v);
  const out: number[] = [];
  v.forEach((d, i) => {
    const n = int(p, d, join(path, i), 0, 3650);
    if (n !== undefined) out.push(n);
  });
  return [...new Set(out)].sort((a, b) => b - a);
}

/** `${VAR}` from the environment; a missing variable is a config error, not an empty string. */
function expandEnv(p: Problems, value: string, path: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) {
      p.say(path, `uses \${${name}} but the environment variable ${name} is not set`);
      return '';
    }
    return v;
  });
}

function secret(p: Problems, v: unknown, path: string, env: Record<string, string | undefined>, required = true): string | null {
  if (v === undefined) return null;
  const name = str(p, v, path, 'the name of an environment variable');
  if (name === undefined) return null;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return p.add(path, 'the name of an environment variable (letters, digits, _)', v) ?? null;
  const value = env[name];
  if (value === undefined) return required ? (p.say(path, `the environment variable ${name} is not set`) ?? null) : null;
  return value;
}

/** `${base}Env` or `${base}File` of mapping `o` at `path` (not both); null when neither is given. */
function secretOf(p: Problems, o: Obj, path: string, base: string, ctx: SecretCtx): string | null {
  const envKey = `${base}Env`;
  const fileKey = `${base}File`;
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (o[envKey] !== undefined && o[fileKey] !== undefined) return p.say(at(fileKey), `give ${fileKey} or ${envKey}, not both`) ?? null;
  if (o[envKey] !== undefined) return secret(p, o[envKey], at(envKey), ctx.env, ctx.required);
  if (o[fileKey] !== undefined) return secretFile(p, o[fileKey], at(fileKey), ctx.rel, ctx.required);
  return null;
}

function url(p: Problems, v: unknown, path: string, protocols: string[], env: Record<string, string | undefined>): string | undefined {
  const s = str(p, v, path, `a URL (${protocols.join(', ')})`);
  if (s === undefined) return undefined;
  const expanded = expandEnv(p, s, path, env);
  try {
    const u = new URL(expanded);
    if (!protocols.includes(u.protocol)) return p.add(path, `a ${protocols.join(' or ')} URL`, s);
    return expanded;
  } catch {
    return p.add(path, `a URL (${protocols.map((x) => `${x}//…`).join(', ')})`, s);
  }
}

/** A base64 SHA-256 SPKI pin (src/vocab/pin.ts); OkHttp's "sha256/" prefix is accepted. */
function pinValue(p: Problems, v: unknown, path: string): string | undefined {
  const s = typeof v === 'string' ? normalizePin(v) : null;
  if (s === null) return p.add(path, 'a base64 SHA-256 SPKI pin (44 characters ending in "=")', v);
  return s;
}

export interface LoadOptions {
  env: Record<string, string | undefined>;
  cwd: string;
  now: Date;
  /**
   * 'optional' for commands that send nothing (status, history): a secret whose variable is unset
   * or whose file is unreadable is left null instead of failing the config. Default 'required'.
   */
  secrets?: 'required' | 'optional';
}

/** Where secrets come from: `…Env` names a variable, `…File` a file (first line); never the config itself. */
interface SecretCtx {
  env: Record<string, string | undefined>;
  rel: (f: string) => string;
  required: boolean;
}

const TOP = ['schedule', 'timezone', 'state', 'statePasswordEnv', 'statePasswordFile', 'localDir', 'expiryWarningDays', 'timeout', 'retries', 'retryDelay', 'concurrency', 'probeThreads', 'driftWindow', 'staleAfter', 'metrics', 'alerts', 'endpoints', 'dynamicPinning', 'reportsFrom', 'vantage', 'vantageWindow'];
const ENDPOINT = ['host', 'port', 'sni', 'addresses', 'caFile', 'pins', 'pinsFrom', 'expiryWarningDays'];

/** Reads and validates a config file. Throws InputError (exit 2) naming every bad field. */
export function loadConfig(path: string, opts: LoadOptions): MonitorConfig {
  const file = resolve(opts.cwd, path);
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new InputError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `${path}: cannot read the monitor config (${code})`, {
      hint: 'pass --config FILE; examples/monitor.yaml is a documented example',
    });
  }
  return parseConfig(text, path, { ...opts, cwd: dirname(file) });
}

/** Validates config text; `opts.cwd` is the directory relative paths in it are taken from. */
export function parseConfig(text: string, source: string, opts: LoadOptions): MonitorConfig {
  const body = text.replace(/^\uFEFF/, '');
  // YAML is parsed with js-yaml, not the `yaml` package: on a 2 MB config with 10,000 endpoints,
  // yaml's document model took ~1.3 s and ~155 MB of heap, js-yaml 5 ~130 ms and ~30 MB.
  // JSON (a subset of YAML) skips the YAML parser: strict JSON keeps YAML's rule that a repeated
  // key is an error; anything else goes through YAML.
  const json = /^\s*\{/.test(body) ? tryStrictJson(body) : undefined;
  if (json !== undefined) return finish(json, text, source, opts);
  return finish(parseYaml(body, source), text, source, opts);
}

const MALFORMED_HINT = 'check indentation and quoting; cron expressions with * must be quoted: schedule: "*/5 * * * *"';

/**
 * YAML 1.2 core schema (2001-01-01 stays a string, `yes` is not true), a repeated key is an error,
 * at most 100 aliases, js-yaml's default nesting limit (100). An empty file (or only comments) is
 * an empty document, which validation reports as a missing mapping; a second document is an error.
 */
function parseYaml(body: string, source: string): unknown {
  let docs: unknown[];
  try {
    docs = loadAll(body, { schema: CORE_SCHEMA, maxAliases: 100 });
  } catch (e) {
    // js-yaml's marks are 0-based; print them 1-based, as editors (and the `yaml` package) do.
    const mark = e instanceof YAMLException ? e.mark : undefined;
    const where = mark && Number.isInteger(mark.line) && Number.isInteger(mark.column) ? `line ${mark.line + 1}, column ${mark.column + 1}: ` : '';
    const reason = e instanceof YAMLException ? e.reason : e instanceof Error ? e.message : String(e);
    throw malformed(source, where, reason);
  }
  if (docs.length > 1) {
    const line = secondDocumentLine(body);
    throw malformed(source, line ? `line ${line}, column 1: ` : '', 'Source contains multiple documents');
  }
  return docs.length === 0 ? null : docs[0];
}

function malformed(source: string, where: string, reason: string): InputError {
  return new InputError('CONFIG_MALFORMED', `${source}: ${where}not valid YAML or JSON: ${(reason || 'parse error').split('\n')[0]}`, { hint: MALFORMED_HINT });
}

/**
 * 1-based line where a second document starts: a `---` after the first document began, or the
 * first content after a `...`. Document markers only count at column 0, so a line scan is enough.
 */
function secondDocumentLine(body: string): number | undefined {
  const lines = body.split(/\r?\n/);
  let started = false;
  let ended = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\s*(?:#.*)?$/.test(l)) continue;
    if (!started && l.startsWith('%')) continue;
    if (ended) return i + 1;
    if (/^---(?:\s|$)/.test(l)) {
      if (started) return i + 1;
      started = true;
    } else if (/^\.\.\.(?:\s|$)/.test(l)) ended = true;
    else started = true;
  }
  return undefined;
}

function tryStrictJson(body: string): unknown {
  try {
    return parseStrictJson(Buffer.from(body, 'utf8'));
  } catch {
    return undefined; // not strict JSON: js-yaml reports the error with a line and column
  }
}

function finish(doc: unknown, text: string, source: string, opts: LoadOptions): MonitorConfig {
  const p = new Problems();
  const hash = createHash('sha256').update(text);
  const cfg = validate(p, doc, opts, hash);
  if (p.list.length > 0 || !cfg) {
    const n = p.list.length;
    throw new InputError('CONFIG_MALFORMED', `${source}: ${n === 1 ? '' : `${n} problems: `}${p.list.slice(0, 10).join('; ')}${n > 10 ? `; … ${n - 10} more` : ''}`, {
      hint: [...p.hints, 'see examples/monitor.yaml for every key with its meaning'].join('; '),
    });
  }
  return { ...cfg, file: source, hash: hash.digest('hex') };
}

function validate(p: Problems, doc: unknown, opts: LoadOptions, hash: ReturnType<typeof createHash>): Omit<MonitorConfig, 'file' | 'hash'> | undefined {
  const o = object(p, doc, '', TOP, ['schedule', 'endpoints']);
  if (!o) return undefined;
  const rel = (f: string) => resolve(opts.cwd, f);

  let schedule = '';
  if (o.schedule !== undefined) {
    const s = str(p, o.schedule, 'schedule', 'a cron expression (node-cron syntax, e.g. "*/30 * * * * *")');
    if (s !== undefined) {
      if (!validateCron(s)) p.add('schedule', 'a valid cron expression: [second] minute hour day-of-month month day-of-week, e.g. "*/5 * * * *"', s);
      else schedule = s;
    }
  }
  let timezone: string | null = null;
  if (o.timezone !== undefined) {
    const tz = str(p, o.timezone, 'timezone', 'an IANA time zone such as "Europe/Paris"');
    if (tz !== undefined) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        timezone = tz;
      } catch {
        p.add('timezone', 'an IANA time zone such as "Europe/Paris"', tz);
      }
    }
  }
  const sec: SecretCtx = { env: opts.env, rel, required: opts.secrets !== 'optional' };
  const { state, statePassword, localDir } = stateConfig(p, o, rel, sec);
  const expiryWarningDays = o.expiryWarningDays === undefined ? DEFAULTS.expiryWarningDays : (days(p, o.expiryWarningDays, 'expiryWarningDays') ?? []);
  const timeoutMs = duration(p, o.timeout ?? DEFAULTS.timeout, 'timeout', 1, 600_000) ?? 5000;
  const retries = o.retries === undefined ? DEFAULTS.retries : (int(p, o.retries, 'retries', 0, 10) ?? 0);
  const retryDelayMs = duration(p, o.retryDelay ?? DEFAULTS.retryDelay, 'retryDelay', 1, 600_000) ?? 1000;
  const concurrency = o.concurrency === undefined ? DEFAULTS.concurrency : (int(p, o.concurrency, 'concurrency', 1, 4096) ?? 1);
  const probeThreads = threadCount(p, o.probeThreads ?? DEFAULTS.probeThreads);
  const driftWindowMs = duration(p, o.driftWindow ?? DEFAULTS.driftWindow, 'driftWindow', 1000, 366 * 86_400_000) ?? 86_400_000;
  const staleAfterMs = o.staleAfter === undefined ? null : (duration(p, o.staleAfter, 'staleAfter', 1000, 366 * 86_400_000) ?? null);
  const vantage = o.vantage === undefined ? DEFAULT_VANTAGE : (parseVantageName(o.vantage) ?? p.add('vantage', VANTAGE_NAME_RULE, o.vantage) ?? DEFAULT_VANTAGE);
  const vantageWindowMs = o.vantageWindow === undefined ? null : (duration(p, o.vantageWindow, 'vantageWindow', 1000, 366 * 86_400_000) ?? null);

  let metrics: MonitorConfig['metrics'] = null;
  if (o.metrics !== undefined) {
    const m = object(p, o.metrics, 'metrics', ['listen', 'auth'], ['listen']);
    if (m && m.listen !== undefined) metrics = listen(p, m.listen, 'metrics.listen') ?? null;
    const auth = m?.auth === undefined ? undefined : pageAuth(p, m.auth, opts.env);
    if (metrics && auth) metrics.auth = auth;
  }

  const alerts = alertsConfig(p, o.alerts, sec);
  const dynamicPinning = o.dynamicPinning === undefined || o.dynamicPinning === null ? null : (dynamicPinningConfig(p, o.dynamicPinning, sec) ?? null);

  const endpoints: EndpointConfig[] = [];
  if (o.endpoints !== undefined) {
    if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) p.add('endpoints', 'a non-empty list of endpoints (each with at least `host`)', o.endpoints);
    else {
      const seen = new Map<string, string>();
      o.endpoints.forEach((e, i) => {
        const ep = endpoint(p, e, `endpoints[${i}]`, { expiryWarningDays, rel, now: opts.now, hash });
        if (!ep) return;
        const other = seen.get(ep.id);
        if (other) p.say(`endpoints[${i}]`, `${ep.id} is already configured at ${other}; give each host:port once`);
        seen.set(ep.id, `endpoints[${i}]`);
        endpoints.push(ep);
      });
    }
  }
  const reportsFrom = o.reportsFrom === undefined || o.reportsFrom === null ? null : (reportsFromConfig(p, o.reportsFrom, sec) ?? null);
  return { schedule, timezone, state, statePassword, localDir, expiryWarningDays, timeoutMs, retries, retryDelayMs, concurrency, probeThreads, driftWindowMs, staleAfterMs, metrics, alerts, endpoints, dynamicPinning, reportsFrom, vantage, vantageWindowMs };
}

/** `state`: a directory (SQLite) or `postgres://USER@HOST:PORT/DB`, with the password from a file or variable. */
function stateConfig(p: Problems, o: Obj, rel: (f: string) => string, sec: SecretCtx) {
  const raw = o.state === undefined ? DEFAULTS.state : (str(p, o.state, 'state', 'a directory path or a postgres:// URL') ?? DEFAULTS.state);
  const pg = /^postgres(ql)?:\/\//i.test(raw);
  if (pg) {
    try {
      new URL(raw);
    } catch {
      p.add('state', 'a PostgreSQL URL such as postgres://pinctl@127.0.0.1:5432/pinctl', raw);
    }
    if (/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/i.test(raw)) p.say('state', 'holds a password: give it with statePasswordFile or statePasswordEnv instead');
  } else if (o.statePasswordEnv !== undefined || o.statePasswordFile !== undefined) {
    p.say('statePasswordEnv', 'only for a postgres:// state');
  }
  // The state is read by every command, status and history included: its password is always required.
  const statePassword = secretOf(p, o, '', 'statePassword', { ...sec, required: true });
  const state = pg ? raw : rel(raw);
  const local = o.localDir === undefined ? undefined : str(p, o.localDir, 'localDir', 'a directory path');
  const localDir = local !== undefined ? rel(local) : pg ? rel('./pinctl-local') : state;
  return { state, statePassword, localDir };
}

/** A secret read from a file (first line, trailing newline dropped); the file must exist. */
function secretFile(p: Problems, v: unknown, path: string, rel: (f: string) => string, required = true): string | null {
  const f = str(p, v, path, 'the path of a file holding the secret');
  if (f === undefined) return null;
  try {
    const value = readFileSync(rel(f), 'utf8').split(/\r?\n/)[0] ?? '';
    if (!value) return required ? (p.say(path, `${f} is empty`) ?? null) : null;
    return value;
  } catch (e) {
    return required ? (p.say(path, `cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? 'error'})`) ?? null) : null;
  }
}

function dynamicPinningConfig(p: Problems, v: unknown, sec: SecretCtx): DynamicPinningConfig | undefined {
  const env = sec.env;
  const d = object(p, v, 'dynamicPinning', ['service', 'tokenEnv', 'tokenFile', 'publish', 'overlap'], ['service']);
  if (!d) return undefined;
  const service = d.service === undefined ? undefined : url(p, d.service, 'dynamicPinning.service', ['http:', 'https:'], env);
  let publish = false;
  if (d.publish !== undefined) {
    if (typeof d.publish !== 'boolean') p.add('dynamicPinning.publish', 'true or false', d.publish);
    else publish = d.publish;
  }
  if (d.tokenEnv !== undefined && d.tokenFile !== undefined) p.say('dynamicPinning.tokenFile', 'give tokenFile or tokenEnv, not both');
  const tokenEnv = d.tokenEnv === undefined ? DEFAULTS.dynamicPinningTokenEnv : str(p, d.tokenEnv, 'dynamicPinning.tokenEnv', 'the name of an environment variable');
  let token: string | null = null;
  if (d.tokenFile !== undefined) {
    token = secretFile(p, d.tokenFile, 'dynamicPinning.tokenFile', sec.rel, publish && sec.required);
  } else if (tokenEnv !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(tokenEnv)) p.add('dynamicPinning.tokenEnv', 'the name of an environment variable (letters, digits, _)', tokenEnv);
    else {
      token = env[tokenEnv] ?? null;
      // Proposing only prints `$VAR` in the curl command; publishing needs the token now.
      if (publish && sec.required && (token === null || token.trim() === '')) p.say('dynamicPinning.tokenEnv', `publish is true but the environment variable ${tokenEnv} is not set`);
    }
  }
  const overlapMs = duration(p, d.overlap ?? DEFAULTS.overlap, 'dynamicPinning.overlap', 3_600_000, 730 * 86_400_000);
  if (!service || tokenEnv === undefined || overlapMs === undefined) return undefined;
  const tokenFile = typeof d.tokenFile === 'string' ? d.tokenFile : null;
  return { service: service.replace(/\/+$/, ''), tokenEnv, tokenFile, token, publish, overlapMs };
}

/** `metrics.auth: { tokenEnv: VAR }` or `{ user: NAME, passwordEnv: VAR }`: secrets come from the environment. */
function pageAuth(p: Problems, v: unknown, env: Record<string, string | undefined>): PageAuth | undefined {
  const a = object(p, v, 'metrics.auth', ['tokenEnv', 'user', 'passwordEnv']);
  if (!a) return undefined;
  const secret = (key: 'tokenEnv' | 'passwordEnv') => {
    const name = str(p, a[key], `metrics.auth.${key}`, 'the name of an environment variable');
    if (name === undefined) return undefined;
    const value = env[name];
    if (!value) return p.say(`metrics.auth.${key}`, `the environment variable ${name} is not set (the status page would be open)`);
    return value;
  };
  if (a.tokenEnv !== undefined) {
    if (a.user !== undefined || a.passwordEnv !== undefined) return p.say('metrics.auth', 'give either tokenEnv (bearer) or user + passwordEnv (basic), not both');
    const token = secret('tokenEnv');
    return token === undefined ? undefined : { kind: 'bearer', token };
  }
  const user = str(p, a.user, 'metrics.auth.user', 'a user name (with passwordEnv), or tokenEnv');
  const password = secret('passwordEnv');
  if (user === undefined || password === undefined) return undefined;
  if (user.includes(':')) return p.add('metrics.auth.user', 'a user name without ":"', user);
  return { kind: 'basic', user, password };
}

function listen(p: Problems, v: unknown, path: string): { host: string; port: number } | undefined {
  const s = typeof v === 'number' ? `127.0.0.1:${v}` : str(p, v, path, 'HOST:PORT such as "127.0.0.1:9464"');
  if (s === undefined) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(s.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (host !== '' && !isIP(host) && !isHostname(host))) return p.add(path, 'HOST:PORT such as "127.0.0.1:9464" or "[::1]:9464" (port 0 picks a free one)', v);
  return { host: host || '0.0.0.0', port };
}

/** The loader's field checks bound to `alerts.NAME`, for the channel registry's parsers. */
function channelKit(p: Problems, path: string, hint: string, sec: SecretCtx): ChannelConfigKit {
  const at = (key: string) => join(path, key);
  const before = p.list.length;
  const noted = <T>(v: T): T => {
    if (p.list.length > before) p.hints.add(hint);
    return v;
  };
  return {
    path,
    secretsOptional: !sec.required,
    section: (v, allowed, required = []) => noted(object(p, v, path, allowed, required)),
    str: (v, key, what) => noted(str(p, v, at(key), what)),
    url: (v, key, protocols) => noted(url(p, v, at(key), protocols, sec.env)),
    timeoutMs: (o) => noted(duration(p, o.timeout ?? DEFAULTS.channelTimeout, at('timeout'), 100, 300_000) ?? 10_000),
    bool: (v, key) => (typeof v === 'boolean' ? v : noted(p.add(at(key), 'true or false', v))),
    secret: (o, base) => noted(secretOf(p, o, path, base, sec)),
    add: (key, expected, found) => noted(p.add(at(key), expected, found)),
    say: (key, message) => noted(p.say(at(key), message)),
  };
}

function alertsConfig(p: Problems, v: unknown, sec: SecretCtx): AlertsConfig {
  const out = {
    ...(Object.fromEntries(CHANNEL_NAMES.map((n) => [n, null])) as unknown as ChannelConfigs),
    reminderMs: parseDurationMs(DEFAULTS.reminder)!,
    minSeverity: DEFAULTS.minSeverity,
    retryInitialMs: parseDurationMs(DEFAULTS.retryInitial)!,
    retryMaxMs: parseDurationMs(DEFAULTS.retryMax)!,
  } as AlertsConfig;
  if (v === undefined) return out;
  const a = object(p, v, 'alerts', [...CHANNEL_NAMES, 'reminder', 'minSeverity', 'retry']);
  if (!a) return out;
  for (const ch of CHANNELS) {
    if (a[ch.name] === undefined) continue;
    const parsed = ch.parse(a[ch.name], channelKit(p, `alerts.${ch.name}`, ch.hint, sec));
    (out as unknown as Record<string, unknown>)[ch.name] = parsed ?? null;
  }
  if (a.reminder !== undefined) out.reminderMs = duration(p, a.reminder, 'alerts.reminder', 60_000, 366 * 86_400_000) ?? out.reminderMs;
  if (a.minSeverity !== undefined) {
    if (a.minSeverity === 'warning' || a.minSeverity === 'critical') out.minSeverity = a.minSeverity;
    else p.add('alerts.minSeverity', '"warning" or "critical"', a.minSeverity);
  }
  if (a.retry !== undefined) {
    const r = object(p, a.retry, 'alerts.retry', ['initial', 'max']);
    if (r) {
      if (r.initial !== undefined) out.retryInitialMs = duration(p, r.initial, 'alerts.retry.initial', 100, 86_400_000) ?? out.retryInitialMs;
      if (r.max !== undefined) out.retryMaxMs = duration(p, r.max, 'alerts.retry.max', 100, 7 * 86_400_000) ?? out.retryMaxMs;
    }
  }
  return out;
}

interface EndpointCtx {
  expiryWarningDays: number[];
  rel: (f: string) => string;
  now: Date;
  hash: ReturnType<typeof createHash>;
  /** Set by pinsFrom when the pins come from a served bundle. */
  served?: ServedBundleSource;
}

function endpoint(p: Problems, v: unknown, path: string, ctx: EndpointCtx): EndpointConfig | undefined {
  const e = object(p, v, path, ENDPOINT, ['host']);
  if (!e) return undefined;
  const before = p.list.length;
  let host = str(p, e.host, join(path, 'host'), 'a host name or IP address') ?? '';
  host = host.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
  if (host && !isIP(host) && !isHostname(host)) p.add(join(path, 'host'), 'a host name or IP address (no scheme, no port: use `port`)', e.host);
  const port = e.port === undefined ? 443 : int(p, e.port, join(path, 'port'), 1, 65535);
  let sni = host;
  if (e.sni !== undefined) {
    const s = str(p, e.sni, join(path, 'sni'), 'a host name');
    if (s !== undefined && !isHostname(s.toLowerCase())) p.add(join(path, 'sni'), 'a host name', s);
    else if (s) sni = s.toLowerCase();
  }
  let addresses: string[] | null = null;
  if (e.addresses !== undefined) {
    if (!Array.isArray(e.addresses) || e.addresses.length === 0) p.add(join(path, 'addresses'), 'a non-empty list of IP addresses', e.addresses);
    else {
      addresses = [];
      e.addresses.forEach((a, i) => {
        const s = typeof a === 'string' ? a.trim().replace(/^\[(.*)\]$/, '$1') : a;
        if (typeof s !== 'string' || !isIP(s)) p.add(join(path, `addresses`) + `[${i}]`, 'an IPv4 or IPv6 address', a);
        else addresses!.push(s);
      });
      addresses = [...new Set(addresses)];
    }
  }
  let caFile: string | null = null;
  let caFileAsWritten: string | null = null;
  if (e.caFile !== undefined) {
    const f = str(p, e.caFile, join(path, 'caFile'), 'a path to a PEM file of CA certificates');
    if (f !== undefined) {
      caFileAsWritten = f;
      caFile = ctx.rel(f);
      try {
        ctx.hash.update(readFileSync(caFile));
      } catch (err) {
        p.say(join(path, 'caFile'), `cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
  }
  const expiryWarningDays = e.expiryWarningDays === undefined ? ctx.expiryWarningDays : (days(p, e.expiryWarningDays, join(path, 'expiryWarningDays')) ?? []);
  let pins: ExpectedPins | null = null;
  if (e.pins !== undefined && e.pinsFrom !== undefined) p.say(path, 'give either `pins` or `pinsFrom`, not both');
  else if (e.pins !== undefined) {
    if (!Array.isArray(e.pins) || e.pins.length === 0) p.add(join(path, 'pins'), 'a non-empty list of base64 SPKI pins', e.pins);
    else {
      const values: string[] = [];
      e.pins.forEach((x, i) => {
        const pin = pinValue(p, x, `${join(path, 'pins')}[${i}]`);
        if (pin) values.push(pin);
      });
      pins = { source: 'inline', format: 'inline', semantics: 'any', expiration: null, pins: [...new Set(values)].map((spkiSha256) => ({ spkiSha256, role: 'backup' as PinRole })) };
    }
  } else if (e.pinsFrom !== undefined && host) {
    ctx.served = undefined;
    pins = pinsFrom(p, e.pinsFrom, join(path, 'pinsFrom'), sni, ctx) ?? null; // apps pin the name they connect to
  }
  if (p.list.length > before || port === undefined) return undefined;
  const servedBundle = e.pinsFrom !== undefined ? (ctx.served ?? null) : null;
  const id = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { id, host, port, sni, addresses, caFile, caFileAsWritten, pins, expiryWarningDays, servedBundle };
}

const exactEntry = (d: { domain: string; includeSubdomains: boolean }, host: string) =>
  d.domain.toLowerCase() === host.toLowerCase() ? { includeSubdomains: d.includeSubdomains } : {};

/**
 * `pinsFrom: FILE` (a config the app ships, format detected from the content) or
 * `pinsFrom: { bundle: FILE, keys: [PEM files or base64 keys], audience: ID }` (a signed pinctl
 * bundle, verified with the same TrustedStore the SDKs use; freshness is not required, since the
 * monitor must keep checking the pins devices still hold).
 */
function pinsFrom(p: Problems, v: unknown, path: string, host: string, ctx: EndpointCtx): ExpectedPins | undefined {
  if (typeof v === 'string') {
    const file = ctx.rel(v);
    let text: string;
    try {
      const bytes = readFileSync(file);
      ctx.hash.update(bytes);
      text = bytes.toString('utf8');
    } catch (e) {
      return p.say(path, `cannot read ${v} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const r = readConfig(text, v);
      const d = matchDomain(r.pinSet.domains, host);
      if (!d) return p.say(path, `${v} (${r.format}) pins no domain matching ${host}; it pins ${r.pinSet.domains.map((x) => x.domain).join(', ') || 'nothing'}`);
      return {
        source: v,
        format: r.format,
        semantics: r.format === 'ios' ? 'ios' : 'any',
        expiration: r.format === 'ios' ? null : expirationOf(r.pinSet, d),
        pins: d.pins.map((x) => ({ spkiSha256: x.spkiSha256, role: x.role })),
        ...exactEntry(d, host),
      };
    } catch (e) {
      return p.say(path, `cannot use ${v}: ${describeError(e)}`);
    }
  }
  const o = object(p, v, path, ['bundle', 'keys', 'publicKey', 'audience', 'expiryWarningDays'], ['bundle', 'audience']);
  if (!o) return undefined;
  const bundle = str(p, o.bundle, join(path, 'bundle'), 'the URL of the signing service (or the path of a signed pins bundle)');
  const audience = str(p, o.audience, join(path, 'audience'), "the app's bundle audience");
  const keys = bundleKeys(p, o, path, ctx);
  if (!bundle || !audience || !keys) return undefined;
  if (/^https?:\/\//i.test(bundle)) return servedBundle(p, { bundle, audience, keys, o, path, ctx });
  if (o.expiryWarningDays !== undefined) return p.say(join(path, 'expiryWarningDays'), 'only for a served bundle (a URL): a bundle file does not change');
  try {
    const bytes = readFileSync(ctx.rel(bundle));
    ctx.hash.update(bytes);
    const store = new TrustedStore({ audience, keyset: embeddedKeyset(keys) });
    const applied = store.restore('pins', new Uint8Array(bytes));
    const d = matchDomain(
      applied.payload.domains.map((x) => ({ domain: x.domain, includeSubdomains: x.includeSubdomains, pins: x.pins })),
      host,
    );
    if (!d) return p.say(join(path, 'bundle'), `${bundle} pins no domain matching ${host}`);
    return { source: bundle, format: 'bundle', semantics: 'any', expiration: null, pins: d.pins.map((spkiSha256) => ({ spkiSha256, role: 'backup' as PinRole })), ...exactEntry(d, host) };
  } catch (e) {
    const code = e instanceof PinctlError ? undefined : (e as NodeJS.ErrnoException).code;
    return p.say(join(path, 'bundle'), code ? `cannot read ${bundle} (${code})` : `${bundle}: ${describeError(e)}`);
  }
}

/** `keys: [PEM files or base64 keys]` or `publicKey: FILE or base64` (exactly one of them). */
function bundleKeys(p: Problems, o: Obj, path: string, ctx: EndpointCtx): string[] | undefined {
  if ((o.keys === undefined) === (o.publicKey === undefined)) {
    return p.say(path, 'give the keys that sign the bundles: `publicKey: FILE` or `keys: [FILE or base64, ...]`');
  }
  const list = o.keys !== undefined ? o.keys : [o.publicKey];
  const at = (i: number) => (o.keys !== undefined ? `${join(path, 'keys')}[${i}]` : join(path, 'publicKey'));
  if (!Array.isArray(list) || list.length === 0) return p.add(join(path, 'keys'), 'a list of Ed25519 public keys (PEM files or base64)', list);
  const keys: string[] = [];
  list.forEach((k, i) => {
    const s = str(p, k, at(i), 'a PEM file path or a base64 Ed25519 public key');
    if (s === undefined) return;
    if (/^[A-Za-z0-9+/]{43}=$/.test(s)) keys.push(s);
    else {
      try {
        const bytes = readFileSync(ctx.rel(s));
        ctx.hash.update(bytes);
        keys.push(bytes.toString('utf8'));
      } catch (e) {
        p.say(at(i), `cannot read ${s} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
  });
  if (keys.length !== list.length) return undefined;
  try {
    embeddedKeyset(keys); // refuse a non-Ed25519 or unsafe key now, not at the first sweep
  } catch (e) {
    return p.say(o.keys !== undefined ? join(path, 'keys') : join(path, 'publicKey'), describeError(e));
  }
  return keys;
}

interface ServedArgs {
  bundle: string;
  audience: string;
  keys: string[];
  o: Obj;
  path: string;
  ctx: EndpointCtx;
}

/** A served bundle: nothing to read now; the sweep pulls it (monitor/served-bundles.ts). */
function servedBundle(p: Problems, a: ServedArgs): ExpectedPins | undefined {
  let url: URL;
  try {
    url = new URL(a.bundle);
  } catch {
    return p.add(join(a.path, 'bundle'), 'the URL of the signing service', a.bundle);
  }
  const warn = a.o.expiryWarningDays === undefined ? [7, 3, 1] : days(p, a.o.expiryWarningDays, join(a.path, 'expiryWarningDays'));
  if (!warn) return undefined;
  const base = url.href.replace(/\/v1\/bundles\/pins\/?$/, '').replace(/\/+$/, '');
  const id = createHash('sha256').update(JSON.stringify([base, a.audience, [...a.keys].sort()])).digest('hex').slice(0, 16);
  a.ctx.served = { id, url: base, audience: a.audience, keys: a.keys, expiryWarningDays: warn };
  return undefined;
}

/** The exact domain, else the longest parent that includes subdomains (as the platforms match). */
function matchDomain<T extends { domain: string; includeSubdomains: boolean }>(domains: T[], host: string): T | undefined {
  const exact = domains.find((d) => d.domain.toLowerCase() === host);
  if (exact) return exact;
  return domains
    .filter((d) => d.includeSubdomains && host.endsWith(`.${d.domain.toLowerCase()}`))
    .sort((a, b) => b.domain.length - a.domain.length)[0];
}

/**
 * `reportsFrom: { dir: PATH }` (PATH is `pinctl serve --data`) or `{ url: URL, tokenFile | tokenEnv }`
 * (the service's `GET /v1/reports`, with its admin token), plus `window`, `warning`, `critical`.
 */
function reportsFromConfig(p: Problems, v: unknown, sec: SecretCtx): ReportsSourceConfig | undefined {
  const o = object(p, v, 'reportsFrom', ['dir', 'url', 'tokenFile', 'tokenEnv', 'timeout', 'window', 'warning', 'critical']);
  if (!o) return undefined;
  if ((o.dir === undefined) === (o.url === undefined)) p.say('reportsFrom', 'give `dir` (the data directory of pinctl serve) or `url` (the service, with tokenFile or tokenEnv), one of them');
  const dir = o.dir === undefined ? undefined : str(p, o.dir, 'reportsFrom.dir', 'the data directory of pinctl serve (--data), where reports.log is');
  const base = o.url === undefined ? undefined : url(p, o.url, 'reportsFrom.url', ['http:', 'https:'], sec.env)?.replace(/\/+$/, '');
  if (o.dir !== undefined && (o.tokenFile !== undefined || o.tokenEnv !== undefined)) p.say('reportsFrom', 'tokenFile/tokenEnv go with `url`, not `dir`');
  const token = secretOf(p, o, 'reportsFrom', 'token', sec);
  if (base && !token && sec.required && o.tokenFile === undefined && o.tokenEnv === undefined) p.say('reportsFrom', 'GET /v1/reports needs the admin token: give tokenFile or tokenEnv');
  const timeoutMs = duration(p, o.timeout ?? DEFAULTS.channelTimeout, 'reportsFrom.timeout', 100, 300_000);
  const windowMs = duration(p, o.window ?? '1h', 'reportsFrom.window', 60_000, 30 * 86_400_000);
  const warning = o.warning === undefined ? 1 : int(p, o.warning, 'reportsFrom.warning', 1, 1_000_000);
  const critical = o.critical === undefined ? Math.max(10, warning ?? 1) : int(p, o.critical, 'reportsFrom.critical', 1, 1_000_000);
  if (warning !== undefined && critical !== undefined && critical < warning) p.say('reportsFrom.critical', `must be at least reportsFrom.warning (${warning})`);
  if ((dir === undefined && base === undefined) || windowMs === undefined || warning === undefined || critical === undefined || timeoutMs === undefined) return undefined;
  const abs = dir === undefined ? null : sec.rel(dir);
  const id = createHash('sha256').update(abs ?? base!).digest('hex').slice(0, 16);
  return { id, dir: abs, url: base ?? null, token, asWritten: dir ?? base!, policy: { windowMs, warning, critical }, timeoutMs };
}
