// Endpoints: services with their traffic split, and one service's detail
// (versions, per-version charts, autoscaler events, rollout timeline, actions).
import React, { useState } from 'react';

import { Dialog, showDialog } from '@jupyterlab/apputils';

import { age, clock, percent } from '../format';
import { PaiModel, ServiceDetail } from '../model';
import { RolloutAction, ServiceMetricPoint, ServiceRecord } from '../tokens';
import { KeyValues, Section, StateBadge } from './common';
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

function ServiceList(props: { model: PaiModel }): JSX.Element {
  const services = props.model.services;
  if (services === null) {
    return <div className="pai-Empty">Loading endpoints…</div>;
  }
  if (services.length === 0) {
    return (
      <div className="pai-Empty">
        No endpoints yet. Deploy a model with <code>%pai_deploy</code>.
      </div>
    );
  }
  const now = props.model.now;
  return (
    <ul className="pai-Rows" aria-label="Endpoints">
      {services.map(s => (
        <li key={s.name}>
          <button
            className="pai-Row"
            data-service={s.name}
            onClick={() => props.model.selectService(s.name)}
          >
            <span className="pai-Row-main">
              <span className="pai-Row-name">{s.name}</span>
              <StateBadge state={s.state} />
            </span>
            <TrafficSplit versions={s.versions} compact />
            <span className="pai-Row-meta">
              {s.versions.length} version{s.versions.length === 1 ? '' : 's'} · {s.env} ·{' '}
              {s.backend} · updated {age(s.updated_at, now)}
              {s.rollout?.state === 'running' || s.rollout?.state === 'paused'
                ? ` · rollout ${s.rollout.state}`
                : ''}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

const DESTRUCTIVE: Record<RolloutAction, string | null> = {
  pause: null,
  resume: null,
  promote: 'Send 100 % of traffic to the new version now, skipping the remaining steps and gates?',
  abort: 'Stop the rollout and send all traffic back to the version that served before it?'
};

async function confirm(title: string, body: string, label: string): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}

async function runAction(model: PaiModel, service: string, action: RolloutAction): Promise<void> {
  const question = DESTRUCTIVE[action];
  if (
    question &&
    !(await confirm(
      `${action[0]!.toUpperCase()}${action.slice(1)} rollout of ${service}?`,
      question,
      action
    ))
  ) {
    return;
  }
  await model.rolloutAction(service, action);
}

async function runRollback(model: PaiModel, service: string, version: number): Promise<void> {
  if (
    await confirm(
      `Roll back ${service} to v${version}?`,
      `All traffic goes to version ${version}; any rollout in progress stops.`,
      'Roll back'
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
      ← All endpoints
    </button>
  );
  if (!record) {
    return (
      <div className="pai-Detail">
        {back}
        <div className="pai-Empty">Loading {detail.name}…</div>
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
      <Section title="Traffic">
        <TrafficSplit versions={record.versions} />
      </Section>
      <Section title="Actions">
        <div className="pai-Actions">
          {active && rollout?.state === 'running' ? (
            <button
              className="jp-Button jp-mod-styled"
              disabled={busy}
              onClick={() => void runAction(model, record.name, 'pause')}
            >
              Pause
            </button>
          ) : null}
          {active && rollout?.state === 'paused' ? (
            <button
              className="jp-Button jp-mod-styled"
              disabled={busy}
              onClick={() => void runAction(model, record.name, 'resume')}
            >
              Resume
            </button>
          ) : null}
          {active ? (
            <>
              <button
                className="jp-Button jp-mod-styled jp-mod-accept"
                disabled={busy}
                onClick={() => void runAction(model, record.name, 'promote')}
              >
                Promote
              </button>
              <button
                className="jp-Button jp-mod-styled jp-mod-warn"
                disabled={busy}
                onClick={() => void runAction(model, record.name, 'abort')}
              >
                Abort
              </button>
            </>
          ) : null}
        </div>
        {versions.length > 1 ? (
          <div className="pai-Actions">
            <label className="pai-Rollback-label">
              Roll back to
              <select
                className="jp-mod-styled pai-Rollback-select"
                aria-label="Version to roll back to"
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
              Roll back
            </button>
          </div>
        ) : null}
      </Section>
      <Section title="Versions">
        <table className="pai-Table">
          <thead>
            <tr>
              <th>ver</th>
              <th>state</th>
              <th>traffic</th>
              <th>instances</th>
              <th>processor</th>
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
      <Section title="Per-version metrics">
        <LineChart title="QPS" yFloor={0} series={seriesBy(detail.points, p => p.qps)} />
        <LineChart
          title="p95 latency"
          unit=" ms"
          yFloor={0}
          series={seriesBy(detail.points, p => p.p95_ms)}
        />
        <LineChart
          title="error rate"
          yFloor={0}
          unit="%"
          series={seriesBy(detail.points, p => p.error_rate * 100)}
        />
      </Section>
      {rollout ? (
        <Section title="Rollout">
          <RolloutTimeline rollout={rollout} />
        </Section>
      ) : null}
      <LineageSection
        api={model.api}
        target={{ kind: 'service', name: record.name, version: null }}
        now={model.now}
        versions={versions.map(v => v.version)}
      />
      <Section title="Autoscaler">
        <KeyValues
          rows={Object.entries(record.autoscaler).map(([k, v]): [string, string] => [k, String(v)])}
        />
        {scaling.length === 0 ? (
          <div className="pai-Empty">No scaling events yet.</div>
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
      <Section title="Events">
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
