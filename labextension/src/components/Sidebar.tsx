// The PAI sidebar: a header (connection state), two tabs, and the panel of the tab.
import React from 'react';

import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';

import { PaiModel, Tab } from '../model';
import { NoticeBar } from './common';
import { EndpointsPanel } from './EndpointsPanel';
import { JobsPanel } from './JobsPanel';
import { PipelinesPanel } from './PipelinesPanel';

const TABS: [Tab, string][] = [
  ['jobs', 'Jobs'],
  ['endpoints', 'Endpoints'],
  ['pipelines', 'Pipelines']
];

function SidebarBody(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  return (
    <div className="pai-Sidebar-body">
      <div className="pai-Header">
        <span className="pai-Header-title">PAI</span>
        <span
          className={`pai-Live ${model.connected ? 'pai-Live-on' : 'pai-Live-off'}`}
          title={model.connected ? 'Live: updates are pushed by the server' : 'Reconnecting…'}
        >
          {model.connected ? 'live' : 'offline'}
        </span>
      </div>
      <div className="pai-Tabs" role="tablist">
        {TABS.map(([tab, label]) => (
          <button
            key={tab}
            role="tab"
            aria-selected={model.tab === tab}
            className={`pai-Tab ${model.tab === tab ? 'pai-Tab-active' : ''}`}
            onClick={() => model.setTab(tab)}
          >
            {label}
          </button>
        ))}
      </div>
      <NoticeBar model={model} />
      <div className="pai-Panel">
        {model.tab === 'pipelines' ? (
          <PipelinesPanel model={model} />
        ) : model.tab === 'jobs' ? (
          <JobsPanel model={model} />
        ) : (
          <EndpointsPanel model={model} />
        )}
      </div>
    </div>
  );
}

export class PaiSidebar extends ReactWidget {
  constructor(readonly model: PaiModel) {
    super();
    this.id = 'pai-jupyter-sidebar';
    this.addClass('pai-Sidebar');
    // Ages ("3m ago") are relative: redraw them now and then even when nothing is pushed.
    this._timer = window.setInterval(() => this.model.tick(), 5000);
  }

  override dispose(): void {
    window.clearInterval(this._timer);
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>{() => <SidebarBody model={this.model} />}</UseSignal>
    );
  }

  private _timer: number;
}
