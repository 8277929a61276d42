/**
 * Progress on long work: an ink spinner when stderr is a terminal, nothing in CI or pipes (and ink
 * is then never loaded, keeping start-up fast).
 */
import { CliIO } from './io.js';

export async function withProgress<T>(io: CliIO, label: string, work: (onProgress: (done: number, total: number) => void) => Promise<T>): Promise<T> {
  const interactive = Boolean(io.stderr.isTTY) && !io.env.CI && io.stderr === process.stderr;
  if (!interactive) return work(() => {});
  const { startProgressView } = await import('./views/progress-view.js');
  const view = startProgressView(label);
  try {
    return await work((done, total) => view.update(done, total));
  } finally {
    view.stop();
  }
}
