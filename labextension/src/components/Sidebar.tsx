// The PAI sidebar: a header (connection state), the tabs, and the panel of the tab.
import React from 'react';

import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';

import { trans } from '../i18n';
import { PaiModel, Tab } from '../model';
import { NoticeBar } from './common';
import { ComparePanel } from './ComparePanel';
import { EndpointsPanel } from './EndpointsPanel';
import { JobsPanel } from './JobsPanel';
import { PipelinesPanel } from './PipelinesPanel';

function tabs(): [Tab, string][] {
  return [
    ['jobs', trans().__('Jobs')],
    ['endpoints', trans().__('Endpoints')],
    ['pipelines', trans().__('Pipelines')],
    ['compare', trans().__('Compare')]
  ];
}

function SidebarBody(props: { model: PaiModel }): JSX.Element {
  const { model } = props;
  return (
    <div className="pai-Sidebar-body">
      <div className="pai-Header">
        <span className="pai-Header-title">PAI</span>
        <span
          className={`pai-Live ${model.connected ? 'pai-Live-on' : 'pai-Live-off'}`}
          title={
            model.connected
              ? trans().__('Live: updates are pushed by the server')
              : trans().__('Reconnecting…')
          }
        >
          {model.connected ? trans().__('live') : trans().__('offline')}
        </span>
      </div>
      <div className="pai-Tabs" role="tablist">
        {tabs().map(([tab, label]) => (
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
        <TabPanel model={model} />
      </div>
    </div>
  );
}

function TabPanel(props: { model: PaiModel }): JSX.Element | null {
  switch (props.model.tab) {
    case 'jobs':
      return <JobsPanel model={props.model} />;
    case 'endpoints':
      return <EndpointsPanel model={props.model} />;
    case 'pipelines':
      return <PipelinesPanel model={props.model} />;
    case 'compare':
      return <ComparePanel model={props.model} />;
    default:
      return null;
  }
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
