// Lineage: a job's (or an endpoint version's) walk back to model hash, job,
// commit and ref, environment, data fingerprints, spec, and the rollout and
// deployer that put it in service. Fetched on open and when the target changes.
import React, { useEffect, useState } from 'react';

import { PaiApi, PaiApiError } from '../api';
import { age } from '../format';
import { trans } from '../i18n';
import { DataFingerprint, Lineage } from '../tokens';
import { KeyValues, Section } from './common';

export type LineageTarget =
  { kind: 'job'; id: string } | { kind: 'service'; name: string; version: number | null };

function targetKey(target: LineageTarget): string {
  return target.kind === 'job'
    ? `job:${target.id}`
    : `service:${target.name}@${target.version ?? ''}`;
}

function short(text: string | null | undefined, n = 12): string {
  return text ? text.replace(/^sha256:/, '').slice(0, n) : '–';
}

function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function fingerprintText(fp: DataFingerprint | null): string {
  if (!fp) {
    return trans().__('no fingerprint recorded');
  }
  const state = fp.complete
    ? ''
    : ` ${trans().__('(sampled: %1)', fp.sampled?.why ?? trans().__('partial'))}`;
  const objects = trans()._n('%1 object', '%1 objects', fp.objects);
  return `${fp.uri} · ${objects}, ${size(fp.bytes)} · ${short(fp.digest)}${state}`;
}

export function lineageRows(data: Lineage, now: number): [string, React.ReactNode][] {
  const rows: [string, React.ReactNode][] = [];
  if (data.model) {
    const files = Object.keys(data.model.files).length;
    rows.push([
      trans().__('model'),
      <span title={data.model.uri}>
        <code>{short(data.model.sha256)}</code> · {trans()._n('%1 file', '%1 files', files)}
        {data.model.hashed_in_full ? '' : ` ${trans().__('(large files by size and ETag)')}`}
      </span>
    ]);
  }
  if (!data.job) {
    rows.push([trans().__('job'), trans().__('unknown: not deployed from a pai-jupyter job')]);
  } else {
    rows.push([
      trans().__('job'),
      <span>
        <code>{data.job.id}</code> {data.job.name ?? ''} · {data.job.state ?? '?'}
      </span>
    ]);
    const code = data.code;
    rows.push([
      trans().__('commit'),
      code?.commit ? (
        <span title={code.commit}>
          <code>{short(code.commit)}</code> <code>{code.ref}</code>
          {code.ref_present === false ? ` ${trans().__('(ref gone from the repo)')}` : ''}
          {code.pushed_to ? ` · ${trans().__('pushed to %1', code.pushed_to)}` : ''}
        </span>
      ) : (
        trans().__('no commit recorded')
      )
    ]);
    if (code?.commit) {
      const base = trans().__(
        '%1 on %2',
        short(code.base),
        code.branch ?? trans().__('(detached)')
      );
      rows.push([
        trans().__('base'),
        code.dirty ? trans().__('%1, uncommitted changes included', base) : base
      ]);
    }
    const env = data.environment;
    if (env) {
      const frameworks = Object.entries(env.frameworks)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      rows.push([
        trans().__('environment'),
        `Python ${env.python ?? '?'}${frameworks ? `; ${frameworks}` : ''}`
      ]);
    }
    const inputs = Object.entries(data.data ?? {});
    if (inputs.length === 0) {
      rows.push([trans().__('data'), trans().__('no --data inputs')]);
    }
    for (const [channel, fp] of inputs) {
      rows.push([trans().__('data %1', channel), fingerprintText(fp)]);
    }
    if (data.spec) {
      const spec = data.spec;
      const workers =
        spec.workers === undefined
          ? trans().__('? workers')
          : trans()._n('%1 worker', '%1 workers', spec.workers);
      const entry = `${spec.workdir ? `${spec.workdir}/` : ''}${spec.entry ?? ''}`;
      rows.push([trans().__('spec'), `${spec.framework ?? '?'} · ${workers} · ${entry}`]);
    }
  }
  if (data.service) {
    const rollout = data.rollout;
    rows.push([
      trans().__('rollout'),
      rollout
        ? `v${rollout.from_version} → v${rollout.to_version} ${rollout.state} (${rollout.plan.map(w => `${w}%`).join(' → ')}), ${age(rollout.started_at, now)}`
        : data.version?.number === 1
          ? trans().__('created with the service')
          : trans().__('no rollout recorded')
    ]);
    rows.push([
      trans().__('deployed by'),
      data.deployed
        ? `${data.deployed.user}@${data.deployed.host}, ${age(data.deployed.at, now)}`
        : trans().__('unknown')
    ]);
  }
  return rows;
}

export function LineageSection(props: {
  api: PaiApi;
  target: LineageTarget;
  now: number;
  versions?: number[];
}): JSX.Element {
  const { api, target, now } = props;
  const [version, setVersion] = useState<number | null>(
    target.kind === 'service' ? target.version : null
  );
  const [result, setResult] = useState<{ key: string; data?: Lineage; error?: string } | null>(
    null
  );
  const effective: LineageTarget = target.kind === 'service' ? { ...target, version } : target;
  const key = targetKey(effective);

  useEffect(() => {
    let cancelled = false;
    const request =
      effective.kind === 'job'
        ? api.jobLineage(effective.id)
        : api.serviceLineage(effective.name, effective.version);
    request.then(
      ({ lineage }) => {
        if (!cancelled) {
          setResult({ key, data: lineage });
        }
      },
      (err: unknown) => {
        if (!cancelled) {
          setResult({ key, error: err instanceof PaiApiError ? err.message : String(err) });
        }
      }
    );
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const current = result?.key === key ? result : null;

  return (
    <Section title={trans().__('Lineage')}>
      {props.versions && props.versions.length > 1 ? (
        <label className="pai-Rollback-label">
          {trans().__('Version')}
          <select
            className="jp-mod-styled"
            aria-label={trans().__('Version whose lineage to show')}
            value={version ?? ''}
            onChange={e => setVersion(e.target.value ? Number(e.target.value) : null)}
          >
            <option value="">{trans().__('serving')}</option>
            {props.versions.map(v => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {current === null ? (
        <div className="pai-Empty">{trans().__('Loading lineage…')}</div>
      ) : current.data ? (
        <KeyValues testId="pai-lineage" rows={lineageRows(current.data, now)} />
      ) : (
        <div className="pai-Empty">
          {trans().__('Lineage unavailable: %1', current.error ?? '')}
        </div>
      )}
    </Section>
  );
}
