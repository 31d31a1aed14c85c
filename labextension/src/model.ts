// The one owner of the sidebar's state. It keeps the push socket open,
// subscribes to what the panels show, folds pushed messages into plain data
// and emits `changed`; components only render it (no copies of their own).
import { ISignal, Signal } from '@lumino/signaling';

import { PaiApi, PaiApiError } from './api';
import { decimate, merge, Point } from './chart/scale';
import { ConnectionState, PushConnection } from './connection';
import { trans } from './i18n';
import {
  EnvironmentDiff,
  ExperimentDetail,
  ExperimentSummary,
  JobEvent,
  JobRecord,
  MetricPoint,
  MetricSummary,
  ProvenanceSummary,
  PushMessage,
  RolloutAction,
  ServiceEvent,
  ServiceMetricPoint,
  ServiceRecord,
  TERMINAL_STATES
} from './tokens';
import { DEFAULT_SETTINGS, PaiSettings, Tab } from './settings';

export type { Tab } from './settings';

/** Points asked for per chart before a chart has measured its width. */
export const DEFAULT_BUDGET = 600;
/** Rows per page of the job and service lists. */
export const PAGE_SIZE = 50;
/** Service metric windows kept (per-version charts over the last minutes). */
const MAX_SERVICE_POINTS = 2400;
const MAX_EVENTS = 200;
const FILTER_DELAY_MS = 250;
/** The most runs the Compare view selects at once (one theme colour each). */
export const MAX_COMPARED = 6;
const FAILURES_BEFORE_OFFLINE = 3;

export type Series = Point[];

/** A zoomed x range of the job's charts and the points fetched for it at full resolution. */
export interface MetricRange {
  range: [number, number];
  series: Record<string, Series>;
  loading: boolean;
}

export interface JobDetail {
  id: string;
  record: JobRecord | null;
  provenance: ProvenanceSummary | null;
  /** Worker 0's series by metric name: the whole range, downsampled to the chart's budget. */
  series: Record<string, Series>;
  /** Exact first/last/min/max/count per metric over every point (the server's summary). */
  summary: Record<string, MetricSummary>;
  /** Names of the metrics the training code reported (charted against their step). */
  reported: string[];
  zoom: MetricRange | null;
  /** The kernel-versus-job package diff; undefined until fetched, null when not recorded. */
  environment: EnvironmentDiff | null | undefined;
  logs: string;
  events: JobEvent[];
}

export interface ServiceDetail {
  name: string;
  points: ServiceMetricPoint[];
  events: ServiceEvent[];
}

/** A server-side list's filter and paging state (the rows are `jobs` / `services`). */
export interface ListState {
  q: string;
  state: string;
  /** Rows matching the filter over the whole history (null until the first page). */
  total: number | null;
  next: string | null;
  loading: boolean;
  /** False against a server without paging: the panel then filters the rows it has. */
  serverSide: boolean;
}

export interface CompareState {
  experiments: ExperimentSummary[] | null;
  name: string | null;
  detail: ExperimentDetail | null;
  /** Job ids of the runs overlaid, in selection order (colour = index). */
  selected: string[];
  metric: string;
  /** Fetched series by `${job id}/${metric}`. */
  series: Record<string, Series>;
  loading: boolean;
  error: string | null;
}

export interface Notice {
  message: string;
  hint: string | null;
  /** Set on the notice that the socket is down (cleared when it reconnects). */
  offline?: boolean;
}

/** The x a point is charted at: its step for reported metrics, its time for system samples. */
function pointX(p: MetricPoint): number {
  return p.source === 'report' && p.step !== null ? p.step : p.ts;
}

/** Worker 0's points grouped by name as [x, value], sorted by x. */
function groupPoints(points: MetricPoint[]): Record<string, Series> {
  const out: Record<string, Series> = {};
  for (const p of points) {
    if (p.worker === 0) {
      (out[p.name] ??= []).push([pointX(p), p.value]);
    }
  }
  for (const series of Object.values(out)) {
    series.sort((a, b) => a[0] - b[0]);
  }
  return out;
}

