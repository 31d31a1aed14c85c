// Compare: the runs of one experiment side by side. Pick an experiment, tick runs,
// and their curves of one metric overlay on one chart; the table lists each run's
// hyperparameters (--hp), final metrics, commit and duration, sortable by any
// column, with the best run by the chosen metric marked.
import React, { useCallback, useState } from 'react';

import { duration, num } from '../format';
import { trans } from '../i18n';
import { MAX_COMPARED, PaiModel } from '../model';
import { ExperimentRun } from '../tokens';
import { StateBadge } from './common';
import { ChartSeries, LineChart } from './LineChart';

/** Metrics where lower is better, by name (loss, error, perplexity...). */
const LOWER_IS_BETTER = /loss|err|mse|mae|rmse|perplexity|wer|cer|latency/i;

type SortKey =
  { kind: 'name' | 'state' | 'commit' | 'duration' } | { kind: 'hp' | 'final'; name: string };

function runLabel(run: ExperimentRun): string {
  return `${run.job.name} · ${run.job.id.slice(-6)}`;
}

function sortValue(run: ExperimentRun, key: SortKey): string | number | null {
  switch (key.kind) {
    case 'name':
      return run.job.created_at;
    case 'state':
      return run.job.state;
    case 'commit':
      return run.commit;
    case 'duration':
      return run.duration_s;
    case 'hp': {
      const v = run.hyperparameters[key.name] ?? run.job.hyperparameters?.[key.name];
      if (v === undefined) {
        return null;
      }
      const n = Number(v);
      return Number.isFinite(n) ? n : v;
    }
    case 'final':
      return run.final[key.name] ?? null;
  }
}

function compareRuns(a: ExperimentRun, b: ExperimentRun, key: SortKey, asc: boolean): number {
  const va = sortValue(a, key);
  const vb = sortValue(b, key);
  if (va === null || vb === null) {
    return va === vb ? 0 : va === null ? 1 : -1; // missing values last either way
  }
  const order =
    typeof va === 'number' && typeof vb === 'number'
      ? va - vb
      : String(va).localeCompare(String(vb));
  return asc ? order : -order;
}

/** The run with the best final value of `metric` (lowest or highest), or null. */
export function bestRun(runs: ExperimentRun[], metric: string, lower: boolean): string | null {
  let best: ExperimentRun | null = null;
  for (const run of runs) {
    const v = run.final[metric];
    if (v === undefined || v === null || !Number.isFinite(v)) {
      continue;
    }
    const current = best?.final[metric];
    if (best === null || current === undefined || (lower ? v < current : v > current)) {
      best = run;
    }
  }
  return best?.job.id ?? null;
}

