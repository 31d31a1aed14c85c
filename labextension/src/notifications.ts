// JupyterLab notifications for what happens while nobody watches the sidebar:
// a job ends (succeeded, failed, stopped), a spot instance is reclaimed and the
// job resubmitted, a rollout completes or reverts. Driven by the lists the push
// socket already keeps current in the model (no second poller): each new
// `model.pushed.jobs` / `.services` is compared with the previous one. The first
// list seen is the baseline, so what ended before the page loaded stays quiet.
import { Notification } from '@jupyterlab/apputils';

import { trans } from './i18n';
import { PaiModel } from './model';
import { JobRecord, RolloutRecord, ServiceRecord } from './tokens';

const TERMINAL = new Set(['Succeeded', 'Failed', 'Stopped']);
const ROLLOUT_ACTIVE = new Set(['running', 'paused']);
/** How long a success stays on screen (ms); failures stay until dismissed. */
const SUCCESS_MS = 8000;

export interface INotifierOptions {
  /** Show the sidebar with this job selected. */
  openJob: (id: string) => void;
  /** Show the sidebar with this endpoint selected. */
  openService: (name: string) => void;
}

export class JobNotifier {
  constructor(
    private readonly _model: PaiModel,
    private readonly _options: INotifierOptions
  ) {
    _model.changed.connect(this._onChanged);
  }

  dispose(): void {
    this._model.changed.disconnect(this._onChanged);
  }

  private _onChanged = (): void => {
    const { settings } = this._model;
    const { jobs, services } = this._model.pushed;
    if (jobs && jobs !== this._jobs) {
      const before = this._jobs;
      this._jobs = jobs;
      if (before && settings.notifications) {
        this._jobsChanged(before, jobs);
      }
    }
    if (services && services !== this._services) {
      const before = this._services;
      this._services = services;
      if (before && settings.notifications) {
        this._servicesChanged(before, services);
      }
    }
  };

  private _jobsChanged(before: JobRecord[], after: JobRecord[]): void {
    const previous = new Map(before.map(job => [job.id, job]));
    for (const job of after) {
      const old = previous.get(job.id);
      if (!old) {
        continue; // new jobs are the user's own doing: no notification
      }
      if (!TERMINAL.has(old.state) && TERMINAL.has(job.state)) {
        this._jobEnded(job);
      } else if (job.attempt > old.attempt) {
        // A new attempt: on spot instances, the instance was reclaimed and the job resubmitted.
        const message = job.spec.spot
          ? trans().__(
              'Spot instance of job %1 was reclaimed; resubmitted as attempt %2 (resumes from the last checkpoint).',
              job.name,
              job.attempt
            )
          : trans().__(
              'Job %1 restarted as attempt %2 (resumes from the last checkpoint).',
              job.name,
              job.attempt
            );
        this._notify('warning', message, () => this._options.openJob(job.id), SUCCESS_MS);
      }
    }
  }

  private _jobEnded(job: JobRecord): void {
    const open = () => this._options.openJob(job.id);
    const reason = job.reason ? ` ${job.reason}` : '';
    switch (job.state) {
      case 'Succeeded':
        this._notify('success', trans().__('Job %1 succeeded.', job.name), open, SUCCESS_MS);
        break;
      case 'Failed':
        this._notify('error', trans().__('Job %1 failed.', job.name) + reason, open, false);
        break;
      default:
        this._notify('info', trans().__('Job %1 was stopped.', job.name), open, SUCCESS_MS);
    }
  }

  private _servicesChanged(before: ServiceRecord[], after: ServiceRecord[]): void {
    const previous = new Map(before.map(s => [s.name, s.rollout]));
    for (const service of after) {
      const old = previous.get(service.name);
      const rollout = service.rollout;
      if (!old || !rollout || old.id !== rollout.id) {
        continue;
      }
      if (ROLLOUT_ACTIVE.has(old.state) && !ROLLOUT_ACTIVE.has(rollout.state)) {
        this._rolloutEnded(service.name, rollout);
      }
    }
  }

  private _rolloutEnded(name: string, rollout: RolloutRecord): void {
    const open = () => this._options.openService(name);
    const reason = rollout.reason ? ` ${rollout.reason}` : '';
    if (rollout.state === 'succeeded') {
      this._notify(
        'success',
        trans().__(
          'Rollout of %1 completed: version %2 serves all traffic.',
          name,
          rollout.to_version
        ),
        open,
        SUCCESS_MS
      );
    } else if (rollout.state === 'failed') {
      this._notify(
        'error',
        trans().__('Rollout of %1 reverted to version %2.', name, rollout.from_version) + reason,
        open,
        false
      );
    } else {
      this._notify(
        'info',
        trans().__(
          'Rollout of %1 was aborted; version %2 serves all traffic.',
          name,
          rollout.from_version
        ),
        open,
        SUCCESS_MS
      );
    }
  }

  private _notify(
    type: 'success' | 'error' | 'warning' | 'info',
    message: string,
    open: () => void,
    autoClose: number | false
  ): void {
    Notification.emit(message, type, {
      autoClose,
      actions: [{ label: trans().__('Open in PAI sidebar'), callback: open, displayType: 'link' }]
    });
  }

  private _jobs: JobRecord[] | null = null;
  private _services: ServiceRecord[] | null = null;
}
