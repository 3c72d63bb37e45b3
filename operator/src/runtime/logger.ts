// pino JSON logs: one line per decision, with the resource key and reconcile id (STYLE.md).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** trace | debug | info | warn | error | fatal | silent. Default: $LOG_LEVEL or `info`. */
  level?: string;
  /** Value of the `name` field on every line. Default `cutover`. */
  name?: string;
  /** Where lines go; default stdout. Tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
}

const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Resolves the log level from an explicit flag, then $LOG_LEVEL, then `info`. */
export function resolveLevel(level?: string, env: NodeJS.ProcessEnv = process.env): LevelWithSilent {
  const wanted = (level ?? env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!LEVELS.includes(wanted)) throw new RangeError(`unknown log level "${wanted}" (expected one of ${LEVELS.join(', ')})`);
  return wanted as LevelWithSilent;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name ?? 'cutover',
    level: resolveLevel(opts.level),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything; the default for libraries and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
