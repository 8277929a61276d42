/**
 * probeTls spread over worker threads: a TLS handshake is CPU-bound (key exchange, parsing and
 * verifying the peer's certificates), and one Node thread runs one core. Each request goes to the
 * thread with the fewest in flight; results are exactly probeTls's (the error rebuilt as a
 * ProbeError with the same code, message and hint). Threads are started per sweep and closed after.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, ProbeError } from '../errors.js';
import { ProbeRequest, ProbeResult, Prober, probeTls } from './probe.js';

export interface ProbePool {
  probe: Prober;
  close(): Promise<void>;
}

/** A failure crosses the thread boundary as its toJSON(): code, message, hint. */
type PostedError = { code: ErrorCode; message: string; hint?: string };
type Posted = ProbeResult | (Omit<ProbeResult & { ok: false }, 'error'> & { error: PostedError });

interface Thread {
  worker: Worker;
  /** Requests sent to this thread and not answered yet. */
  pending: Map<number, (r: ProbeResult) => void>;
  dead: boolean;
}

/**
 * `count` probing threads, or null when they cannot be started from this module: run from its
 * TypeScript source (a test runner), the compiled probe-thread.js it would load does not exist.
 */
export function startProbeThreads(count: number): ProbePool | null {
  const url = new URL('./probe-thread.js', import.meta.url);
  if (!import.meta.url.endsWith('.js')) return null;
  let nextId = 0;
  const threads: Thread[] = Array.from({ length: count }, () => {
    const t: Thread = { worker: new Worker(url), pending: new Map(), dead: false };
    t.worker.on('message', (m: { id: number; r: Posted }) => {
      const done = t.pending.get(m.id)!;
      t.pending.delete(m.id);
      const r = m.r;
      done(r.ok ? r : { ...r, error: new ProbeError(r.error.code, r.error.message, { hint: r.error.hint }) });
    });
    // A thread that dies answers what it held with an error and takes no more; the sweep goes on.
    const died = (why: string) => {
      t.dead = true;
      for (const [, done] of t.pending) {
        done({ ok: false, address: '', error: new ProbeError('HANDSHAKE', `the probing thread stopped: ${why}`), durationMs: 0 });
      }
      t.pending.clear();
    };
    t.worker.on('error', (e) => died(e.message));
    t.worker.on('exit', (code) => died(`exit ${code}`));
    return t;
  });
  const probe: Prober = (req: ProbeRequest) => {
    const live = threads.filter((t) => !t.dead);
    if (live.length === 0) return probeTls(req);
    const t = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = nextId++;
    return new Promise((resolve) => {
      t.pending.set(id, (r) => resolve(r.ok || r.address ? r : { ...r, address: req.address }));
      t.worker.postMessage({ id, req });
    });
  };
  const close = async () => {
    for (const t of threads) t.dead = true;
    await Promise.all(threads.map((t) => t.worker.terminate()));
  };
  return { probe, close };
}
