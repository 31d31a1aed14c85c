// The JSON shapes of the server extension's REST API and push channel
// (pai_jupyter/server: records are the Python dataclasses' to_dict()).

export interface JobSpec {
  name: string;
  framework: string;
  workers: number;
  instance_type: string | null;
  gpu_type: string | null;
  gpu_count: number;
  resource_group: string;
  spot: boolean;
  output: string | null;
  checkpoint: string | null;
  inputs: { channel: string; uri: string; mount_path?: string | null }[];
  [key: string]: unknown;
}

export interface WorkerRecord {
  rank: number;
  state: string;
  pid: number | null;
  exit_code: number | null;
  host: string;
}

export interface JobRecord {
  id: string;
  name: string;
  state: string;
  spec: JobSpec;
  backend: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  reason: string | null;
  attempt: number;
  workers: WorkerRecord[];
  outputs: Record<string, string>;
  code_uri: string | null;
  /** The actions valid in the job's state (absent from older servers: use TERMINAL_STATES). */
  actions?: string[];
  experiment?: string | null;
  hyperparameters?: Record<string, string>;
  tensorboard?: TensorBoardInfo | null;
}

export interface TensorBoardInfo {
  url: string | null;
  command: string;
  logdir: string;
}

/** The kernel's packages against the job's (GET /pai/api/jobs/ID: `environment`). */
export interface EnvironmentDiff {
  recorded: boolean;
  installed: { name: string; version: string }[];
  differs: { name: string; kernel: string | null; job: string | null; why: string }[];
}

export interface JobDetailResponse {
  job: JobRecord;
  provenance?: ProvenanceSummary;
  environment?: EnvironmentDiff | null;
}

/** Exact figures over a metric's whole range (the server computes them from every point). */
export interface MetricSummary {
  first: number;
  last: number;
  min: number;
  max: number;
  count: number;
  first_step?: number | null;
  last_step?: number | null;
}

export interface MetricsResponse {
  metrics: MetricPoint[];
  summary?: Record<string, MetricSummary>;
  downsampled?: boolean;
}

/** A page of a server-side list: `total` matches the filter over the whole history. */
export type Page<K extends string, T> = { [key in K]: T[] } & {
  total?: number;
  next?: string | null;
};

export interface ExperimentSummary {
  name: string;
  runs: number;
  last_created_at: number;
}

export interface ExperimentRun {
  job: JobRecord;
  hyperparameters: Record<string, string>;
  final: Record<string, number>;
  commit: string | null;
  dirty: boolean;
  duration_s: number | null;
}

export interface ExperimentDetail {
  name: string;
  runs: ExperimentRun[];
}

export interface ProvenanceSummary {
  available: boolean;
  is_repo?: boolean;
  commit?: string | null;
  branch?: string | null;
  dirty?: boolean;
  remote?: string | null;
  python?: string | null;
  frameworks?: string[];
  cuda?: string | null;
}

export interface MetricPoint {
  name: string;
  value: number;
  ts: number;
  step: number | null;
  worker: number;
  source: string;
}

export interface JobEvent {
  ts: number;
  kind: string;
  message: string;
  data: Record<string, unknown>;
}

export interface VersionRecord {
  version: number;
  model_uri: string;
  processor: string;
  state: string;
  weight: number;
  signature: Record<string, unknown>;
  created_at: number;
  instances: number;
  desired_instances: number;
  job_id: string | null;
  provenance_uri: string | null;
  reason: string | null;
}

export interface RolloutStep {
  weight: number;
  started_at: number;
  ended_at: number | null;
  result: string | null;
  figures: Record<string, unknown>;
}

export interface RolloutRecord {
  id: string;
  service: string;
  from_version: number;
  to_version: number;
  plan: number[];
  state: string;
  step: number;
  started_at: number;
  updated_at: number;
  reason: string | null;
  gates: Record<string, unknown>;
  steps: RolloutStep[];
}

