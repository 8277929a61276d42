/**
 * A worker thread of startProbeThreads() (probe-threads.ts): runs probeTls for each request it is
 * sent and posts the result back, the certificates' buffers transferred rather than copied.
 */
import { parentPort } from 'node:worker_threads';
import { ProbeRequest, probeTls } from './probe.js';

parentPort!.on('message', (m: { id: number; req: ProbeRequest }) => {
  void probeTls(m.req).then((r) => {
    if (r.ok) parentPort!.postMessage({ id: m.id, r }, r.served.map((d) => d.buffer as ArrayBuffer));
    else parentPort!.postMessage({ id: m.id, r: { ...r, error: r.error.toJSON() } });
  });
});
