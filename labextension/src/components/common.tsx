// Pieces shared by both panels.
import React, { useEffect, useRef } from 'react';

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

/** The search box and state picker over a server-side list. */
export function ListFilter(props: {
  q: string;
  state: string;
  states: string[];
  placeholder: string;
  label: string;
  onChange: (q: string, state: string) => void;
}): JSX.Element {
  return (
    <div className="pai-ListFilter">
      <input
        className="pai-Filter jp-mod-styled"
        type="search"
        placeholder={props.placeholder}
        value={props.q}
        onChange={e => props.onChange(e.target.value, props.state)}
        aria-label={props.label}
      />
      <select
        className="jp-mod-styled"
        aria-label={trans().__('State')}
        value={props.state}
        onChange={e => props.onChange(props.q, e.target.value)}
      >
        <option value="">{trans().__('any state')}</option>
        {props.states.map(s => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * "Showing N of TOTAL" and the next page: fetched when the end of the list scrolls into
 * view (an IntersectionObserver on this footer), or with the button.
 */
export function ListFooter(props: {
  shown: number;
  total: number | null;
  hasMore: boolean;
  loading: boolean;
  onMore: () => void;
  testId: string;
}): JSX.Element {
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasMore, loading, onMore } = props;
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasMore || loading) {
      return;
    }
    const observer = new IntersectionObserver(entries => {
      if (entries.some(e => e.isIntersecting)) {
        onMore();
      }
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasMore, loading, onMore]);
  return (
    <div ref={sentinel}>
      {props.total !== null ? (
        <div
          className="pai-ListCount"
          data-testid={props.testId}
          data-shown={props.shown}
          data-total={props.total}
        >
          {trans().__(
            'showing %1 of %2',
            props.shown.toLocaleString(),
            props.total.toLocaleString()
          )}
        </div>
      ) : null}
      {hasMore ? (
        <button className="jp-Button jp-mod-styled pai-More" disabled={loading} onClick={onMore}>
          {loading ? trans().__('Loading…') : trans().__('Load more')}
        </button>
      ) : null}
    </div>
  );
}
