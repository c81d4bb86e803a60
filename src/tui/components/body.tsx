// The body between the header and the bottom bar: the view's table with its detail pane (or, for migrations, the
// job panel), the full details of the selected row, or an overlay (help, command output, picker).
import React from 'react';
import { Box } from 'ink';
import { isJob } from '../actions/guards.js';
import type { UiState } from '../controller.js';
import { detailHeight, tableHeight } from '../controller.js';
import type { TuiData } from '../store.js';
import type { Theme } from '../theme.js';
import { VIEWS } from '../views.js';
import { DetailPane } from './detail-pane.js';
import { MigrationPanel } from './migration-panel.js';
import { HelpOverlay, OutputOverlay, PickOverlay } from './overlays.js';
import { Table } from './table.js';

export interface BodyProps {
  ui: UiState;
  data: TuiData;
  cursor: { list: readonly object[]; index: number; offset: number };
  rows: number;
  width: number;
  height: number;
  theme: Theme;
}

export function Body(p: BodyProps) {
  const { ui, width, height, theme } = p;
  const mode = ui.mode;
  if (mode.kind === 'help')
    return <HelpOverlay view={ui.view} readOnly={ui.readOnly} scroll={mode.scroll} height={height} width={width} theme={theme} />;
  if (mode.kind === 'output') return <OutputOverlay mode={mode} height={height} width={width} theme={theme} />;
  if (mode.kind === 'pick') return <PickOverlay mode={mode} height={height} width={width} theme={theme} />;
  return mode.kind === 'detail' ? <DetailBody {...p} /> : <ListBody {...p} />;
}

/** the selected row in full (esc closes); a job shows its panel above its details */
function DetailBody({ ui, data, cursor, width, height, theme }: BodyProps) {
  const view = VIEWS[ui.view];
  const item = cursor.list[cursor.index];
  if (!item) return <DetailPane lines={['nothing selected']} height={height - 1} width={width} theme={theme} />;
  if (!isJob(item)) {
    const title = `${view.title} details (esc closes)`;
    return <DetailPane lines={view.detail(item, data)} height={height - 1} width={width} theme={theme} title={title} />;
  }
  return (
    <Box flexDirection="column" height={height}>
      <MigrationPanel
        job={item}
        history={data.history.get(item.id) ?? []}
        height={Math.min(10, height - 1)}
        width={width}
        readOnly={ui.readOnly}
        theme={theme}
      />
      <DetailPane lines={view.detail(item, data)} height={Math.max(1, height - 12)} width={width} theme={theme} />
    </Box>
  );
}

/** the view's table and, below it, the selected row's details (a job's panel in Migrations) */
function ListBody({ ui, data, cursor, rows, width, height, theme }: BodyProps) {
  const view = VIEWS[ui.view];
  const item = cursor.list[cursor.index];
  const th = tableHeight(rows, ui.view);
  const dh = detailHeight(rows, ui.view);
  const job = item && isJob(item) ? item : undefined;
  return (
    <Box flexDirection="column" height={height}>
      <Table
        view={view}
        list={cursor.list}
        index={cursor.index}
        offset={cursor.offset}
        height={th}
        width={width}
        now={data.now}
        theme={theme}
        emptyText={emptyText(ui, data)}
      />
      {ui.view === 'migrations' ? (
        <MigrationPanel
          job={job}
          history={job ? (data.history.get(job.id) ?? []) : []}
          height={dh}
          width={width}
          readOnly={ui.readOnly}
          theme={theme}
        />
      ) : (
        <DetailPane lines={item ? view.detail(item, data) : []} height={dh} width={width} theme={theme} />
      )}
    </Box>
  );
}

/** an empty lab says how to add hosts; a filter that hides everything says so */
function emptyText(ui: UiState, data: TuiData): string | undefined {
  if (ui.filters[ui.view]) return '(no rows match the filter; esc clears it)';
  if (!data.snapshot.hosts.length && (ui.view === 'billboard' || ui.view === 'hosts'))
    return '(no hosts: add them under "hosts" in the config file (see config.example.json), then restart)';
  return undefined;
}
