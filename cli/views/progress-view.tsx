import React, { useEffect, useState } from 'react';
import { render, Text } from 'ink';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

interface State {
  done: number;
  total: number;
}

function Progress({
  label,
  color,
  subscribe,
}: {
  label: string;
  color: boolean;
  subscribe: (fn: (s: State) => void) => void;
}) {
  const [state, setState] = useState<State>({ done: 0, total: 0 });
  const [frame, setFrame] = useState(0);
  useEffect(() => {
    subscribe(setState);
    const t = setInterval(() => setFrame((f) => (f + 1) % FRAMES.length), 80);
    return () => clearInterval(t);
  }, []);
  return (
    <Text color={color ? 'cyan' : undefined}>
      {FRAMES[frame]} {label} {state.total > 0 ? `${state.done}/${state.total} addresses` : ''}
    </Text>
  );
}

/** `color`: false with NO_COLOR or TERM=dumb (the caller reads its environment). */
export function startProgressView(
  label: string,
  color = true,
): { update(done: number, total: number): void; stop(): void } {
  let listener: ((s: State) => void) | undefined;
  const app = render(<Progress label={label} color={color} subscribe={(fn) => (listener = fn)} />, {
    stdout: process.stderr,
    patchConsole: false,
  });
  return {
    update: (done, total) => listener?.({ done, total }),
    stop: () => {
      app.clear();
      app.unmount();
    },
  };
}
