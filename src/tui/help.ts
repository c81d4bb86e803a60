// The `?` help's text: a view's keys, the keys that work everywhere, the rule for disruptive keys, and what the
// row marks and colours mean.
import { fit } from './format.js';
import { DANGER_RULE, GLOBAL_KEYS, type KeyDoc } from './keymap.js';
import { VIEW_KEYS } from './view-keys.js';
import { VIEWS, type ViewId } from './views.js';

function keyLine(k: KeyDoc, readOnly: boolean): string {
  const off = readOnly && k.mutating ? '  (disabled: read-only)' : '';
  return `${k.danger ? '! ' : '  '}${fit(k.label ?? k.key, 12)} ${k.help}${off}`;
}

/** what the row marks and colours mean */
export const LEGEND = [
  "marks (the Billboard's first column; colours say the same in every view, and NO_COLOR keeps the marks):",
  '  !  red     needs action: ghost, running twice, suspect, rejected/revoked (findings critical/high; jobs failed)',
  '  ?  yellow  awaits a decision: unregistered, pending (findings medium; jobs awaiting authorization)',
  '  ~  dim     quiet: silent, stopped (findings acked or resolved; jobs completed)',
  '  »  cyan    migrating (jobs under way)',
];

/** the `?` help of a view: its keys, the global keys and the legend */
export function helpLines(view: ViewId, readOnly: boolean): string[] {
  return [
    `${VIEWS[view].title} keys:`,
    ...VIEW_KEYS[view].docs.map((k) => keyLine(k, readOnly)),
    `  (${DANGER_RULE})`,
    'everywhere:',
    ...GLOBAL_KEYS.map((k) => keyLine(k, false)),
    ...LEGEND,
  ];
}