export interface ServiceRecord {
  name: string;
  state: string;
  backend: string;
  endpoint: string;
  spec: Record<string, unknown>;
  versions: VersionRecord[];
  created_at: number;
  updated_at: number;
  env: string;
  rollout: RolloutRecord | null;
  autoscaler: Record<string, unknown>;
  reason: string | null;
  weights: Record<string, number>;
  /** The actions valid in the service's state, e.g. rollback, pause, resume (newer servers). */
  actions?: string[];
}

export interface ServiceMetricPoint {
  ts: number;
  version: number;
  qps: number;
  p50_ms: number | null;
  p95_ms: number | null;
  error_rate: number;
  requests: number;
  errors: number;
  instances: number;
  weight: number;
}

export interface ServiceEvent {
  ts: number;
  kind: string;
  message: string;
  version: number | null;
  data: Record<string, unknown>;
}

export type RolloutAction = 'pause' | 'resume' | 'promote' | 'abort';

/** A PaiError as the server sends it (PaiError.to_json()). */
export interface ErrorBody {
  error: string;
  hint: string | null;
  type?: string;
}

/** Messages on the push websocket (pai_jupyter/server/topics.py). */
export type PushMessage =
  | {
      topic: 'jobs';
      type: 'jobs';
      jobs: JobRecord[];
      /** Newer servers push the first page with the history's size. */
      total?: number;
      next?: string | null;
    }
  | { topic: string; type: 'job'; job: JobRecord; provenance?: ProvenanceSummary }
  | {
      topic: string;
      type: 'metrics';
      points: MetricPoint[] | ServiceMetricPoint[];
      /** Set on the first message after a subscribe: the points replace what is held. */
      reset?: boolean;
      summary?: Record<string, MetricSummary>;
    }
  | { topic: string; type: 'logs'; worker: number; text: string }
  | { topic: string; type: 'events'; events: JobEvent[] | ServiceEvent[] }
  | { topic: 'services'; type: 'services'; services: ServiceRecord[] }
  | { topic: string; type: 'service'; service: ServiceRecord }
  | { topic: string | null; type: 'error'; error: string; hint: string | null; error_type: string };

export const TERMINAL_STATES = new Set(['Succeeded', 'Failed', 'Stopped']);

/** A data input's fingerprint at submit (pai_jupyter.provenance.fingerprint). */
export interface DataFingerprint {
  uri: string;
  objects: number;
  bytes: number;
  digest: string;
  keyed_by: 'etag' | 'mtime';
  complete: boolean;
  sampled: { listed_objects: number; folders_not_listed: number; why: string } | null;
}

/** GET /pai/api/jobs/ID/lineage and /pai/api/services/NAME/lineage (pai_jupyter.lineage). */
export interface Lineage {
  service?: { name: string; backend: string; endpoint: string; env: string };
  version?: {
    number: number;
    state: string;
    weight: number;
    processor: string;
    created_at: number;
  };
  model?: {
    uri: string;
    sha256: string;
    hashed_in_full: boolean;
    files: Record<string, { sha256: string | null; bytes: number }>;
    provenance_uri: string | null;
  };
  job: {
    id: string;
    name: string | null;
    state: string | null;
    backend: string | null;
    finished_at: number | null;
    model_uri: string | null;
  } | null;
  code: {
    commit: string | null;
    ref: string | null;
    ref_present: boolean | null;
    base: string | null;
    branch: string | null;
    dirty: boolean | null;
    pushed_to: string | null;
    repo: string | null;
  } | null;
  environment: {
    python: string | null;
    frameworks: Record<string, string>;
    cuda: string | null;
    packages: number;
  } | null;
  data: Record<string, DataFingerprint | null> | null;
  spec: { framework?: string; workers?: number; entry?: string; workdir?: string } | null;
  rollout?: RolloutRecord | null;
  deployed?: { user: string; host: string; at: number } | null;
}
