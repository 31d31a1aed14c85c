// The Pipelines tab: every pipeline with its triggers and last run; one pipeline's DAG with
// each step's state in the shown run, the gate's figures and decision, links to the step's
// job (Jobs tab) or rollout (Endpoints tab), the run history, and Run / Pause / Resume / Delete.
import React, { useEffect, useMemo, useState } from 'react';

import { UseSignal } from '@jupyterlab/ui-components';

import { age } from '../format';
import { trans } from '../i18n';
import { PaiModel } from '../model';
import { GateDecision, PipelineInfo, PipelineRun, PipelinesStore, RunStep } from '../pipelines';
import { Section, StateBadge } from './common';

export function PipelinesPanel(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  const store = useMemo(() => new PipelinesStore(model.api), [model.api]);
  useEffect(() => {
    void store.refresh();
    const every = Math.max(1, model.settings.refreshSeconds) * 2000;
    const timer = window.setInterval(() => void store.refresh(), every);
    return () => window.clearInterval(timer);
  }, [store, model.settings.refreshSeconds]);
  return (
    <UseSignal signal={store.changed}>
      {() => (
        <div className="pai-Pipelines">
          {store.error ? (
            <div className="pai-Notice" role="alert">
              <div>
                <b>{store.error.message}</b>
                {store.error.hint ? (
                  <div className="pai-Notice-hint">{store.error.hint}</div>
                ) : null}
              </div>
            </div>
          ) : null}
          {store.selected === null ? (
            <PipelineList store={store} now={model.now} />
          ) : (
            <PipelineDetail store={store} model={model} />
          )}
        </div>
      )}
    </UseSignal>
  );
}

function triggersText(p: PipelineInfo): string {
  const parts = p.spec.triggers.map(t =>
    t.type === 'cron'
      ? trans().__('cron %1', t.schedule ?? '')
      : trans().__('new objects under %1', t.prefix ?? '')
  );
  return parts.length ? parts.join(', ') : trans().__('manual only');
}