export function ComparePanel(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  const state = model.compare;
  const [sort, setSort] = useState<{ key: SortKey; asc: boolean }>({
    key: { kind: 'name' },
    asc: false
  });
  const [direction, setDirection] = useState<'auto' | 'lower' | 'higher'>('auto');
  const onWidth = useCallback((w: number) => model.setBudget(w), [model]);

  if (state.experiments === null) {
    return (
      <div className="pai-Empty">
        {state.error
          ? trans().__('Experiments unavailable: %1', state.error)
          : trans().__('Loading experiments…')}
      </div>
    );
  }
  if (state.experiments.length === 0) {
    return (
      <div className="pai-Empty">
        {trans().__(
          'No experiments yet. Jobs submitted with --experiment NAME (or from the same notebook) are grouped here.'
        )}
      </div>
    );
  }
  const runs = state.detail?.runs ?? [];
  const metric = state.metric;
  const lower = direction === 'auto' ? LOWER_IS_BETTER.test(metric) : direction === 'lower';
  const best = bestRun(runs, metric, lower);
  const hpNames = [
    ...new Set(runs.flatMap(r => Object.keys({ ...r.job.hyperparameters, ...r.hyperparameters })))
  ].sort();
  const finalNames = [...new Set(runs.flatMap(r => Object.keys(r.final)))].sort();
  const metrics = [...new Set([metric, 'loss', ...finalNames])];
  const sorted = [...runs].sort((a, b) => compareRuns(a, b, sort.key, sort.asc));
  const colourOf = (id: string): number => state.selected.indexOf(id) % 6;
  const series: ChartSeries[] = state.selected.flatMap(id => {
    const run = runs.find(r => r.job.id === id);
    return run
      ? [
          {
            label: runLabel(run),
            points: state.series[`${id}/${metric}`] ?? [],
            colour: colourOf(id)
          }
        ]
      : [];
  });

  const header = (label: string, key: SortKey): JSX.Element => {
    const active = JSON.stringify(sort.key) === JSON.stringify(key);
    return (
      <th
        className="pai-Sortable"
        aria-sort={active ? (sort.asc ? 'ascending' : 'descending') : 'none'}
        onClick={() => setSort({ key, asc: active ? !sort.asc : true })}
        title={trans().__('Sort by %1', label)}
      >
        {label}
        {active ? (sort.asc ? ' ▲' : ' ▼') : ''}
      </th>
    );
  };

  return (
    <div className="pai-Compare" data-testid="pai-compare">
      <div className="pai-ListFilter">
        <label className="pai-Rollback-label">
          {trans().__('Experiment')}
          <select
            className="pai-Chart-picker"
            aria-label={trans().__('Experiment')}
            value={state.name ?? ''}
            onChange={e => void model.pickExperiment(e.target.value)}
          >
            {state.experiments.map(e => (
              <option key={e.name} value={e.name}>
                {trans()._n('%2 (%1 run)', '%2 (%1 runs)', e.runs, e.name)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {state.error ? <div className="pai-Reason">{state.error}</div> : null}
      <LineChart
        title={metric}
        testId="pai-compare-chart"
        series={series}
        picker={{ options: metrics, value: metric, onChange: m => model.setCompareMetric(m) }}
        onWidth={onWidth}
        height={160}
        loading={state.loading}
      />
      <div className="pai-Chart-legend" data-testid="pai-compare-legend">
        {series.map(s => (
          <span key={s.label} className={`pai-Chart-series-${s.colour ?? 0}`}>
            ━ {s.label}
          </span>
        ))}
      </div>
      <div className="pai-ListFilter">
        <label className="pai-Rollback-label">
          {trans().__('Best by %1:', metric)}
          <select
            className="pai-Chart-picker"
            aria-label={trans().__('Which value is best')}
            value={direction}
            onChange={e => setDirection(e.target.value as 'auto' | 'lower' | 'higher')}
          >
            <option value="auto">
              {lower ? trans().__('lowest (auto)') : trans().__('highest (auto)')}
            </option>
            <option value="lower">{trans().__('lowest')}</option>
            <option value="higher">{trans().__('highest')}</option>
          </select>
        </label>
      </div>
      <div className="pai-Row-meta">
        {trans().__('Tick up to %1 runs to overlay them.', MAX_COMPARED)}
      </div>
      <div className="pai-TableScroll">
        <table className="pai-Table" data-testid="pai-compare-table">
          <thead>
            <tr>
              <th />
              {header(trans().__('run'), { kind: 'name' })}
              {header(trans().__('state'), { kind: 'state' })}
              {hpNames.map(n => header(n, { kind: 'hp', name: n }))}
              {finalNames.map(n => header(n, { kind: 'final', name: n }))}
              {header(trans().__('commit'), { kind: 'commit' })}
              {header(trans().__('duration'), { kind: 'duration' })}
            </tr>
          </thead>
          <tbody>
            {sorted.map(run => {
              const id = run.job.id;
              const selected = state.selected.includes(id);
              const isBest = id === best;
              return (
                <tr key={id} data-job-id={id} data-best={isBest || undefined}>
                  <td>
                    <input
                      type="checkbox"
                      checked={selected}
                      aria-label={trans().__('Overlay %1', runLabel(run))}
                      onChange={() => model.toggleRun(id)}
                    />
                  </td>
                  <td className={selected ? `pai-Chart-series-${colourOf(id)}` : undefined}>
                    {isBest ? (
                      <span className="pai-Best" title={trans().__('best %1', metric)}>
                        ★{' '}
                      </span>
                    ) : null}
                    {run.job.name} <code>{id.slice(-6)}</code>
                  </td>
                  <td>
                    <StateBadge state={run.job.state} />
                  </td>
                  {hpNames.map(n => (
                    <td key={n}>{run.hyperparameters[n] ?? run.job.hyperparameters?.[n] ?? '–'}</td>
                  ))}
                  {finalNames.map(n => (
                    <td key={n} className={isBest && n === metric ? 'pai-Best' : undefined}>
                      {num(run.final[n], 4)}
                    </td>
                  ))}
                  <td>
                    {run.commit ? (
                      <code title={run.commit}>
                        {run.commit.slice(0, 8)}
                        {run.dirty ? '*' : ''}
                      </code>
                    ) : (
                      '–'
                    )}
                  </td>
                  <td>{run.duration_s === null ? '–' : duration(run.duration_s)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
