// REST calls to the server extension (/pai/api/...) through JupyterLab's
// ServerConnection, so they carry the server's token and XSRF cookie like
// every other Jupyter request; and the push websocket.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { trans } from './i18n';
import { ErrorBody, JobRecord, Lineage, RolloutAction, ServiceRecord } from './tokens';

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
