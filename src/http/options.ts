// enableLingeringClose's options: one set of defaults and one check, for HTTP/1 and HTTP/2 alike
// (the caps are the drain engine's, close/drain.ts).
import { DEFAULT_LINGERING_TIME, DEFAULT_LINGERING_TIMEOUT } from '../close/drain.js';
import { MAX_TIMER_MS, validateChoice, validateInteger, validateOptionsObject } from '../core/validate.js';
import type { LingeringCloseOptions } from './lingering-close.js';

export const DEFAULTS: Required<LingeringCloseOptions> = {
  mode: 'on', lingeringTime: DEFAULT_LINGERING_TIME, lingeringTimeout: DEFAULT_LINGERING_TIMEOUT, onTimeout: 'close', maxLingering: 1024,
};

/** The options after defaults (`base`: the defaults, or what a server already has), or a typed error. */
export function validateOptions(options: unknown, base: Required<LingeringCloseOptions>): Required<LingeringCloseOptions> {
  const o = validateOptionsObject(options);
  const int = (key: 'lingeringTime' | 'lingeringTimeout' | 'maxLingering', min: number) =>
    o[key] === undefined ? base[key] : validateInteger(o[key], `options.${key}`, min, MAX_TIMER_MS);
  return {
    mode: validateChoice(o.mode, 'options.mode', ['on', 'always'] as const, base.mode),
    lingeringTime: int('lingeringTime', 1),
    lingeringTimeout: int('lingeringTimeout', 1),
    onTimeout: validateChoice(o.onTimeout, 'options.onTimeout', ['close', 'reset'] as const, base.onTimeout),
    maxLingering: int('maxLingering', 0),
  };
}
