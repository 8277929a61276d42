/**
 * Progress on long work: an ink spinner when stderr is a terminal, nothing in CI or pipes (and ink
 * is then never loaded, keeping start-up fast).
 */
import { CliIO } from './io.js';

export async function withProgress<T>(io: CliIO, label: string, work: (onProgress: (done: number, total: number) => void) => Promise<T>): Promise<T> {
  // A spinner redraws in place: not on a dumb terminal (no cursor movement).
  const interactive = Boolean(io.stderr.isTTY) && !io.env.CI && io.stderr === process.stderr && io.env.TERM !== 'dumb';
  if (!interactive) return work(() => {});
  const { startProgressView } = await import('./views/progress-view.js');
  const view = startProgressView(label, !io.env.NO_COLOR);
  try {
    return await work((done, total) => view.update(done, total));
  } finally {
    view.stop();
  }
}
