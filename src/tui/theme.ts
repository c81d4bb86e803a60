// Colour is a hint, never the only signal (rows also carry a flag column): with NO_COLOR every style is dropped.
import type { Tone } from './views.js';

export interface TextStyle {
  color?: string;
  dimColor?: boolean;
  bold?: boolean;
  inverse?: boolean;
}

export interface Theme {
  noColor: boolean;
  tone(t: Tone): TextStyle;
  selected(base: TextStyle): TextStyle;
  title: TextStyle;
  error: TextStyle;
  busy: TextStyle;
  dim: TextStyle;
  lit: TextStyle;
}

const TONES: Record<Exclude<Tone, undefined>, TextStyle> = {
  red: { color: 'red' },
  yellow: { color: 'yellow' },
  dim: { dimColor: true },
  green: { color: 'green' },
  cyan: { color: 'cyan' },
};

export function makeTheme(noColor: boolean): Theme {
  if (noColor) {
    const none: TextStyle = {};
    return { noColor, tone: () => none, selected: () => none, title: none, error: none, busy: none, dim: none, lit: none };
  }
  return {
    noColor,
    tone: (t) => (t ? TONES[t] : {}),
    selected: (base) => ({ ...base, inverse: true }),
    title: { bold: true, color: 'cyan' },
    error: { color: 'red', bold: true },
    busy: { color: 'yellow' },
    dim: { dimColor: true },
    lit: { color: 'black', bold: true, inverse: true },
  };
}

/** NO_COLOR (https://no-color.org): present and not empty disables colour */
export function noColorFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}
