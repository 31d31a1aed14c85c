// The Pipelines tab's own small store: REST reads of /pai/api/pipelines (polled while the tab
// is shown) and the actions (run, pause, resume, delete). Shapes: the server's
// pipeline_json / run_json (pai_jupyter/controlplane/pipelines/routes.py).
import { ISignal, Signal } from '@lumino/signaling';

import { PaiApi, PaiApiError } from './api';

export interface GateComparison {
  text: string;
  values: (number | null)[];
  passed: boolean;
  note: string | null;
}

export interface GateDecision {
  gate: string;
  passed: boolean;
  reason: string;
  comparisons: GateComparison[];
  candidate: Record<string, number>;
  serving: Record<string, number> | null;
  service: string | null;
  serving_version: number | null;
}

export interface RunStep {
  name: string;
  kind: string;
  state: string;
  reason: string | null;
  job_id: string | null;
  service: string | null;
  version: number | null;
  metrics: Record<string, number> | null;
  gate: GateDecision | null;
  started_at: number | null;
  finished_at: number | null;
  links: { job?: string; service?: string; rollout?: { service: string; version: number } };
}

export interface PipelineRun {
  id: string;
  pipeline: string;
  number: number;
  state: string;
  reason: string | null;
  trigger: {
    kind: string;
    objects?: string[];
    schedule?: string;
    missed?: number;
    prefix?: string;
  };
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  steps: RunStep[];
}

export interface PipelineInfo {
  name: string;
  state: 'active' | 'paused';
  revision: number;
  spec: {
    steps: { name: string; kind: string; gate: string | null; service: string | null }[];
    triggers: { type: string; schedule?: string; prefix?: string; debounce_s?: number }[];
    allow_overlap: boolean;
    provenance: Record<string, unknown>;
  };
  dag: { nodes: { name: string; kind: string }[]; edges: [string, string][] };
  next_run: number | null;
  last_run: PipelineRun | null;
}

export type PipelineAction = 'run' | 'pause' | 'resume' | 'delete';

export class PipelinesStore {
  constructor(readonly api: PaiApi) {}

  pipelines: PipelineInfo[] | null = null;
  selected: string | null = null;
  detail: { pipeline: PipelineInfo; runs: PipelineRun[] } | null = null;
  error: { message: string; hint: string | null } | null = null;
  busy = false;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Read the list (and the selected pipeline); errors become `error`, never a throw. */
  async refresh(): Promise<void> {
    try {
      const list = await this.api.request<{ pipelines: PipelineInfo[] }>('pipelines');
      this.pipelines = list.pipelines;
      if (this.selected !== null) {
        this.detail = await this.api.request(`pipelines/${encodeURIComponent(this.selected)}`);
      }
      this.error = null;
    } catch (error) {
      this._fail(error);
    }
    this._changed.emit();
  }

  select(name: string | null): void {
    this.selected = name;
    this.detail = null;
    this._changed.emit();
    void this.refresh();
  }

  async act(name: string, action: PipelineAction): Promise<void> {
    this.busy = true;
    this._changed.emit();
    try {
      const path = `pipelines/${encodeURIComponent(name)}`;
      if (action === 'delete') {
        await this.api.request(path, { method: 'DELETE' });
        if (this.selected === name) {
          this.selected = null;
          this.detail = null;
        }
      } else {
        await this.api.request(`${path}/${action}`, { method: 'POST', body: '{}' });
      }
      this.error = null;
    } catch (error) {
      this._fail(error);
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }

  private _fail(error: unknown): void {
    this.error =
      error instanceof PaiApiError
        ? { message: error.message, hint: error.hint }
        : { message: String(error), hint: null };
  }

  private _changed = new Signal<this, void>(this);
}
