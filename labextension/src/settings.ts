// The sidebar's user settings, as the settings registry holds them
// (schema/sidebar.json). The plugin copies the composite settings into
// `PaiModel.settings` on load and on every change; components read them there.

/** The sidebar's tabs. */
export type Tab = 'jobs' | 'endpoints' | 'pipelines' | 'compare';

export interface PaiSettings {
  /** Seconds between the server's pushes for the subscribed topics. */
  refreshSeconds: number;
  /** The tab shown when the sidebar opens with nothing restored. */
  defaultTab: Tab;
  /** Raise JupyterLab notifications when jobs end and rollouts finish or revert. */
  notifications: boolean;
  /** Which job charts the Jobs panel draws (metric names, or `gpu`, `throughput`). */
  charts: string[];
}

export const DEFAULT_SETTINGS: PaiSettings = {
  refreshSeconds: 1,
  defaultTab: 'jobs',
  notifications: true,
  charts: ['loss', 'throughput', 'gpu']
};

const TABS: readonly Tab[] = ['jobs', 'endpoints', 'pipelines', 'compare'];

/**
 * The settings registry's composite values as PaiSettings. The registry has
 * already validated them against schema/sidebar.json; anything still out of
 * shape (an older schema's leftovers) falls back to the default.
 */
export function readSettings(composite: Readonly<Record<string, unknown>>): PaiSettings {
  const { refreshSeconds, defaultTab, notifications, charts } = composite;
  return {
    refreshSeconds:
      typeof refreshSeconds === 'number' && refreshSeconds > 0
        ? refreshSeconds
        : DEFAULT_SETTINGS.refreshSeconds,
    defaultTab: TABS.includes(defaultTab as Tab)
      ? (defaultTab as Tab)
      : DEFAULT_SETTINGS.defaultTab,
    notifications:
      typeof notifications === 'boolean' ? notifications : DEFAULT_SETTINGS.notifications,
    charts:
      Array.isArray(charts) && charts.every(c => typeof c === 'string')
        ? [...charts]
        : [...DEFAULT_SETTINGS.charts]
  };
}
