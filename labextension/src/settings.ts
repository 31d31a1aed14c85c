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
