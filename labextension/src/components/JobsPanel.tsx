// Jobs: the list (newest first, filterable) and one job's detail.
import React, { useState } from 'react';

import { showDialog, Dialog } from '@jupyterlab/apputils';

import { age, duration } from '../format';
import { trans } from '../i18n';
import { JobDetail, PaiModel } from '../model';
import { JobRecord, TERMINAL_STATES } from '../tokens';
import { fill, KeyValues, Section, StateBadge } from './common';
import { LineageSection } from './LineageSection';
import { LineChart } from './LineChart';

export function JobsPanel(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  if (model.job) {
    return <JobDetailView model={model} detail={model.job} />;
  }
  return <JobList model={model} />;
}

function matches(job: JobRecord, filter: string): boolean {
  const text = filter.trim().toLowerCase();
  if (!text) {
    return true;
  }
  return [job.name, job.id, job.state, job.backend, job.spec.framework].some(v =>
    v.toLowerCase().includes(text)
  );
}

function JobList(props: { model: PaiModel }): JSX.Element {
  const [filter, setFilter] = useState('');
  const jobs = props.model.jobs;
  if (jobs === null) {
    return <div className="pai-Empty">{trans().__('Loading jobs…')}</div>;
  }
  const shown = jobs.filter(j => matches(j, filter));
  const now = props.model.now;
  return (
    <div className="pai-List">
      <input
        className="pai-Filter jp-mod-styled"
        type="search"
        placeholder={trans().__('Filter by name, state, backend…')}
        value={filter}
        onChange={e => setFilter(e.target.value)}
        aria-label={trans().__('Filter jobs')}
      />
      {jobs.length === 0 ? (
        <div className="pai-Empty">
          {fill(
            trans().__('No jobs yet. Submit one with %1 or %2.'),
            <code>%%pai_train</code>,
            <code>jupyter pai train</code>
          )}
        </div>
      ) : null}
      <ul className="pai-Rows" aria-label={trans().__('Jobs')}>
        {shown.map(job => (
          <li key={job.id}>
            <button
              className="pai-Row"
              data-job-id={job.id}
              onClick={() => props.model.selectJob(job.id)}
              title={trans().__('%1: open details', job.id)}
            >
              <span className="pai-Row-main">
                <span className="pai-Row-name">{job.name}</span>
                <StateBadge state={job.state} />
              </span>
              <span className="pai-Row-meta">
                {job.backend} · {trans()._n('%1 worker', '%1 workers', job.spec.workers)} ·{' '}
                {age(job.created_at, now)}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {jobs.length > 0 && shown.length === 0 ? (
        <div className="pai-Empty">{trans().__('No job matches “%1”.', filter)}</div>
      ) : null}
    </div>
  );
}

async function confirmStop(model: PaiModel, job: JobRecord): Promise<void> {
  const result = await showDialog({
    title: trans().__('Stop %1?', job.name),
    body: trans()._n(
      'Job %2 and its %1 worker will be stopped.',
      'Job %2 and its %1 workers will be stopped.',
      job.spec.workers,
      job.id
    ),
    buttons: [
      Dialog.cancelButton({ label: trans().__('Cancel') }),
      Dialog.warnButton({ label: trans().__('Stop job') })
    ]
  });
  if (result.button.accept) {
    await model.stopJob(job.id);
  }
}

function JobDetailView(props: { model: PaiModel; detail: JobDetail }): JSX.Element {
  const { model, detail } = props;
  const job = detail.record;
  const back = (
    <button className="pai-LinkButton pai-Back" onClick={() => model.selectJob(null)}>
      {trans().__('← All jobs')}
    </button>
  );
  if (!job) {
    return (
      <div className="pai-Detail">
        {back}
        <div className="pai-Empty">{trans().__('Loading %1…', detail.id)}</div>
      </div>
    );
  }
  const series = detail.series;
  const hasGpu = (series['gpu_util']?.length ?? 0) > 0;
  const advice = detail.events.filter(e => e.kind === 'advice');
  const terminal = TERMINAL_STATES.has(job.state);
  const elapsed = job.started_at ? (job.finished_at ?? model.now) - job.started_at : 0;
  const spec = job.spec;
  const prov = detail.provenance;
  return (
    <div className="pai-Detail" data-job-id={job.id}>
      {back}
      <div className="pai-Detail-header">
        <span className="pai-Detail-name">{job.name}</span>
        <StateBadge state={job.state} />
        <button
          className="jp-Button jp-mod-styled jp-mod-warn pai-Stop"
          disabled={terminal || model.busy}
          onClick={() => void confirmStop(model, job)}
        >
          {trans().__('Stop')}
        </button>
      </div>
      <div className="pai-Row-meta">
        <code>{job.id}</code> · {job.backend} ·{' '}
        {job.started_at ? trans().__('elapsed %1', duration(elapsed)) : trans().__('not started')}
        {job.attempt > 1 ? ` · ${trans().__('attempt %1', job.attempt)}` : ''}
      </div>
      {job.reason && terminal ? <div className="pai-Reason">{job.reason}</div> : null}
      {advice.length > 0 ? (
        <div className="pai-Advice" role="status" data-testid="pai-advice">
          <b>{trans().__('Advice')}</b>
          {advice.slice(-1).map(e => (
            <div key={e.ts}>{e.message}</div>
          ))}
        </div>
      ) : null}
      <Section title={trans().__('Metrics')}>
        <LineChart
          title={trans().__('loss')}
          series={[{ label: 'loss', points: series['loss'] ?? [] }]}
          testId="pai-loss-chart"
        />
        <LineChart
          title={trans().__('steps/s')}
          yFloor={0}
          series={[{ label: 'steps/s', points: series['steps_per_sec'] ?? [], colour: 2 }]}
        />
        {hasGpu ? (
          <LineChart
            title={trans().__('GPU utilisation')}
            unit="%"
            yRange={[0, 100]}
            series={[{ label: 'GPU', points: series['gpu_util'] ?? [], colour: 1 }]}
          />
        ) : (
          <>
            <LineChart
              title={trans().__('CPU (no GPU)')}
              unit="%"
              yFloor={0}
              series={[{ label: 'CPU', points: series['cpu_percent'] ?? [], colour: 1 }]}
            />
            <LineChart
              title={trans().__('memory')}
              unit=" MB"
              yFloor={0}
              series={[{ label: 'memory', points: series['memory_mb'] ?? [], colour: 4 }]}
            />
          </>
        )}
      </Section>
      <Section title={trans().__('Latest log lines')}>
        <pre className="pai-Logs" data-testid="pai-logs">
          {detail.logs || trans().__('(no output yet)')}
        </pre>
      </Section>
      <Section title={trans().__('Spec')}>
        <KeyValues
          rows={[
            [trans().__('framework'), spec.framework],
            [trans().__('workers'), String(spec.workers)],
            [trans().__('instance'), spec.instance_type ?? '–'],
            [
              trans().__('GPUs'),
              spec.gpu_count ? `${spec.gpu_count} × ${spec.gpu_type ?? 'GPU'}` : trans().__('none')
            ],
            [trans().__('resource group'), spec.resource_group],
            [trans().__('spot'), spec.spot ? trans().__('yes') : trans().__('no')],
            ...spec.inputs.map((i): [string, string] => [trans().__('input %1', i.channel), i.uri]),
            [trans().__('output'), spec.output ?? '–'],
            ...Object.entries(job.outputs).map(([k, v]): [string, string] => [k, v])
          ]}
        />
      </Section>
      <Section title={trans().__('Provenance')}>
        {!prov || !prov.available ? (
          <div className="pai-Empty">{trans().__('No provenance recorded.')}</div>
        ) : (
          <KeyValues
            testId="pai-provenance"
            rows={[
              [
                trans().__('commit'),
                prov.is_repo && prov.commit ? (
                  <code title={prov.commit}>
                    {prov.commit.slice(0, 12)}
                    {prov.branch ? ` (${prov.branch})` : ''}
                  </code>
                ) : (
                  trans().__('not a Git repo')
                )
              ],
              [
                trans().__('dirty'),
                prov.is_repo
                  ? prov.dirty
                    ? trans().__('yes: uncommitted diff captured')
                    : trans().__('no')
                  : '–'
              ],
              [trans().__('framework'), prov.frameworks?.length ? prov.frameworks.join(', ') : '–'],
              [trans().__('CUDA'), prov.cuda ?? trans().__('none (CPU)')],
              [trans().__('python'), prov.python ?? '–']
            ]}
          />
        )}
      </Section>
      <LineageSection api={model.api} target={{ kind: 'job', id: job.id }} now={model.now} />
    </div>
  );
}
