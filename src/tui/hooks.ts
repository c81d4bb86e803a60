// React bindings for the state that lives outside React (TuiStore, Controller) and for the terminal size.
import { useEffect, useSyncExternalStore } from 'react';
import { useStdout } from 'ink';
import type { Controller, UiState } from './controller.js';
import type { TuiData, TuiStore } from './store.js';

export function useTuiData(store: TuiStore): TuiData {
  return useSyncExternalStore(store.subscribe, store.getState);
}

export function useUi(ctl: Controller): UiState {
  return useSyncExternalStore(ctl.subscribe, ctl.getState);
}

/** keeps the controller told of the terminal size; redraws on 'resize' */
export function useTerminalSize(ctl: Controller): void {
  const { stdout } = useStdout();
  useEffect(() => {
    const update = () => ctl.setSize(stdout.columns || 80, stdout.rows || 24);
    update();
    stdout.on('resize', update);
    return () => {
      stdout.off('resize', update);
    };
  }, [stdout, ctl]);
}
