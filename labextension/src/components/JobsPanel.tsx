// Jobs: the list (pages fetched from the server as you scroll, filtered by the
// server over the whole history) and one job's detail (charts of the whole run
// with zoom, logs, spec, provenance, TensorBoard, environment diff, lineage).
import React, { useCallback, useState } from 'react';

import { showDialog, Dialog } from '@jupyterlab/apputils';

import { age, duration } from '../format';
import { trans } from '../i18n';
import { canStop, JobDetail, PaiModel } from '../model';
import { EnvironmentDiff, JobRecord } from '../tokens';
import { fill, KeyValues, ListFooter, ListFilter, Section, StateBadge } from './common';
import { LineageSection } from './LineageSection';
import { LineChart } from './LineChart';

/** The states the list's state filter offers (pai_jupyter.records.JOB_STATES). */
const JOB_STATES = [
  'Creating',
  'Queuing',
  'Running',
  'Restarting',
  'Stopping',
  'Succeeded',
  'Failed',
  'Stopped'
];

export function JobsPanel(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  if (model.job) {
    return <JobDetailView model={model} detail={model.job} />;
  }
  return <JobList model={model} />;
}

/** The filter applied in the browser when the server cannot filter (an older server). */
function matches(job: JobRecord, q: string, state: string): boolean {
  const text = q.trim().toLowerCase();
  if (state && job.state !== state) {
    return false;
  }
  return (
    !text ||
    [job.name, job.id, job.state, job.backend, job.spec.framework].some(v =>
      v.toLowerCase().includes(text)
    )
  );
}

