// The one owner of the sidebar's state. It keeps the push socket open,
// subscribes to what the panels show, folds pushed messages into plain data
// and emits `changed`; components only render it (no copies of their own).
import { ISignal, Signal } from '@lumino/signaling';

import { PaiApi, PaiApiError } from './api';
import { ConnectionState, PushConnection } from './connection';
import { trans } from './i18n';
import {
  JobEvent,
  JobRecord,
  MetricPoint,
  ProvenanceSummary,
  PushMessage,
  RolloutAction,
  ServiceEvent,
  ServiceMetricPoint,
  ServiceRecord
} from './tokens';
import { DEFAULT_SETTINGS, PaiSettings, Tab } from './settings';

export type { Tab } from './settings';

/** Points kept per series: enough for a sidebar-wide chart, bounded memory for long jobs. */
export const MAX_POINTS = 600;
const MAX_EVENTS = 200;
const FAILURES_BEFORE_OFFLINE = 3;

export type Series = [number, number][];

export interface JobDetail {
  id: string;
  record: JobRecord | null;
  provenance: ProvenanceSummary | null;
  series: Record<string, Series>;
  logs: string;
  events: JobEvent[];
}

export interface ServiceDetail {
  name: string;
  points: ServiceMetricPoint[];
  events: ServiceEvent[];
}

export interface Notice {
  message: string;
  hint: string | null;
}

export class PaiModel {
  constructor(readonly api: PaiApi = new PaiApi()) {}

  // -- state read by the components ------------------------------------------
  tab: Tab = 'jobs';
  /** The user's settings (settings registry); the plugin keeps them current. */
  settings: PaiSettings = { ...DEFAULT_SETTINGS };
  connected = false;
  /** The push socket: `reconnecting` (with backoff) after it was lost or never answered. */
  connection: ConnectionState = 'connecting';
  jobs: JobRecord[] | null = null;
  services: ServiceRecord[] | null = null;
  job: JobDetail | null = null;
  service: ServiceDetail | null = null;
  notice: Notice | null = null;
  busy = false;
  /** The clock the views use for ages and elapsed times (seconds), read once per change. */
  now = Date.now() / 1000;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get selectedService(): ServiceRecord | null {
    const name = this.service?.name;
    return this.services?.find(s => s.name === name) ?? null;
  }

  // -- lifecycle ---------------------------------------------------------------
  start(): void {
    if (this._connection || this._disposed) {
      return;
    }
    const connection = new PushConnection({
      open: () => this.api.openPush(),
      onMessage: message => this._handle(message)
    });
    this._connection = connection;
    connection.stateChanged.connect((_, state) => this._onConnection(connection, state));
    connection.start();
  }

  dispose(): void {
    this._disposed = true;
    this._connection?.dispose();
    Signal.clearData(this);
  }

  /** New settings from the registry: the push cadence and the subscriptions follow them. */
  applySettings(settings: PaiSettings): void {
    this.settings = settings;
    this._subscribe(true);
    this._emit();
  }

  /** Put back the tab and the selected item of an earlier session (the state DB's copy). */
  restore(state: { tab?: Tab; job?: string | null; service?: string | null }): void {
    if (state.tab) {
      this.tab = state.tab;
    }
    if (state.job) {
      this.selectJob(state.job);
    }
    if (state.service) {
      this.selectService(state.service);
    }
    this._subscribe();
    this._emit();
  }

  // -- user actions --------------------------------------------------------------
  setTab(tab: Tab): void {
    this.tab = tab;
    this._subscribe();
    this._emit();
  }

  selectJob(id: string | null): void {
    this.job =
      id === null ? null : { id, record: null, provenance: null, series: {}, logs: '', events: [] };
    this._subscribe();
    this._emit();
  }

  selectService(name: string | null): void {
    this.service = name === null ? null : { name, points: [], events: [] };
    this._subscribe();
    this._emit();
  }

  /** Redraw relative times ("3m ago") even when nothing was pushed. */
  tick(): void {
    this._emit();
  }

  dismissNotice(): void {
    this.notice = null;
    this._emit();
  }

  async stopJob(id: string): Promise<void> {
    await this._act(async () => {
      const { job } = await this.api.stopJob(id);
      this._updateJob(job);
    });
  }

  async rolloutAction(name: string, action: RolloutAction): Promise<void> {
    await this._act(async () => {
      const { service } = await this.api.rolloutAction(name, action);
      this._updateService(service);
    });
  }

  async rollback(name: string, version: number): Promise<void> {
    await this._act(async () => {
      const { service } = await this.api.rollback(name, version);
      this._updateService(service);
    });
  }

  // -- internals ------------------------------------------------------------------
  private async _act(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.notice = null;
    this._emit();
    try {
      await work();
    } catch (error) {
      this.notice =
        error instanceof PaiApiError
          ? { message: error.message, hint: error.hint }
          : { message: String(error), hint: null };
    } finally {
      this.busy = false;
      this._emit();
    }
  }

