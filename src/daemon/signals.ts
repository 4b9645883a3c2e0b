/**
 * The signals `herald serve` answers: SIGTERM and SIGINT stop the daemon, SIGHUP reloads its config.
 *
 * serve runs as PID 1 in the container image, and the kernel gives PID 1 no default action for
 * SIGTERM: these handlers are what makes `docker stop` work. serve installs them before it starts
 * the daemon, so a stop asked for during start-up is not lost: the daemon honours it as soon as
 * start-up is done (Daemon.stop). They stay installed until serve returns, so a second SIGTERM
 * during the shutdown does not kill the process halfway through it.
 */
export interface SignalTarget {
  stop(reason: string): Promise<void>;
  reload(): Promise<unknown>;
}

/** Routes the signals to `daemon`; returns the function that removes the handlers. `proc` is the process (an emitter in tests). */
export function routeSignals(daemon: SignalTarget, proc: NodeJS.EventEmitter = process): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGTERM', () => void daemon.stop('SIGTERM')],
    ['SIGINT', () => void daemon.stop('SIGINT')],
    ['SIGHUP', () => void daemon.reload()],
  ];
  for (const [signal, handler] of handlers) proc.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) proc.off(signal, handler);
  };
}
