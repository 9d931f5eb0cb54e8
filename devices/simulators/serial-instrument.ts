/**
 * A simulated serial instrument on the device end of a serial line (in tests: one end of a socat pty pair), for
 * any SerialProfile, with no per-device code: the profile's template is rendered from a trace (renderSerialLine).
 *
 * - listen profiles print the rendered template every intervalMs on the clock (and once at start);
 * - query profiles follow their steps: after each `send` the host writes, the `expect` steps that follow are
 *   answered with their text; after the last step the rendered template is the answer. A command that starts
 *   the exchange again (the first step's text) restarts it, as after a host timeout.
 *
 * Test controls: setState forces the trace's state; setSilent stops all output; nak answers the handshake
 * (the first line the instrument would send in an exchange) with NAK 0x15; setAnswer sends a fixed line (e.g.
 * garbage) instead of the template; setDelay answers late (rendered when asked, written after the delay).
 */
import { SerialPort } from 'serialport';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.ts';
import type { SerialProfile } from '../profile.ts';
import { compileSerialProfile, NAK, renderSerialLine } from '../serial-codec.ts';
import type { Trace, TraceState } from '../traces.ts';

export interface SerialInstrumentOptions {
  /** The device end of the line, e.g. a socat pty link. */
  path: string;
  profile: SerialProfile;
  trace: Trace;
  /** Time source for the trace, the print interval and delays (default systemClock). */
  clock?: Clock;
  /** listen profiles: print period, ms (default 1000). */
  intervalMs?: number;
  /** Baud rate to open the port with (default: the profile's); ptys ignore it. */
  baud?: number;
  /** Start with setAnswer(answer) (e.g. garbage, so not even the first line printed at start matches). */
  answer?: string;
}

export interface SerialInstrument {
  readonly path: string;
  /** Commands received that completed an exchange (query profiles), and lines printed (listen profiles). */
  readonly answered: number;
  /** Forces the trace into `state` from now on (clock.now()); null resumes its schedule. */
  setState(state: TraceState | null): void;
  /** A silent instrument sends nothing (default true). */
  setSilent(silent?: boolean): void;
  /** Answers the handshake (the first line of each exchange) with NAK (default true). */
  nak(on?: boolean): void;
  /** Sends this line (without terminator) instead of the rendered template; null goes back to the template. */
  setAnswer(line: string | null): void;
  /** Answers this many ms late (on the clock); 0 answers at once. */
  setDelay(ms: number): void;
  /** Stops the instrument and closes its port; never rejects. */
  close(): Promise<void>;
}

/** Opens the device end of a serial line and plays the instrument on it. */
export async function startSerialInstrument(options: SerialInstrumentOptions): Promise<SerialInstrument> {
  const { path, profile, trace } = options;
  const clock = options.clock ?? systemClock;
  const codec = compileSerialProfile(profile);
  const term = profile.terminator;
  const steps = profile.steps ?? [];
  const intervalMs = options.intervalMs ?? 1000;

  const sp = new SerialPort({ path, baudRate: options.baud ?? profile.defaults.baud, autoOpen: false });
  sp.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => sp.open((err) => (err ? reject(err) : resolve())));

  let closed = false;
  let silent = false;
  let nakOn = false;
  let answerOverride: string | null = options.answer ?? null;
  let delayMs = 0;
  let answered = 0;
  let input = '';
  /** Index of the next `send` step the instrument waits for. */
  let next = steps.findIndex((s) => 'send' in s);
  const first = next;
  const timers = new Set<TimerHandle>();
  let printTimer: TimerHandle | undefined;
  let watchTimer: TimerHandle | undefined;

  const line = (text: string): string => (text.endsWith(term) ? text : text + term);
  const render = (): string => answerOverride ?? renderSerialLine(codec, trace.at(clock.now()));

  const write = (text: string): void => {
    if (closed || silent || text === '') return;
    const send = (): void => {
      if (closed || !sp.isOpen) return;
      sp.write(Buffer.from(text, 'latin1'), (err) => {
        if (err) stop(); // the line is gone (cable pulled)
      });
    };
    if (delayMs <= 0) send();
    else {
      const handle = clock.setTimeout(() => {
        timers.delete(handle);
        send();
      }, delayMs);
      timers.add(handle);
    }
  };

  /** Handles the send step at `i`: answers the expect steps after it, and the template after the last step. */
  const onSend = (i: number): void => {
    let out = '';
    let j = i + 1;
    let replied = false;
    while (j < steps.length) {
      const step = steps[j]!;
      if ('send' in step) break;
      out += line(nakOn && !replied ? NAK : step.expect);
      replied = true;
      j++;
      if (nakOn) break;
    }
    if (nakOn && replied) {
      next = first; // a refused handshake ends the exchange
    } else if (j >= steps.length) {
      out += line(nakOn ? NAK : render());
      answered++;
      next = first;
    } else {
      next = j;
    }
    write(out);
  };

  const onData = (chunk: Buffer): void => {
    if (closed) return;
    if (silent) {
      input = '';
      return;
    }
    input += chunk.toString('latin1');
    for (;;) {
      const want = steps[next];
      if (!want || !('send' in want)) break;
      const at = input.indexOf(want.send);
      const restart = next !== first ? input.indexOf((steps[first] as { send: string }).send) : -1;
      if (restart >= 0 && (at < 0 || restart < at)) {
        input = input.slice(restart + (steps[first] as { send: string }).send.length);
        onSend(first);
        continue;
      }
      if (at < 0) break;
      input = input.slice(at + want.send.length);
      onSend(next);
    }
    if (input.length > 1024) input = input.slice(-256);
  };

  const print = (): void => {
    printTimer = undefined;
    if (closed) return;
    if (!silent) {
      write(line(render()));
      answered++;
    }
    printTimer = clock.setTimeout(print, intervalMs);
  };

  /** Notices a hung-up line (the pty's other side is gone) and stops, as serialport would spin reading it. */
  const watch = (): void => {
    watchTimer = clock.setTimeout(() => {
      watchTimer = undefined;
      if (closed || !sp.isOpen) return;
      sp.get((err) => {
        if (err && /input\/output error/i.test(err.message)) stop();
        else if (!closed) watch();
      });
    }, 500);
  };

  let closing: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    for (const t of timers) clock.clearTimeout(t);
    timers.clear();
    if (printTimer !== undefined) clock.clearTimeout(printTimer);
    if (watchTimer !== undefined) clock.clearTimeout(watchTimer);
    closing = new Promise<void>((resolve) => {
      if (!sp.isOpen) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, 2000);
      timer.unref();
      try {
        sp.close(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
    return closing;
  };

  sp.on('data', onData);
  sp.on('close', () => {
    void stop();
  });
  if (profile.mode === 'listen') print();
  watch();

  return {
    path,
    get answered() {
      return answered;
    },
    setState(state) {
      trace.forceState(state, clock.now());
    },
    setSilent(on = true) {
      silent = on;
    },
    nak(on = true) {
      nakOn = on;
    },
    setAnswer(text) {
      answerOverride = text;
    },
    setDelay(ms) {
      delayMs = Math.max(0, ms);
    },
    close: stop,
  };
}
