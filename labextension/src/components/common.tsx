// Pieces shared by both panels.
import React from 'react';

import { trans } from '../i18n';
import { PaiModel } from '../model';

export function StateBadge(props: { state: string }): JSX.Element {
  return (
    <span className={`pai-Badge pai-Badge-${props.state.toLowerCase()}`} data-state={props.state}>
      {props.state}
    </span>
  );
}

export function NoticeBar(props: { model: PaiModel }): JSX.Element | null {
  const notice = props.model.notice;
  if (!notice) {
    return null;
  }
  return (
    <div className="pai-Notice" role="alert">
      <div>
        <b>{notice.message}</b>
        {notice.hint ? <div className="pai-Notice-hint">{notice.hint}</div> : null}
      </div>
      <button
        className="pai-LinkButton"
        onClick={() => props.model.dismissNotice()}
        title={trans().__('Dismiss')}
      >
        ×
      </button>
    </div>
  );
}

export function KeyValues(props: {
  rows: [string, React.ReactNode][];
  testId?: string;
}): JSX.Element {
  return (
    <dl className="pai-KeyValues" data-testid={props.testId}>
      {props.rows.map(([key, value]) => (
        <React.Fragment key={key}>
          <dt>{key}</dt>
          <dd>{value}</dd>
        </React.Fragment>
      ))}
    </dl>
  );
}

export function Section(props: { title: string; children: React.ReactNode }): JSX.Element {
  return (
    <section className="pai-Section">
      <h3 className="pai-Section-title">{props.title}</h3>
      {props.children}
    </section>
  );
}

/**
 * A translated sentence with elements in it: `fill(trans().__('Deploy with %1.'), <code>x</code>)`
 * puts the elements where the catalogue's translation has its `%N` placeholders.
 */
export function fill(text: string, ...parts: React.ReactNode[]): React.ReactNode {
  return text.split(/(%\d)/).map((piece, i) => {
    const match = /^%(\d)$/.exec(piece);
    return <React.Fragment key={i}>{match ? parts[Number(match[1]) - 1] : piece}</React.Fragment>;
  });
}
