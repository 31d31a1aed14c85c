// The traffic-split bar: one segment per version, width = its weight.
import React from 'react';

import { percent } from '../format';
import { trans } from '../i18n';
import { VersionRecord } from '../tokens';

export function versionColour(version: number): number {
  return (version - 1) % 6;
}

export function TrafficSplit(props: { versions: VersionRecord[]; compact?: boolean }): JSX.Element {
  const live = props.versions.filter(v => v.weight > 0).sort((a, b) => a.version - b.version);
  const label =
    live.map(v => `v${v.version} ${percent(v.weight)}`).join(' · ') || trans().__('no traffic');
  return (
    <div className="pai-Split" data-testid="pai-traffic-split" data-split={label} title={label}>
      <div className="pai-Split-bar">
        {live.map(v => (
          <div
            key={v.version}
            className={`pai-Split-segment pai-Chart-bg-${versionColour(v.version)}`}
            style={{ width: `${v.weight}%` }}
            data-version={v.version}
            data-weight={v.weight}
          >
            {props.compact || v.weight < 12 ? '' : `v${v.version}`}
          </div>
        ))}
      </div>
      {props.compact ? null : <div className="pai-Split-legend">{label}</div>}
    </div>
  );
}
