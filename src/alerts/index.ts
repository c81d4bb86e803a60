export { AlertDispatcher, type AlertDispatcherOptions, type AlertFeed, type TestResult } from './dispatcher.js';
export type { AlertEvent, AlertType, EnforcementOutcome } from './events.js';
export type { AlertLog, SinkCounters } from './sink.js';
