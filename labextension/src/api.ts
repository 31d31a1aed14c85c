// REST calls to the server extension (/pai/api/...) through JupyterLab's
// ServerConnection, so they carry the server's token and XSRF cookie like
// every other Jupyter request; and the push websocket.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { trans } from './i18n';
import {
  ErrorBody,
  ExperimentDetail,
  ExperimentSummary,
  JobDetailResponse,
  JobRecord,
  Lineage,
  MetricsResponse,
  Page,
  RolloutAction,
  ServiceRecord
} from './tokens';

/** The server-side filter and page of a list (GET /pai/api/jobs, /services). */
export interface ListQuery {
  limit?: number;
  cursor?: string | null;
  q?: string;
  state?: string;
}

/** A metrics request: names (all when empty), a step range, a point budget. */
export interface MetricsQuery {
  names?: string[];
  start?: number | null;
  end?: number | null;
  points?: number | null;
}

function query(params: [string, string | number | null | undefined][]): string {
  const parts = params
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

function listParams(q: ListQuery): [string, string | number | null | undefined][] {
  return [
    ['limit', q.limit],
    ['cursor', q.cursor],
    ['q', q.q?.trim()],
    ['state', q.state]
  ];
}

/** An error the server explained (message and hint), or a transport failure. */
export class PaiApiError extends Error {
  constructor(
    message: string,
    readonly hint: string | null,
    readonly status: number
  ) {
    super(message);
  }
}

export class PaiApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'pai/api', path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new PaiApiError(
        trans().__('cannot reach the Jupyter server: %1', String(error)),
        trans().__('is the server still running?'),
        0
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null; // not JSON (a proxy's error page): report the status below
    }
    if (!response.ok) {
      const err = (body ?? {}) as Partial<ErrorBody> & { message?: string };
      throw new PaiApiError(
        err.error ?? err.message ?? `HTTP ${response.status}`,
        err.hint ?? null,
        response.status
      );
    }
    return body as T;
  }

  /** One page of jobs, newest first, filtered on the server over the whole history. */
  listJobs(q: ListQuery): Promise<Page<'jobs', JobRecord>> {
    return this.request(`jobs${query(listParams(q))}`);
  }

  listServices(q: ListQuery): Promise<Page<'services', ServiceRecord>> {
    return this.request(`services${query(listParams(q))}`);
  }

  /** The job's record with its provenance summary and, when recorded, its environment diff. */
  job(id: string): Promise<JobDetailResponse> {
    return this.request(`jobs/${encodeURIComponent(id)}`);
  }

  /** Metrics over a step range at a point budget (the server downsamples and summarises). */
  jobMetrics(id: string, q: MetricsQuery): Promise<MetricsResponse> {
    const params: [string, string | number | null | undefined][] = (q.names ?? []).map(n => [
      'name',
      n
    ]);
    params.push(['start', q.start], ['end', q.end], ['points', q.points]);
    return this.request(`jobs/${encodeURIComponent(id)}/metrics${query(params)}`);
  }

  experiments(): Promise<{ experiments: ExperimentSummary[] }> {
    return this.request('experiments');
  }

  experiment(name: string): Promise<ExperimentDetail> {
    return this.request(`experiments/${encodeURIComponent(name)}`);
  }

  stopJob(id: string): Promise<{ job: JobRecord }> {
    return this.request(`jobs/${encodeURIComponent(id)}/stop`, { method: 'POST' });
  }

  rolloutAction(service: string, action: RolloutAction): Promise<{ service: ServiceRecord }> {
    return this.request(`services/${encodeURIComponent(service)}/rollout/${action}`, {
      method: 'POST'
    });
  }

  rollback(service: string, version: number): Promise<{ service: ServiceRecord }> {
    return this.request(`services/${encodeURIComponent(service)}/rollback`, {
      method: 'POST',
      body: JSON.stringify({ version })
    });
  }

  jobLineage(id: string): Promise<{ lineage: Lineage }> {
    return this.request(`jobs/${encodeURIComponent(id)}/lineage`);
  }

  serviceLineage(service: string, version: number | null): Promise<{ lineage: Lineage }> {
    const query = version === null ? '' : `?version=${version}`;
    return this.request(`services/${encodeURIComponent(service)}/lineage${query}`);
  }

  /** Open the push websocket; the token goes in the query as for kernel sockets. */
  openPush(): WebSocket {
    let url = URLExt.join(this.settings.wsUrl, 'pai/api/push');
    const token = this.settings.token;
    if (this.settings.appendToken && token !== '') {
      url += `?token=${encodeURIComponent(token)}`;
    }
    return new this.settings.WebSocket(url);
  }
}
