// Endpoints: services with their traffic split, and one service's detail
// (versions, per-version charts, autoscaler events, rollout timeline, actions).
import React, { useState } from 'react';

import { Dialog, showDialog } from '@jupyterlab/apputils';

import { age, clock, percent } from '../format';
import { trans } from '../i18n';
import { ListState, PaiModel, ServiceDetail } from '../model';
import { RolloutAction, ServiceMetricPoint, ServiceRecord } from '../tokens';
import { fill, KeyValues, ListFilter, ListFooter, Section, StateBadge } from './common';
import { LineageSection } from './LineageSection';
import { ChartSeries, LineChart } from './LineChart';
import { RolloutTimeline } from './RolloutTimeline';
import { TrafficSplit, versionColour } from './TrafficSplit';

export function EndpointsPanel(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  const selected = model.selectedService;
  if (model.service) {
    return <ServiceDetailView model={model} detail={model.service} record={selected} />;
  }
  return <ServiceList model={model} />;
}

/** The states the list's state filter offers (pai_jupyter.records SVC_*). */
const SERVICE_STATES = [
  'Creating',
  'Running',
  'Updating',
  'Scaling',
  'Stopped',
  'Failed',
  'Deleting'
];

/** The filter applied in the browser when the server cannot filter (an older server). */
function matches(s: ServiceRecord, list: ListState): boolean {
  const text = list.q.trim().toLowerCase();
  return (!list.state || s.state === list.state) && (!text || s.name.toLowerCase().includes(text));
}

