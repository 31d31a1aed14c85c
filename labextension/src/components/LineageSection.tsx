// Lineage: a job's (or an endpoint version's) walk back to model hash, job,
// commit and ref, environment, data fingerprints, spec, and the rollout and
// deployer that put it in service. Fetched on open and when the target changes.
import React, { useEffect, useState } from 'react';

import { PaiApi, PaiApiError } from '../api';
import { age } from '../format';
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
    return 'no fingerprint recorded';
  }
  const state = fp.complete ? '' : ` (sampled: ${fp.sampled?.why ?? 'partial'})`;
  return `${fp.uri} · ${fp.objects} object${fp.objects === 1 ? '' : 's'}, ${size(fp.bytes)} · ${short(fp.digest)}${state}`;
}

export function lineageRows(data: Lineage, now: number): [string, React.ReactNode][] {
  const rows: [string, React.ReactNode][] = [];
  if (data.model) {
    rows.push([
      'model',
      <span title={data.model.uri}>
        <code>{short(data.model.sha256)}</code> · {Object.keys(data.model.files).length} file(s)
        {data.model.hashed_in_full ? '' : ' (large files by size and ETag)'}
      </span>
    ]);
  }
  if (!data.job) {
    rows.push(['job', 'unknown: not deployed from a pai-jupyter job']);
  } else {
    rows.push([
      'job',
      <span>
        <code>{data.job.id}</code> {data.job.name ?? ''} · {data.job.state ?? '?'}
      </span>
    ]);
    const code = data.code;
    rows.push([
      'commit',
      code?.commit ? (
        <span title={code.commit}>
          <code>{short(code.commit)}</code> <code>{code.ref}</code>
          {code.ref_present === false ? ' (ref gone from the repo)' : ''}
          {code.pushed_to ? ` · pushed to ${code.pushed_to}` : ''}
        </span>
      ) : (
        'no commit recorded'
      )
    ]);
    if (code?.commit) {
      rows.push([
        'base',
        `${short(code.base)} on ${code.branch ?? '(detached)'}${code.dirty ? ', uncommitted changes included' : ''}`
      ]);
    }
    const env = data.environment;
    if (env) {
      const frameworks = Object.entries(env.frameworks)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      rows.push([
        'environment',
        `Python ${env.python ?? '?'}${frameworks ? `; ${frameworks}` : ''}`
      ]);
    }
    const inputs = Object.entries(data.data ?? {});
    if (inputs.length === 0) {
      rows.push(['data', 'no --data inputs']);
    }
    for (const [channel, fp] of inputs) {
      rows.push([`data ${channel}`, fingerprintText(fp)]);
    }
    if (data.spec) {
      const spec = data.spec;
      rows.push([
        'spec',
        `${spec.framework ?? '?'} · ${spec.workers ?? '?'} worker(s) · ${spec.workdir ? `${spec.workdir}/` : ''}${spec.entry ?? ''}`
      ]);
    }
  }
  if (data.service) {
    const rollout = data.rollout;
    rows.push([
      'rollout',
      rollout
        ? `v${rollout.from_version} → v${rollout.to_version} ${rollout.state} (${rollout.plan.map(w => `${w}%`).join(' → ')}), ${age(rollout.started_at, now)}`
        : data.version?.number === 1
          ? 'created with the service'
          : 'no rollout recorded'
    ]);
    rows.push([
      'deployed by',
      data.deployed
        ? `${data.deployed.user}@${data.deployed.host}, ${age(data.deployed.at, now)}`
        : 'unknown'
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
    <Section title="Lineage">
      {props.versions && props.versions.length > 1 ? (
        <label className="pai-Rollback-label">
          Version
          <select
            className="jp-mod-styled"
            aria-label="Version whose lineage to show"
            value={version ?? ''}
            onChange={e => setVersion(e.target.value ? Number(e.target.value) : null)}
          >
            <option value="">serving</option>
            {props.versions.map(v => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {current === null ? (
        <div className="pai-Empty">Loading lineage…</div>
      ) : current.data ? (
        <KeyValues testId="pai-lineage" rows={lineageRows(current.data, now)} />
      ) : (
        <div className="pai-Empty">Lineage unavailable: {current.error}</div>
      )}
    </Section>
  );
}
