// Jobs: the list (newest first, filterable) and one job's detail.
import React, { useState } from 'react';

import { showDialog, Dialog } from '@jupyterlab/apputils';

import { age, duration } from '../format';
import { JobDetail, PaiModel } from '../model';
import { JobRecord, TERMINAL_STATES } from '../tokens';
import { KeyValues, Section, StateBadge } from './common';
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
    return <div className="pai-Empty">Loading jobs…</div>;
  }
  const shown = jobs.filter(j => matches(j, filter));
  const now = props.model.now;
  return (
    <div className="pai-List">
      <input
        className="pai-Filter jp-mod-styled"
        type="search"
        placeholder="Filter by name, state, backend…"
        value={filter}
        onChange={e => setFilter(e.target.value)}
        aria-label="Filter jobs"
      />
      {jobs.length === 0 ? (
        <div className="pai-Empty">
          No jobs yet. Submit one with <code>%%pai_train</code> or <code>jupyter pai train</code>.
        </div>
      ) : null}
      <ul className="pai-Rows" aria-label="Jobs">
        {shown.map(job => (
          <li key={job.id}>
            <button
              className="pai-Row"
              data-job-id={job.id}
              onClick={() => props.model.selectJob(job.id)}
              title={`${job.id}: open details`}
            >
              <span className="pai-Row-main">
                <span className="pai-Row-name">{job.name}</span>
                <StateBadge state={job.state} />
              </span>
              <span className="pai-Row-meta">
                {job.backend} · {job.spec.workers} worker{job.spec.workers === 1 ? '' : 's'} ·{' '}
                {age(job.created_at, now)}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {jobs.length > 0 && shown.length === 0 ? (
        <div className="pai-Empty">No job matches “{filter}”.</div>
      ) : null}
    </div>
  );
}

async function confirmStop(model: PaiModel, job: JobRecord): Promise<void> {
  const result = await showDialog({
    title: `Stop ${job.name}?`,
    body: `Job ${job.id} and its ${job.spec.workers} worker(s) will be stopped.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop job' })]
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
      ← All jobs
    </button>
  );
  if (!job) {
    return (
      <div className="pai-Detail">
        {back}
        <div className="pai-Empty">Loading {detail.id}…</div>
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
          Stop
        </button>
      </div>
      <div className="pai-Row-meta">
        <code>{job.id}</code> · {job.backend} ·{' '}
        {job.started_at ? `elapsed ${duration(elapsed)}` : 'not started'}
        {job.attempt > 1 ? ` · attempt ${job.attempt}` : ''}
      </div>
      {job.reason && terminal ? <div className="pai-Reason">{job.reason}</div> : null}
      {advice.length > 0 ? (
        <div className="pai-Advice" role="status" data-testid="pai-advice">
          <b>Advice</b>
          {advice.slice(-1).map(e => (
            <div key={e.ts}>{e.message}</div>
          ))}
        </div>
      ) : null}
      <Section title="Metrics">
        <LineChart
          title="loss"
          series={[{ label: 'loss', points: series['loss'] ?? [] }]}
          testId="pai-loss-chart"
        />
        <LineChart
          title="steps/s"
          yFloor={0}
          series={[{ label: 'steps/s', points: series['steps_per_sec'] ?? [], colour: 2 }]}
        />
        {hasGpu ? (
          <LineChart
            title="GPU utilisation"
            unit="%"
            yRange={[0, 100]}
            series={[{ label: 'GPU', points: series['gpu_util'] ?? [], colour: 1 }]}
          />
        ) : (
          <>
            <LineChart
              title="CPU (no GPU)"
              unit="%"
              yFloor={0}
              series={[{ label: 'CPU', points: series['cpu_percent'] ?? [], colour: 1 }]}
            />
            <LineChart
              title="memory"
              unit=" MB"
              yFloor={0}
              series={[{ label: 'memory', points: series['memory_mb'] ?? [], colour: 4 }]}
            />
          </>
        )}
      </Section>
      <Section title="Latest log lines">
        <pre className="pai-Logs" data-testid="pai-logs">
          {detail.logs || '(no output yet)'}
        </pre>
      </Section>
      <Section title="Spec">
        <KeyValues
          rows={[
            ['framework', spec.framework],
            ['workers', String(spec.workers)],
            ['instance', spec.instance_type ?? '–'],
            ['GPUs', spec.gpu_count ? `${spec.gpu_count} × ${spec.gpu_type ?? 'GPU'}` : 'none'],
            ['resource group', spec.resource_group],
            ['spot', spec.spot ? 'yes' : 'no'],
            ...spec.inputs.map((i): [string, string] => [`input ${i.channel}`, i.uri]),
            ['output', spec.output ?? '–'],
            ...Object.entries(job.outputs).map(([k, v]): [string, string] => [k, v])
          ]}
        />
      </Section>
      <Section title="Provenance">
        {!prov || !prov.available ? (
          <div className="pai-Empty">No provenance recorded.</div>
        ) : (
          <KeyValues
            testId="pai-provenance"
            rows={[
              [
                'commit',
                prov.is_repo && prov.commit ? (
                  <code title={prov.commit}>
                    {prov.commit.slice(0, 12)}
                    {prov.branch ? ` (${prov.branch})` : ''}
                  </code>
                ) : (
                  'not a Git repo'
                )
              ],
              [
                'dirty',
                prov.is_repo ? (prov.dirty ? 'yes: uncommitted diff captured' : 'no') : '–'
              ],
              ['framework', prov.frameworks?.length ? prov.frameworks.join(', ') : '–'],
              ['CUDA', prov.cuda ?? 'none (CPU)'],
              ['python', prov.python ?? '–']
            ]}
          />
        )}
      </Section>
      <LineageSection api={model.api} target={{ kind: 'job', id: job.id }} now={model.now} />
    </div>
  );
}