  private _onConnection(connection: PushConnection, state: ConnectionState): void {
    this.connection = state;
    this.connected = state === 'live';
    if (state === 'live') {
      if (this.notice === this._offline) {
        this.notice = null;
      }
      this._offline = null;
      this._topics = new Set();
      this._subscribe();
    } else if (state === 'reconnecting') {
      const seconds = Math.max(1, Math.round((connection.retryAt - Date.now()) / 1000));
      const failures = connection.failures;
      const offline: Notice = {
        message:
          failures >= FAILURES_BEFORE_OFFLINE
            ? trans().__('The PAI server extension does not answer; reconnecting…')
            : trans().__('Reconnecting to the PAI server extension…'),
        hint:
          failures >= FAILURES_BEFORE_OFFLINE
            ? trans().__(
                'Check that `jupyter server extension list` shows pai_jupyter enabled. Next try in %1 s.',
                seconds
              )
            : trans().__('The push connection was lost; next try in %1 s.', seconds)
      };
      // Replace our own notice only: an action's error stays until dismissed.
      if (this.notice === null || this.notice === this._offline) {
        this.notice = offline;
      }
      this._offline = offline;
    }
    this._emit();
  }

  private _subscribe(force = false): void {
    const connection = this._connection;
    if (!connection || connection.state !== 'live') {
      return;
    }
    // Both lists always: notifications watch jobs and endpoints whichever tab is shown.
    const topics = [
      'jobs',
      'services',
      ...(this.tab === 'jobs' && this.job ? [`job:${this.job.id}`] : []),
      ...(this.tab === 'endpoints' && this.service ? [`service:${this.service.name}`] : [])
    ];
    if (!force && topics.length === this._topics.size && topics.every(t => this._topics.has(t))) {
      return;
    }
    // A topic the server starts afresh sends its whole history again: drop ours first
    // so points are not counted twice (after a tab switch or a reconnect).
    for (const topic of topics) {
      if (!this._topics.has(topic)) {
        this._reset(topic);
      }
    }
    this._topics = new Set(topics);
    connection.send({ type: 'subscribe', topics, interval: this.settings.refreshSeconds });
  }

  private _reset(topic: string): void {
    if (this.job && topic === `job:${this.job.id}`) {
      this.job.series = {};
      this.job.events = [];
    } else if (this.service && topic === `service:${this.service.name}`) {
      this.service.points = [];
      this.service.events = [];
    }
  }

  private _handle(message: PushMessage): void {
    switch (message.type) {
      case 'jobs':
        this.jobs = message.jobs;
        break;
      case 'job':
        if (this.job && message.topic === `job:${this.job.id}`) {
          this.job.record = message.job;
          if (message.provenance) {
            this.job.provenance = message.provenance;
          }
        }
        this._updateJob(message.job, false);
        break;
      case 'metrics':
        if (this.job && message.topic === `job:${this.job.id}`) {
          this._addJobPoints(this.job, message.points as MetricPoint[]);
        } else if (this.service && message.topic === `service:${this.service.name}`) {
          const points = this.service.points.concat(message.points as ServiceMetricPoint[]);
          points.sort((a, b) => a.ts - b.ts);
          this.service.points = points.slice(-MAX_POINTS * 4);
        }
        break;
      case 'logs':
        if (this.job && message.topic === `job:${this.job.id}`) {
          this.job.logs = message.text;
        }
        break;
      case 'events':
        if (this.job && message.topic === `job:${this.job.id}`) {
          this.job.events = message.events as JobEvent[];
        } else if (this.service && message.topic === `service:${this.service.name}`) {
          const events = this.service.events.concat(message.events as ServiceEvent[]);
          events.sort((a, b) => a.ts - b.ts);
          this.service.events = events.slice(-MAX_EVENTS);
        }
        break;
      case 'services':
        this.services = message.services;
        break;
      case 'service':
        this._updateService(message.service, false);
        break;
      case 'error':
        this.notice = { message: message.error, hint: message.hint };
        break;
    }
    this._emit();
  }

  private _addJobPoints(job: JobDetail, points: MetricPoint[]): void {
    for (const p of points) {
      if (p.worker !== 0) {
        continue; // the panel charts worker 0, as the widget under the cell does
      }
      // Reported metrics are charted against their step; system samples against time.
      const x = p.source === 'report' && p.step !== null ? p.step : p.ts;
      const series = (job.series[p.name] ??= []);
      series.push([x, p.value]);
      if (series.length > 1 && series[series.length - 2]![0] > x) {
        series.sort((a, b) => a[0] - b[0]);
      }
      if (series.length > MAX_POINTS) {
        series.splice(0, series.length - MAX_POINTS);
      }
    }
  }

  private _updateJob(record: JobRecord, emit = true): void {
    if (this.jobs) {
      this.jobs = this.jobs.map(j => (j.id === record.id ? record : j));
    }
    if (this.job?.id === record.id) {
      this.job.record = record;
    }
    if (emit) {
      this._emit();
    }
  }

  private _updateService(record: ServiceRecord, emit = true): void {
    const list = this.services ?? [];
    this.services = list.some(s => s.name === record.name)
      ? list.map(s => (s.name === record.name ? record : s))
      : [...list, record];
    if (emit) {
      this._emit();
    }
  }

  private _emit(): void {
    this.now = Date.now() / 1000;
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _connection: PushConnection | null = null;
  private _offline: Notice | null = null;
  private _topics = new Set<string>();
  private _disposed = false;
}