/** Exact figures from raw points (for servers that send no summary). */
function summarise(series: Series): MetricSummary | null {
  if (series.length === 0) {
    return null;
  }
  let min = Infinity;
  let max = -Infinity;
  for (const [, y] of series) {
    min = Math.min(min, y);
    max = Math.max(max, y);
  }
  const first = series[0]!;
  const last = series[series.length - 1]!;
  return {
    first: first[1],
    last: last[1],
    min,
    max,
    count: series.length,
    first_step: first[0],
    last_step: last[0]
  };
}

function emptyList(): ListState {
  return { q: '', state: '', total: null, next: null, loading: false, serverSide: true };
}

/** Whether the job can be stopped: the server's `actions`, else any state not terminal. */
export function canStop(job: JobRecord): boolean {
  return job.actions ? job.actions.includes('stop') : !TERMINAL_STATES.has(job.state);
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
  /** The newest jobs and the services as last pushed, unfiltered (notifications compare them). */
  pushed: { jobs: JobRecord[] | null; services: ServiceRecord[] | null } = {
    jobs: null,
    services: null
  };
  /** The job list's rows: pages fetched so far, newest first, kept current by pushes. */
  jobs: JobRecord[] | null = null;
  jobList: ListState = emptyList();
  services: ServiceRecord[] | null = null;
  serviceList: ListState = emptyList();
  job: JobDetail | null = null;
  service: ServiceDetail | null = null;
  compare: CompareState = {
    experiments: null,
    name: null,
    detail: null,
    selected: [],
    metric: 'loss',
    series: {},
    loading: false,
    error: null
  };
  notice: Notice | null = null;
  busy = false;
  /** The clock the views use for ages and elapsed times (seconds), read once per change. */
  now = Date.now() / 1000;
  /** Points per chart asked from the server: the widest chart's width in pixels. */
  budget = DEFAULT_BUDGET;

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
    this._onTab();
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
    window.clearTimeout(this._filterTimer);
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
      this.setTab(state.tab);
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
    this._onTab();
    this._subscribe();
    this._emit();
  }

  selectJob(id: string | null): void {
    this.job =
      id === null
        ? null
        : {
            id,
            record: this.jobs?.find(j => j.id === id) ?? null,
            provenance: null,
            series: {},
            summary: {},
            reported: [],
            zoom: null,
            environment: undefined,
            logs: '',
            events: []
          };
    this._subscribe();
    this._emit();
    if (id !== null) {
      void this._loadJob(id);
      void this._loadMetrics(id);
    }
  }

  selectService(name: string | null): void {
    this.service = name === null ? null : { name, points: [], events: [] };
    this._subscribe();
    this._emit();
  }

  /** A chart measured `width` pixels: ask for about that many points from now on. */
  setBudget(width: number): void {
    const budget = Math.max(100, Math.min(4000, Math.round(width)));
    if (Math.abs(budget - this.budget) / this.budget > 0.25) {
      this.budget = budget;
      if (this.job && !this.job.zoom) {
        void this._loadMetrics(this.job.id);
      }
    }
  }

  /** Zoom the job's step charts into [start, end] (fetched at full resolution); null resets. */
  async zoomJob(range: [number, number] | null): Promise<void> {
    const job = this.job;
    if (!job) {
      return;
    }
    if (range === null) {
      job.zoom = null;
      this._emit();
      return;
    }
    const [start, end] = [Math.floor(range[0]), Math.ceil(range[1])];
    // Until the range arrives, show the points already held inside it (no blank chart).
    const held = job.zoom?.series ?? job.series;
    const series: Record<string, Series> = {};
    for (const name of job.reported) {
      series[name] = (held[name] ?? []).filter(([x]) => x >= start && x <= end);
    }
    const zoom: MetricRange = { range: [start, end], series, loading: true };
    job.zoom = zoom;
    this._emit();
    try {
      const names = job.reported.length ? job.reported : undefined;
      // Four points per pixel: every raw point of any range a person zooms into twice.
      const response = await this.api.jobMetrics(job.id, {
        names,
        start,
        end,
        points: this.budget * 4
      });
      const all = groupPoints(response.metrics);
      for (const [name, points] of Object.entries(all)) {
        // Servers without ranges answer with every point: keep the range asked for.
        zoom.series[name] = points.filter(([x]) => x >= start && x <= end);
      }
    } catch (error) {
      this._fail(error);
    } finally {
      zoom.loading = false;
      this._emit();
    }
  }

  /** Filter the job list on the server (name/id substring and state); refetches page 1. */
  filterJobs(q: string, state = this.jobList.state): void {
    this.jobList = { ...this.jobList, q, state };
    this._emit();
    window.clearTimeout(this._filterTimer);
    this._filterTimer = window.setTimeout(() => void this._fetchJobs(false), FILTER_DELAY_MS);
  }

  /** The next page of jobs (infinite scroll). */
  async moreJobs(): Promise<void> {
    if (this.jobList.next && !this.jobList.loading) {
      await this._fetchJobs(true);
    }
  }

  filterServices(q: string, state = this.serviceList.state): void {
    this.serviceList = { ...this.serviceList, q, state };
    this._emit();
    window.clearTimeout(this._filterTimer);
    this._filterTimer = window.setTimeout(() => void this._fetchServices(false), FILTER_DELAY_MS);
  }

  async moreServices(): Promise<void> {
    if (this.serviceList.next && !this.serviceList.loading) {
      await this._fetchServices(true);
    }
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

  // -- the Compare view ---------------------------------------------------------
  async loadExperiments(): Promise<void> {
    this.compare = { ...this.compare, loading: true, error: null };
    this._emit();
    try {
      const { experiments } = await this.api.experiments();
      this.compare = { ...this.compare, experiments, loading: false };
      const first = experiments[0];
      if (this.compare.name === null && first) {
        await this.pickExperiment(first.name);
        return;
      }
    } catch (error) {
      this.compare = { ...this.compare, loading: false, error: errorText(error) };
    }
    this._emit();
  }

  /** Open an experiment: its runs, the newest few selected. */
  async pickExperiment(name: string): Promise<void> {
    this.compare = { ...this.compare, name, detail: null, selected: [], loading: true };
    this._emit();
    try {
      const detail = await this.api.experiment(name);
      if (this.compare.name !== name) {
        return;
      }
      const runs = [...detail.runs].sort((a, b) => b.job.created_at - a.job.created_at);
      this.compare = {
        ...this.compare,
        detail,
        selected: runs.slice(0, MAX_COMPARED).map(r => r.job.id),
        loading: false,
        error: null
      };
      this._emit();
      await this._loadCompared();
    } catch (error) {
      this.compare = { ...this.compare, loading: false, error: errorText(error) };
      this._emit();
    }
  }

  toggleRun(id: string): void {
    const selected = this.compare.selected.includes(id)
      ? this.compare.selected.filter(s => s !== id)
      : [...this.compare.selected, id].slice(-MAX_COMPARED);
    this.compare = { ...this.compare, selected };
    this._emit();
    void this._loadCompared();
  }

  setCompareMetric(metric: string): void {
    this.compare = { ...this.compare, metric };
    this._emit();
    void this._loadCompared();
  }

  // -- internals ------------------------------------------------------------------
  private async _loadCompared(): Promise<void> {
    const { metric, selected } = this.compare;
    const missing = selected.filter(id => !(`${id}/${metric}` in this.compare.series));
    await Promise.all(
      missing.map(async id => {
        try {
          const response = await this.api.jobMetrics(id, {
            names: [metric],
            points: this.budget
          });
          const series = groupPoints(response.metrics)[metric] ?? [];
          this.compare.series = {
            ...this.compare.series,
            [`${id}/${metric}`]: decimate(series, this.budget)
          };
        } catch (error) {
          this.compare = { ...this.compare, error: errorText(error) };
        }
        this._emit();
      })
    );
  }

  private _onTab(): void {
    if (this.tab === 'endpoints' && this.services === null) {
      void this._fetchServices(false);
    } else if (this.tab !== 'endpoints' && this.jobs === null) {
      void this._fetchJobs(false);
    }
    if (this.tab === 'compare' && this.compare.experiments === null) {
      void this.loadExperiments();
    }
  }

  private async _fetchJobs(append: boolean): Promise<void> {
    const seq = ++this._jobSeq;
    const list = this.jobList;
    this.jobList = { ...list, loading: true };
    this._emit();
    try {
      const page = await this.api.listJobs({
        limit: PAGE_SIZE,
        cursor: append ? list.next : null,
        q: list.q,
        state: list.state
      });
      if (seq !== this._jobSeq) {
        return; // a newer filter was typed meanwhile
      }
      const rows = append ? [...(this.jobs ?? []), ...page.jobs] : page.jobs;
      this.jobs = rows;
      this.jobList = {
        ...this.jobList,
        total: page.total ?? rows.length,
        next: page.next ?? null,
        loading: false,
        serverSide: page.total !== undefined
      };
    } catch (error) {
      this.jobList = { ...this.jobList, loading: false };
      this._fail(error);
    }
    this._emit();
  }

  private async _fetchServices(append: boolean): Promise<void> {
    const seq = ++this._serviceSeq;
    const list = this.serviceList;
    this.serviceList = { ...list, loading: true };
    this._emit();
    try {
      const page = await this.api.listServices({
        limit: PAGE_SIZE,
        cursor: append ? list.next : null,
        q: list.q,
        state: list.state
      });
      if (seq !== this._serviceSeq) {
        return;
      }
      const rows = append ? [...(this.services ?? []), ...page.services] : page.services;
      this.services = rows;
      this.serviceList = {
        ...this.serviceList,
        total: page.total ?? rows.length,
        next: page.next ?? null,
        loading: false,
        serverSide: page.total !== undefined
      };
    } catch (error) {
      this.serviceList = { ...this.serviceList, loading: false };
      this._fail(error);
    }
    this._emit();
  }

  private async _loadJob(id: string): Promise<void> {
    try {
      const response = await this.api.job(id);
      const job = this.job;
      if (job?.id !== id) {
        return;
      }
      job.record = response.job; // richer than a list row (hyperparameters, TensorBoard)
      job.provenance ??= response.provenance ?? null;
      const env =
        response.environment ??
        ((response.job as unknown as Record<string, unknown>)['environment'] as
          EnvironmentDiff | null | undefined);
      job.environment = env ?? null;
      this._emit();
    } catch (error) {
      if (this.job?.id === id) {
        this._fail(error);
      }
    }
  }

  /** The whole range of every metric at the chart's point budget, with exact summaries. */
  private async _loadMetrics(id: string): Promise<void> {
    try {
      const response = await this.api.jobMetrics(id, { points: this.budget });
      const job = this.job;
      if (job?.id !== id) {
        return;
      }
      this._setSeries(job, response.metrics, response.summary);
      this._emit();
    } catch (error) {
      if (this.job?.id === id) {
        this._fail(error);
      }
    }
  }

  /** Replace the held series (REST response or a push `reset`). */
  private _setSeries(
    job: JobDetail,
    points: MetricPoint[],
    summary: Record<string, MetricSummary> | undefined
  ): void {
    const grouped = groupPoints(points);
    this._noteReported(job, points);
    for (const [name, series] of Object.entries(grouped)) {
      const exact = summary?.[name] ?? summarise(series);
      if (exact) {
        job.summary[name] = exact;
      }
      job.series[name] = decimate(series, this.budget);
    }
  }

  private _noteReported(job: JobDetail, points: MetricPoint[]): void {
    let added = false;
    for (const p of points) {
      if (p.source === 'report' && p.worker === 0 && !job.reported.includes(p.name)) {
        job.reported.push(p.name);
        added = true;
      }
    }
    if (added) {
      job.reported.sort();
    }
  }

  /** New raw points pushed after the first message: append, keep the budget, update figures. */
  private _addJobPoints(job: JobDetail, points: MetricPoint[]): void {
    this._noteReported(job, points);
    for (const [name, fresh] of Object.entries(groupPoints(points))) {
      let series = merge(job.series[name] ?? [], fresh);
      if (series.length > this.budget * 2) {
        series = decimate(series, this.budget);
      }
      job.series[name] = series;
      const s = job.summary[name];
      const last = fresh[fresh.length - 1]!;
      if (!s) {
        job.summary[name] = summarise(fresh)!;
        continue;
      }
      const lastStep = s.last_step ?? -Infinity;
      for (const [x, y] of fresh) {
        s.min = Math.min(s.min, y);
        s.max = Math.max(s.max, y);
        if (x > lastStep) {
          s.count += 1; // a point the summary has not seen (a replayed one is not counted)
        }
      }
      if (last[0] >= lastStep) {
        s.last = last[1];
        s.last_step = last[0];
      }
    }
  }

  private _fail(error: unknown): void {
    this.notice =
      error instanceof PaiApiError
        ? { message: error.message, hint: error.hint }
        : { message: String(error), hint: null };
  }

  private async _act(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.notice = null;
    this._emit();
    try {
      await work();
    } catch (error) {
      this._fail(error);
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
        offline: true,
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
      this.job.events = [];
    } else if (this.service && topic === `service:${this.service.name}`) {
      this.service.points = [];
      this.service.events = [];
    }
  }

  private _handle(message: PushMessage): void {
    switch (message.type) {
      case 'jobs':
        this.pushed = { ...this.pushed, jobs: message.jobs };
        this._pushedJobs(message.jobs);
        if (
          message.total !== undefined &&
          this.jobList.serverSide &&
          this.jobList.total !== null &&
          !this.jobList.q &&
          !this.jobList.state &&
          message.total !== this.jobList.total
        ) {
          // Jobs were added that are not the newest (an import) or removed: reload page one.
          void this._fetchJobs(false);
        }
        break;
      case 'job':
        if (this.job && message.topic === `job:${this.job.id}`) {
          const before = this.job.record?.state;
          if (before !== message.job.state && this.job.environment?.recorded !== true) {
            // Rank 0 records the environment when it starts: ask again as the state moves on.
            void this._loadJob(this.job.id);
          }
          this.job.record = message.job;
          if (message.provenance) {
            this.job.provenance = message.provenance;
          }
        }
        this._updateJob(message.job, false);
        break;
      case 'metrics':
        if (this.job && message.topic === `job:${this.job.id}`) {
          const points = message.points as MetricPoint[];
          if (message.reset) {
            this.job.series = {};
            this.job.summary = {};
            this._setSeries(this.job, points, message.summary);
          } else {
            this._addJobPoints(this.job, points);
          }
        } else if (this.service && message.topic === `service:${this.service.name}`) {
          const points = this.service.points.concat(message.points as ServiceMetricPoint[]);
          points.sort((a, b) => a.ts - b.ts);
          this.service.points = points.slice(-MAX_SERVICE_POINTS);
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
        this.pushed = { ...this.pushed, services: message.services };
        this._pushedServices(message.services);
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

  /**
   * The pushed newest jobs: update the rows shown; a job newer than every row joins the
   * top when no filter is set (with a filter, the server decides what matches on refetch).
   */
  private _pushedJobs(pushed: JobRecord[]): void {
    if (this.jobs === null || !this.jobList.serverSide) {
      if (!this.jobList.q && !this.jobList.state) {
        this.jobs = pushed;
      } else if (this.jobs) {
        const byId = new Map(pushed.map(j => [j.id, j]));
        this.jobs = this.jobs.map(j => byId.get(j.id) ?? j);
      }
      return;
    }
    const byId = new Map(pushed.map(j => [j.id, j]));
    const newest = this.jobs[0]?.created_at ?? -Infinity;
    const known = new Set(this.jobs.map(j => j.id));
    const fresh =
      this.jobList.q || this.jobList.state
        ? []
        : pushed.filter(j => !known.has(j.id) && j.created_at > newest);
    this.jobs = [...fresh, ...this.jobs.map(j => byId.get(j.id) ?? j)];
    if (fresh.length && this.jobList.total !== null) {
      this.jobList = { ...this.jobList, total: this.jobList.total + fresh.length };
    }
  }

  private _pushedServices(pushed: ServiceRecord[]): void {
    if (this.services === null || !this.serviceList.serverSide) {
      if (!this.serviceList.q && !this.serviceList.state) {
        this.services = pushed;
      } else if (this.services) {
        const byName = new Map(pushed.map(s => [s.name, s]));
        this.services = this.services.map(s => byName.get(s.name) ?? s);
      }
      return;
    }
    const byName = new Map(pushed.map(s => [s.name, s]));
    const known = new Set(this.services.map(s => s.name));
    const fresh =
      this.serviceList.q || this.serviceList.state ? [] : pushed.filter(s => !known.has(s.name));
    this.services = [...fresh, ...this.services.map(s => byName.get(s.name) ?? s)];
    if (fresh.length && this.serviceList.total !== null) {
      this.serviceList = { ...this.serviceList, total: this.serviceList.total + fresh.length };
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
  private _filterTimer = 0;
  private _jobSeq = 0;
  private _serviceSeq = 0;
  private _disposed = false;
}

function errorText(error: unknown): string {
  return error instanceof PaiApiError ? error.message : String(error);
}