function JobList(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  const jobs = model.jobs;
  const list = model.jobList;
  const filter = (
    <ListFilter
      q={list.q}
      state={list.state}
      states={JOB_STATES}
      placeholder={trans().__('Search all jobs by name or id…')}
      label={trans().__('Filter jobs')}
      onChange={(q, state) => model.filterJobs(q, state)}
    />
  );
  if (jobs === null) {
    return (
      <div className="pai-List">
        {filter}
        <div className="pai-Empty">{trans().__('Loading jobs…')}</div>
      </div>
    );
  }
  const shown = list.serverSide ? jobs : jobs.filter(j => matches(j, list.q, list.state));
  const filtered = list.q.trim() !== '' || list.state !== '';
  const now = model.now;
  return (
    <div className="pai-List">
      {filter}
      {jobs.length === 0 && !filtered ? (
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
              onClick={() => model.selectJob(job.id)}
              title={trans().__('%1: open details', job.id)}
            >
              <span className="pai-Row-main">
                <span className="pai-Row-name">{job.name}</span>
                <StateBadge state={job.state} />
              </span>
              <span className="pai-Row-meta">
                {job.backend} · {trans()._n('%1 worker', '%1 workers', job.spec.workers)} ·{' '}
                {age(job.created_at, now)}
                {job.experiment ? ` · ${job.experiment}` : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {filtered && shown.length === 0 && !list.loading ? (
        <div className="pai-Empty">
          {trans().__(
            'No job matches “%1”.',
            [list.q.trim(), list.state].filter(Boolean).join(', ')
          )}
        </div>
      ) : null}
      <ListFooter
        shown={shown.length}
        total={list.serverSide ? list.total : shown.length}
        hasMore={list.next !== null}
        loading={list.loading}
        onMore={() => void model.moreJobs()}
        testId="pai-jobs-count"
      />
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

/** One metric's chart: the whole run at the chart's budget, or the zoomed range in full. */
function MetricChart(props: {
  model: PaiModel;
  detail: JobDetail;
  initial: string;
  colour: number;
}): JSX.Element {
  const { model, detail } = props;
  const [name, setName] = useState(props.initial);
  const onWidth = useCallback((w: number) => model.setBudget(w), [model]);
  const options = [...new Set([props.initial, name, ...detail.reported])];
  const zoom = detail.zoom;
  const points = zoom ? (zoom.series[name] ?? []) : (detail.series[name] ?? []);
  return (
    <LineChart
      title={name}
      testId={`pai-${props.initial}-chart`}
      series={[{ label: name, points, colour: props.colour }]}
      summary={detail.summary[name] ?? null}
      picker={{ options, value: name, onChange: setName }}
      zoom={zoom?.range ?? null}
      loading={zoom?.loading}
      onZoom={range => void model.zoomJob(range)}
      onWidth={onWidth}
      height={120}
    />
  );
}

/** The charts the `charts` setting names: metric names, `throughput`, `gpu` (CPU without one). */
function JobCharts(props: { model: PaiModel; detail: JobDetail }): JSX.Element {
  const { model, detail } = props;
  const series = detail.series;
  const hasGpu = (series['gpu_util']?.length ?? 0) > 0;
  const charts = model.settings.charts;
  return (
    <>
      {charts.map((chart, i) => {
        if (chart === 'throughput') {
          return (
            <LineChart
              key={chart}
              title={trans().__('steps/s')}
              yFloor={0}
              xKind="time"
              series={[{ label: 'steps/s', points: series['steps_per_sec'] ?? [], colour: 2 }]}
            />
          );
        }
        if (chart === 'gpu') {
          return hasGpu ? (
            <LineChart
              key={chart}
              title={trans().__('GPU utilisation')}
              unit="%"
              yRange={[0, 100]}
              xKind="time"
              series={[{ label: 'GPU', points: series['gpu_util'] ?? [], colour: 1 }]}
            />
          ) : (
            <React.Fragment key={chart}>
              <LineChart
                title={trans().__('CPU (no GPU)')}
                unit="%"
                yFloor={0}
                xKind="time"
                series={[{ label: 'CPU', points: series['cpu_percent'] ?? [], colour: 1 }]}
              />
              <LineChart
                title={trans().__('memory')}
                unit=" MB"
                yFloor={0}
                xKind="time"
                series={[{ label: 'memory', points: series['memory_mb'] ?? [], colour: 4 }]}
              />
            </React.Fragment>
          );
        }
        return (
          <MetricChart key={chart} model={model} detail={detail} initial={chart} colour={i % 6} />
        );
      })}
    </>
  );
}

function EnvironmentSection(props: {
  env: EnvironmentDiff | null | undefined;
}): JSX.Element | null {
  const env = props.env;
  if (env === undefined) {
    return null;
  }
  return (
    <Section title={trans().__('Environment')}>
      {!env || !env.recorded ? (
        <div className="pai-Empty">{trans().__('No environment recorded for this job.')}</div>
      ) : env.differs.length === 0 ? (
        <div className="pai-Empty" data-testid="pai-env-diff">
          {trans()._n(
            'The job ran with the kernel’s packages (%1 package compared).',
            'The job ran with the kernel’s packages (%1 packages compared).',
            env.installed.length
          )}
        </div>
      ) : (
        <table className="pai-Table" data-testid="pai-env-diff">
          <thead>
            <tr>
              <th>{trans().__('package')}</th>
              <th>{trans().__('kernel')}</th>
              <th>{trans().__('job')}</th>
              <th>{trans().__('why')}</th>
            </tr>
          </thead>
          <tbody>
            {env.differs.map(d => (
              <tr key={d.name} className="pai-EnvDiff-differs">
                <td>{d.name}</td>
                <td>{d.kernel ?? '–'}</td>
                <td>{d.job ?? '–'}</td>
                <td>{d.why}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function TensorBoardSection(props: { job: JobRecord }): JSX.Element | null {
  const tb = props.job.tensorboard;
  if (!tb) {
    return null;
  }
  return (
    <Section title={trans().__('TensorBoard')}>
      <div data-testid="pai-tensorboard">
        {tb.url ? (
          <a href={tb.url} target="_blank" rel="noopener noreferrer">
            {trans().__('Open TensorBoard')}
          </a>
        ) : null}
        <div className="pai-Row-meta">{trans().__('logs in %1; to view them run:', tb.logdir)}</div>
        <code className="pai-Command">{tb.command}</code>
      </div>
    </Section>
  );
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
  const advice = detail.events.filter(e => e.kind === 'advice');
  const stoppable = canStop(job);
  const elapsed = job.started_at ? (job.finished_at ?? model.now) - job.started_at : 0;
  const spec = job.spec;
  const prov = detail.provenance;
  const hps = Object.entries(job.hyperparameters ?? {});
  return (
    <div className="pai-Detail" data-job-id={job.id}>
      {back}
      <div className="pai-Detail-header">
        <span className="pai-Detail-name">{job.name}</span>
        <StateBadge state={job.state} />
        {stoppable ? (
          <button
            className="jp-Button jp-mod-styled jp-mod-warn pai-Stop"
            disabled={model.busy}
            onClick={() => void confirmStop(model, job)}
          >
            {trans().__('Stop')}
          </button>
        ) : null}
      </div>
      <div className="pai-Row-meta">
        <code>{job.id}</code> · {job.backend} ·{' '}
        {job.started_at ? trans().__('elapsed %1', duration(elapsed)) : trans().__('not started')}
        {job.attempt > 1 ? ` · ${trans().__('attempt %1', job.attempt)}` : ''}
        {job.experiment ? ` · ${trans().__('experiment %1', job.experiment)}` : ''}
      </div>
      {job.reason && !stoppable ? <div className="pai-Reason">{job.reason}</div> : null}
      {advice.length > 0 ? (
        <div className="pai-Advice" role="status" data-testid="pai-advice">
          <b>{trans().__('Advice')}</b>
          {advice.slice(-1).map(e => (
            <div key={e.ts}>{e.message}</div>
          ))}
        </div>
      ) : null}
      <Section title={trans().__('Metrics')}>
        <div className="pai-Row-meta">
          {trans().__('Drag across a chart to zoom into those steps.')}
        </div>
        <JobCharts model={model} detail={detail} />
      </Section>
      <TensorBoardSection job={job} />
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
            ...hps.map(([k, v]): [string, string] => [trans().__('--hp %1', k), v]),
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
      <EnvironmentSection env={detail.environment} />
      <LineageSection api={model.api} target={{ kind: 'job', id: job.id }} now={model.now} />
    </div>
  );
}
