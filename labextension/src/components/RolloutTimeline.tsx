// The rollout timeline: one row per planned step with its gate result and figures,
// and the reason when the rollout failed or was reverted.
import React from 'react';

import { clock, percent } from '../format';
import { trans } from '../i18n';
import { RolloutRecord } from '../tokens';
import { StateBadge } from './common';

const FIGURE_NAMES: Record<string, (v: number) => string> = {
  requests: v => trans().__('%1 req', v),
  p95_ms: v => trans().__('p95 %1 ms', Number(v.toPrecision(3))),
  error_rate: v => trans().__('err %1', percent(v * 100))
};

/** The words shown for a step's status (the data attribute keeps the raw value). */
function statusText(status: string): string {
  switch (status) {
    case 'passed':
      return trans().__('passed');
    case 'failed':
      return trans().__('failed');
    case 'paused':
      return trans().__('paused');
    case 'baking':
      return trans().__('baking');
    case 'pending':
      return trans().__('pending');
    default:
      return status;
  }
}

/** Gate figures as one line: "new: 42 req, p95 3.1 ms, err 0% · old: ...". */
function figureText(figures: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(figures)) {
    if (value && typeof value === 'object') {
      const inner = Object.entries(value as Record<string, unknown>)
        .filter(([k, v]) => k in FIGURE_NAMES && typeof v === 'number')
        .map(([k, v]) => FIGURE_NAMES[k]!(v as number));
      if (inner.length) {
        parts.push(`${key}: ${inner.join(', ')}`);
      }
    } else if (typeof value === 'number' && key in FIGURE_NAMES) {
      parts.push(FIGURE_NAMES[key]!(value));
    }
  }
  return parts.join(' · ');
}

export function RolloutTimeline(props: { rollout: RolloutRecord }): JSX.Element {
  const r = props.rollout;
  return (
    <div className="pai-Rollout" data-testid="pai-rollout" data-state={r.state}>
      <div className="pai-Row-meta">
        v{r.from_version} → v{r.to_version} ·{' '}
        {trans().__('plan %1', r.plan.map(w => `${w}%`).join(' → '))} ·{' '}
        <StateBadge state={r.state} />
      </div>
      <ol className="pai-Timeline">
        {r.plan.map((weight, i) => {
          const step = r.steps[i];
          const current = i === r.step && step !== undefined && step.result === null;
          const status =
            step?.result ??
            (current && r.state === 'paused' ? 'paused' : step ? 'baking' : 'pending');
          const figures = step ? Object.entries(step.figures) : [];
          return (
            <li key={i} className={`pai-Timeline-step pai-Timeline-${status}`} data-result={status}>
              <span className="pai-Timeline-weight">{weight}%</span>
              <span className="pai-Timeline-status">{statusText(status)}</span>
              {step ? <span className="pai-Timeline-time">{clock(step.started_at)}</span> : null}
              {figures.length ? (
                <span className="pai-Timeline-figures">{figureText(step?.figures ?? {})}</span>
              ) : null}
            </li>
          );
        })}
      </ol>
      {r.reason ? (
        <div className="pai-Reason" data-testid="pai-rollout-reason">
          {r.reason}
        </div>
      ) : null}
    </div>
  );
}