function PipelineList(props: { store: PipelinesStore; now: number }): JSX.Element {
  const { store, now } = props;
  if (store.pipelines === null) {
    return <div className="pai-Empty">{trans().__('Loading pipelines…')}</div>;
  }
  if (store.pipelines.length === 0) {
    return (
      <div className="pai-Empty">
        {trans().__(
          'No pipelines yet. Define one in a notebook with %%pai_pipeline or Pipeline(...).register().'
        )}
      </div>
    );
  }
  return (
    <ul className="pai-Rows" aria-label={trans().__('Pipelines')}>
      {store.pipelines.map(p => (
        <li key={p.name}>
          <button className="pai-Row" data-pipeline={p.name} onClick={() => store.select(p.name)}>
            <span className="pai-Row-main">
              <span className="pai-Row-name">{p.name}</span>
              <StateBadge state={p.state} />
              {p.last_run ? <StateBadge state={p.last_run.state} /> : null}
            </span>
            <span className="pai-Row-meta">
              {p.dag.nodes.map(n => n.name).join(' → ')} · {triggersText(p)}
              {p.last_run
                ? ' · ' +
                  trans().__('run #%1 %2', p.last_run.number, age(p.last_run.created_at, now))
                : ''}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function PipelineDetail(props: { store: PipelinesStore; model: PaiModel }): JSX.Element {
  const { store, model } = props;
  const [runId, setRunId] = useState<string | null>(null);
  const detail = store.detail;
  const back = (
    <button className="pai-LinkButton pai-Back" onClick={() => store.select(null)}>
      {trans().__('← All pipelines')}
    </button>
  );
  if (!detail) {
    return (
      <div className="pai-Detail">
        {back}
        <div className="pai-Empty">{trans().__('Loading %1…', store.selected ?? '')}</div>
      </div>
    );
  }
  const { pipeline, runs } = detail;
  const run = runs.find(r => r.id === runId) ?? runs[0] ?? null;
  return (
    <div className="pai-Detail" data-pipeline={pipeline.name}>
      {back}
      <div className="pai-Detail-header">
        <span className="pai-Detail-name">{pipeline.name}</span>
        <StateBadge state={pipeline.state} />
      </div>
      <div className="pai-Row-meta">
        {triggersText(pipeline)}
        {pipeline.next_run
          ? ' · ' + trans().__('next run %1', new Date(pipeline.next_run * 1000).toLocaleString())
          : ''}
      </div>
      <div className="pai-Actions">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={store.busy}
          onClick={() => void store.act(pipeline.name, 'run')}
        >
          {trans().__('Run now')}
        </button>
        <button
          className="jp-Button jp-mod-styled"
          disabled={store.busy}
          onClick={() =>
            void store.act(pipeline.name, pipeline.state === 'paused' ? 'resume' : 'pause')
          }
        >
          {pipeline.state === 'paused' ? trans().__('Resume') : trans().__('Pause')}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-warn"
          disabled={store.busy}
          onClick={() => {
            if (
              window.confirm(trans().__('Delete pipeline %1 and its run history?', pipeline.name))
            ) {
              void store.act(pipeline.name, 'delete');
            }
          }}
        >
          {trans().__('Delete')}
        </button>
      </div>
      <Section title={run ? trans().__('Run #%1', run.number) : trans().__('Steps')}>
        <Dag pipeline={pipeline} run={run} />
        {run ? (
          <RunView run={run} model={model} />
        ) : (
          <div className="pai-Empty">{trans().__('No runs yet.')}</div>
        )}
      </Section>
      <Section title={trans().__('Run history')}>
        <table className="pai-Table" data-testid="pai-pipeline-runs">
          <thead>
            <tr>
              <th>#</th>
              <th>{trans().__('State')}</th>
              <th>{trans().__('Trigger')}</th>
              <th>{trans().__('Started')}</th>
            </tr>
          </thead>
          <tbody>
            {runs.map(r => (
              <tr
                key={r.id}
                className={`pai-Pipeline-run ${run?.id === r.id ? 'pai-Pipeline-run-shown' : ''}`}
                onClick={() => setRunId(r.id)}
              >
                <td>{r.number}</td>
                <td>
                  <StateBadge state={r.state} />
                </td>
                <td>{triggerText(r)}</td>
                <td>{age(r.created_at, model.now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

function triggerText(run: PipelineRun): string {
  const t = run.trigger;
  if (t.kind === 'schedule') {
    return t.missed
      ? trans().__('schedule (%1 missed)', t.missed)
      : trans().__('schedule %1', t.schedule ?? '');
  }
  if (t.kind === 'objects') {
    return trans()._n('%1 new object', '%1 new objects', t.objects?.length ?? 0);
  }
  return trans().__('manual');
}

/** The steps in order, an arrow between each and the next, coloured by their state in `run`. */
function Dag(props: { pipeline: PipelineInfo; run: PipelineRun | null }): JSX.Element {
  const states = new Map((props.run?.steps ?? []).map(s => [s.name, s.state]));
  const { nodes, edges } = props.pipeline.dag;
  return (
    <div className="pai-Dag" data-testid="pai-pipeline-dag">
      {nodes.map((n, i) => {
        const state = states.get(n.name) ?? 'pending';
        const from = edges.filter(e => e[1] === n.name).map(e => e[0]);
        return (
          <React.Fragment key={n.name}>
            {i > 0 ? <span className="pai-Dag-arrow">→</span> : null}
            <span
              className={`pai-Dag-node pai-Dag-${state}`}
              data-step={n.name}
              data-state={state}
              title={from.length ? trans().__('after %1', from.join(', ')) : ''}
            >
              <b>{n.name}</b>
              <span className="pai-Dag-kind">{n.kind}</span>
              <span className="pai-Dag-state">{state}</span>
            </span>
          </React.Fragment>
        );
      })}
    </div>
  );
}

function RunView(props: { run: PipelineRun; model: PaiModel }): JSX.Element {
  const { run, model } = props;
  return (
    <div className="pai-Pipeline-runview" data-run={run.id} data-state={run.state}>
      <div className="pai-Row-meta">
        <StateBadge state={run.state} /> {triggerText(run)}
        {run.reason ? <div className="pai-Notice-hint">{run.reason}</div> : null}
      </div>
      <ul className="pai-Events">
        {run.steps.map(s => (
          <li key={s.name} data-step={s.name}>
            <StateBadge state={s.state} /> <b>{s.name}</b> <StepLink step={s} model={model} />
            {s.reason && s.state !== 'succeeded' ? (
              <div className="pai-Notice-hint">{s.reason}</div>
            ) : null}
            {s.gate ? <GateView gate={s.gate} /> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

function StepLink(props: { step: RunStep; model: PaiModel }): JSX.Element | null {
  const { step, model } = props;
  if (step.links.job) {
    const id = step.links.job;
    return (
      <button
        className="pai-LinkButton"
        onClick={() => {
          model.setTab('jobs');
          model.selectJob(id);
        }}
      >
        {trans().__('job %1', id)}
      </button>
    );
  }
  if (step.links.rollout) {
    const { service, version } = step.links.rollout;
    return (
      <button
        className="pai-LinkButton"
        onClick={() => {
          model.setTab('endpoints');
          model.selectService(service);
        }}
      >
        {trans().__('%1 v%2 rollout', service, version)}
      </button>
    );
  }
  return null;
}

function GateView(props: { gate: GateDecision }): JSX.Element {
  const { gate } = props;
  const figure = (v: number | null): string =>
    v === null ? '?' : String(Number(v.toPrecision(4)));
  return (
    <div className="pai-Gate" data-testid="pai-pipeline-gate" data-passed={String(gate.passed)}>
      <div>
        <StateBadge state={gate.passed ? 'passed' : 'failed'} /> <code>{gate.gate}</code>
      </div>
      <div className="pai-Row-meta">
        {gate.serving_version
          ? trans().__('against %1 v%2', gate.service ?? '', gate.serving_version)
          : gate.gate.includes('serving.')
            ? trans().__('no serving version yet: nothing to compare with')
            : ''}
      </div>
      <table className="pai-Table">
        <thead>
          <tr>
            <th>{trans().__('Comparison')}</th>
            <th>{trans().__('Figures')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {gate.comparisons.map(c => (
            <tr key={c.text} className={c.passed ? '' : 'pai-Gate-failed'}>
              <td>
                <code>{c.text}</code>
              </td>
              <td>{c.values.map(figure).join(' vs ')}</td>
              <td>
                {c.passed ? trans().__('ok') : trans().__('fails')}
                {c.note ? ` (${c.note})` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
