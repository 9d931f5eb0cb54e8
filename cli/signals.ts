/** Waits for Ctrl-C (SIGINT) or SIGTERM; a second signal while stopping exits at once. */
export function untilSignal(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, onSignal);
      for (const s of signals) {
        process.once(s, () => {
          process.stderr.write(`\n${s} again: exiting without a clean stop\n`);
          process.exit(130);
        });
      }
      resolve(signal);
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
