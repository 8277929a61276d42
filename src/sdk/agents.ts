/**
 * Enforcing agents: a Node https.Agent and an undici dispatcher for fetch. Both keep normal chain
 * validation (rejectUnauthorized is forced on) and add checkPeer after it. Connections made under
 * older pins are not reused once new pins apply: a removed pin must stop working at once.
 */
import https from 'node:https';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Agent, Dispatcher, buildConnector } from 'undici';
import { checkPeer, platformTrust, type Enforcer } from './enforce.js';

const generationOf = new WeakMap<object, number>();

export class PinningHttpsAgent extends https.Agent {
  readonly #enforcer: Enforcer;
  readonly #platform: () => ReadonlySet<string>;

  constructor(enforcer: Enforcer, options: https.AgentOptions = {}) {
    // No TLS session cache: a resumed session skips checkServerIdentity, and with it the pins.
    super({ ...options, rejectUnauthorized: true, maxCachedSessions: 0 });
    this.#enforcer = enforcer;
    this.#platform = platformTrust(options.ca);
    enforcer.watch(this);
  }

  override createConnection(options: https.RequestOptions, cb?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const port = Number(options.port) || 443;
    const generation = this.#enforcer.generation();
    const tlsOptions = {
      ...options,
      session: undefined,
      rejectUnauthorized: true,
      checkServerIdentity: (host: string, cert: PeerCertificate) => checkPeer(this.#enforcer, host, port, cert, this.#platform),
    } as https.RequestOptions;
    const socket = super.createConnection(tlsOptions, cb);
    if (socket) generationOf.set(socket, generation);
    return socket;
  }

  override keepSocketAlive(socket: Duplex): boolean {
    if (generationOf.get(socket) !== this.#enforcer.generation()) return false;
    return (super.keepSocketAlive(socket) as unknown) !== false;
  }

  /** Closes idle kept-alive sockets (called when the pins change). */
  dropIdle(): void {
    for (const list of Object.values(this.freeSockets)) for (const s of list ?? []) s.destroy();
  }
}

/** An undici dispatcher: one undici Agent per pin generation, the previous one closed gracefully. */
export class PinningDispatcher extends Dispatcher {
  readonly #enforcer: Enforcer;
  readonly #make: () => Agent;
  #inner: Agent;
  #generation: number;
  #closed = false;

  constructor(enforcer: Enforcer, options: Agent.Options = {}) {
    super();
    if (typeof options.connect === 'function') throw new TypeError('dispatcher(): give `connect` as TLS options, not a function');
    const connect = (options.connect ?? {}) as ConnectionOptions & { timeout?: number | null };
    const platform = platformTrust(connect.ca);
    this.#enforcer = enforcer;
    this.#make = () =>
      new Agent({
        ...options,
        connect: (opts, cb) =>
          buildConnector({
            ...connect,
            timeout: options.connectTimeout ?? connect.timeout,
            allowH2: options.allowH2,
            maxCachedSessions: 0,
            session: undefined,
            rejectUnauthorized: true,
            checkServerIdentity: (host, cert) => checkPeer(enforcer, host, Number(opts.port) || 443, cert, platform),
          })(opts, cb),
      });
    this.#inner = this.#make();
    this.#generation = enforcer.generation();
    enforcer.watch(this);
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    if (this.#generation !== this.#enforcer.generation()) this.dropIdle();
    return this.#inner.dispatch(opts, handler);
  }

  dropIdle(): void {
    if (this.#closed || this.#generation === this.#enforcer.generation()) return;
    const old = this.#inner;
    this.#inner = this.#make();
    this.#generation = this.#enforcer.generation();
    old.close().catch(() => {});
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.#closed = true;
    return settle(this.#inner.close(), callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    this.#closed = true;
    return settle(this.#inner.destroy(typeof a === 'function' ? null : (a ?? null)), typeof a === 'function' ? a : b);
  }
}

function settle(p: Promise<void>, callback: (() => void) | undefined): Promise<void> | void {
  if (!callback) return p;
  p.then(callback, callback);
}
