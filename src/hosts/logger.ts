/** The pino-like subset hosts/ logs through (pino's Logger satisfies it). Never give it secrets. */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}