function ServiceList(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  const services = model.services;
  const list = model.serviceList;
  const filter = (
    <ListFilter
      q={list.q}
      state={list.state}
      states={SERVICE_STATES}
      placeholder={trans().__('Search all endpoints by name…')}
      label={trans().__('Filter endpoints')}
      onChange={(q, state) => model.filterServices(q, state)}
    />
  );
  if (services === null) {
    return (
      <div className="pai-List">
        {filter}
        <div className="pai-Empty">{trans().__('Loading endpoints…')}</div>
      </div>
    );
  }
  const filtered = list.q.trim() !== '' || list.state !== '';
  if (services.length === 0 && !filtered) {
    return (
      <div className="pai-Empty">
        {fill(trans().__('No endpoints yet. Deploy a model with %1.'), <code>%pai_deploy</code>)}
      </div>
    );
  }
  const shown = list.serverSide ? services : services.filter(s => matches(s, list));
  const now = model.now;
  return (
    <div className="pai-List">
      {filter}
      <ul className="pai-Rows" aria-label={trans().__('Endpoints')}>
        {shown.map(s => (
          <li key={s.name}>
            <button
              className="pai-Row"
              data-service={s.name}
              onClick={() => model.selectService(s.name)}
            >
              <span className="pai-Row-main">
                <span className="pai-Row-name">{s.name}</span>
                <StateBadge state={s.state} />
              </span>
              <TrafficSplit versions={s.versions} compact />
              <span className="pai-Row-meta">
                {trans()._n('%1 version', '%1 versions', s.versions.length)} · {s.env} · {s.backend}{' '}
                · {trans().__('updated %1', age(s.updated_at, now))}
                {s.rollout?.state === 'running' || s.rollout?.state === 'paused'
                  ? ` · ${trans().__('rollout %1', s.rollout.state)}`
                  : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {filtered && shown.length === 0 && !list.loading ? (
        <div className="pai-Empty">{trans().__('No endpoint matches the filter.')}</div>
      ) : null}
      <ListFooter
        shown={shown.length}
        total={list.serverSide ? list.total : shown.length}
        hasMore={list.next !== null}
        loading={list.loading}
        onMore={() => void model.moreServices()}
        testId="pai-services-count"
      />
    </div>
  );
}

/**
 * Whether an action is valid now: the server's `actions` when it sends them (pause, resume,
 * promote, abort, rollback), else what the rollout's state allows.
 */
function allowed(record: ServiceRecord, action: string, fallback: boolean): boolean {
  return record.actions ? record.actions.includes(action) : fallback;
}

/** The question asked before a rollout action that cannot be undone (none for pause/resume). */
function destructive(action: RolloutAction): string | null {
  switch (action) {
    case 'promote':
      return trans().__(
        'Send all traffic to the new version now, skipping the remaining steps and gates?'
      );
    case 'abort':
      return trans().__(
        'Stop the rollout and send all traffic back to the version that served before it?'
      );
    default:
      return null;
  }
}

function actionLabel(action: RolloutAction): string {
  switch (action) {
    case 'pause':
      return trans().__('Pause');
    case 'resume':
      return trans().__('Resume');
    case 'promote':
      return trans().__('Promote');
    case 'abort':
      return trans().__('Abort');
  }
}

async function confirm(title: string, body: string, label: string): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}

async function runAction(model: PaiModel, service: string, action: RolloutAction): Promise<void> {
  const question = destructive(action);
  const label = actionLabel(action);
  if (
    question &&
    !(await confirm(trans().__('%1 rollout of %2?', label, service), question, label))
  ) {
    return;
  }
  await model.rolloutAction(service, action);
}

async function runRollback(model: PaiModel, service: string, version: number): Promise<void> {
  if (
    await confirm(
      trans().__('Roll back %1 to v%2?', service, version),
      trans().__('All traffic goes to version %1; any rollout in progress stops.', version),
      trans().__('Roll back')
    )
  ) {
    await model.rollback(service, version);
  }
}

function seriesBy(
  points: ServiceMetricPoint[],
  pick: (p: ServiceMetricPoint) => number | null
): ChartSeries[] {
  const byVersion = new Map<number, [number, number][]>();
  for (const p of points) {
    const value = pick(p);
    if (value === null) {
      continue;
    }
    const list = byVersion.get(p.version) ?? [];
    list.push([p.ts, value]);
    byVersion.set(p.version, list);
  }
  return [...byVersion.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([version, pts]) => ({
      label: `v${version}`,
      points: pts,
      colour: versionColour(version)
    }));
}

function ServiceDetailView(props: {
  model: PaiModel;
  detail: ServiceDetail;
  record: ServiceRecord | null;
}): JSX.Element {
  const { model, detail, record } = props;
  const [target, setTarget] = useState<number | null>(null);
  const back = (
    <button className="pai-LinkButton pai-Back" onClick={() => model.selectService(null)}>
      {trans().__('← All endpoints')}
    </button>
  );
  if (!record) {
    return (
      <div className="pai-Detail">
        {back}
        <div className="pai-Empty">{trans().__('Loading %1…', detail.name)}</div>
      </div>
    );
  }
  const rollout = record.rollout;
  const active = rollout !== null && (rollout.state === 'running' || rollout.state === 'paused');
  const versions = [...record.versions].sort((a, b) => b.version - a.version);
  const serving = versions.find(v => v.weight >= 100)?.version ?? null;
  // Default target: the version a rollout started from, else the newest one not serving.
  const rollbackTo =
    target ??
    (active ? rollout.from_version : versions.find(v => v.version !== serving)?.version) ??
    null;
  const scaling = detail.events.filter(e => e.kind === 'scale' || e.kind === 'instance').slice(-8);
  const busy = model.busy;
  return (
    <div className="pai-Detail" data-service={record.name}>
      {back}
      <div className="pai-Detail-header">
        <span className="pai-Detail-name">{record.name}</span>
        <StateBadge state={record.state} />
      </div>
      <div className="pai-Row-meta">
        <code className="pai-Endpoint">{record.endpoint}</code>
      </div>
      <Section title={trans().__('Traffic')}>
        <TrafficSplit versions={record.versions} />
      </Section>
      <Section title={trans().__('Actions')}>
        <div className="pai-Actions">
          {allowed(record, 'pause', active && rollout?.state === 'running') ? (
            <button
              className="jp-Button jp-mod-styled"
              disabled={busy}
              onClick={() => void runAction(model, record.name, 'pause')}
            >
              {trans().__('Pause')}
            </button>
          ) : null}
          {allowed(record, 'resume', active && rollout?.state === 'paused') ? (
            <button
              className="jp-Button jp-mod-styled"
              disabled={busy}
              onClick={() => void runAction(model, record.name, 'resume')}
            >
              {trans().__('Resume')}
            </button>
          ) : null}
          {allowed(record, 'promote', active) ? (
            <button
              className="jp-Button jp-mod-styled jp-mod-accept"
              disabled={busy}
              onClick={() => void runAction(model, record.name, 'promote')}
            >
              {trans().__('Promote')}
            </button>
          ) : null}
          {allowed(record, 'abort', active) ? (
            <button
              className="jp-Button jp-mod-styled jp-mod-warn"
              disabled={busy}
              onClick={() => void runAction(model, record.name, 'abort')}
            >
              {trans().__('Abort')}
            </button>
          ) : null}
        </div>
        {versions.length > 1 && allowed(record, 'rollback', true) ? (
          <div className="pai-Actions">
            <label className="pai-Rollback-label">
              {trans().__('Roll back to')}
              <select
                className="jp-mod-styled pai-Rollback-select"
                aria-label={trans().__('Version to roll back to')}
                value={rollbackTo ?? ''}
                onChange={e => setTarget(Number(e.target.value))}
              >
                {versions.map(v => (
                  <option key={v.version} value={v.version}>
                    v{v.version}
                    {v.weight > 0 ? ` (${percent(v.weight)})` : ''}
                  </option>
                ))}
              </select>
            </label>
            <button
              className="jp-Button jp-mod-styled jp-mod-warn pai-Rollback"
              disabled={busy || rollbackTo === null}
              onClick={() =>
                rollbackTo !== null && void runRollback(model, record.name, rollbackTo)
              }
            >
              {trans().__('Roll back')}
            </button>
          </div>
        ) : null}
      </Section>
      <Section title={trans().__('Versions')}>
        <table className="pai-Table">
          <thead>
            <tr>
              <th>{trans().__('ver')}</th>
              <th>{trans().__('state')}</th>
              <th>{trans().__('traffic')}</th>
              <th>{trans().__('instances')}</th>
              <th>{trans().__('processor')}</th>
            </tr>
          </thead>
          <tbody>
            {versions.map(v => (
              <tr key={v.version} data-version={v.version}>
                <td className={`pai-Chart-series-${versionColour(v.version)}`}>v{v.version}</td>
                <td>
                  <StateBadge state={v.state} />
                </td>
                <td>{percent(v.weight)}</td>
                <td>
                  {v.instances}/{v.desired_instances}
                </td>
                <td>{v.processor}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title={trans().__('Per-version metrics')}>
        <LineChart
          title={trans().__('QPS')}
          yFloor={0}
          series={seriesBy(detail.points, p => p.qps)}
        />
        <LineChart
          title={trans().__('p95 latency')}
          unit=" ms"
          yFloor={0}
          series={seriesBy(detail.points, p => p.p95_ms)}
        />
        <LineChart
          title={trans().__('error rate')}
          yFloor={0}
          unit="%"
          series={seriesBy(detail.points, p => p.error_rate * 100)}
        />
      </Section>
      {rollout ? (
        <Section title={trans().__('Rollout')}>
          <RolloutTimeline rollout={rollout} />
        </Section>
      ) : null}
      <LineageSection
        api={model.api}
        target={{ kind: 'service', name: record.name, version: null }}
        now={model.now}
        versions={versions.map(v => v.version)}
      />
      <Section title={trans().__('Autoscaler')}>
        <KeyValues
          rows={Object.entries(record.autoscaler).map(([k, v]): [string, string] => [k, String(v)])}
        />
        {scaling.length === 0 ? (
          <div className="pai-Empty">{trans().__('No scaling events yet.')}</div>
        ) : (
          <ul className="pai-Events">
            {scaling.map(e => (
              <li key={`${e.ts}-${e.message}`}>
                <span className="pai-Event-time">{clock(e.ts)}</span> {e.message}
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title={trans().__('Events')}>
        <ul className="pai-Events" data-testid="pai-service-events">
          {detail.events
            .slice(-12)
            .reverse()
            .map(e => (
              <li key={`${e.ts}-${e.kind}-${e.message}`} className={`pai-Event-${e.kind}`}>
                <span className="pai-Event-time">{clock(e.ts)}</span> <b>{e.kind}</b> {e.message}
              </li>
            ))}
        </ul>
      </Section>
    </div>
  );
}
