// The PAI sidebar plugin: one widget in the shell's left area. It needs no
// JupyterLab-only service, so it runs in JupyterLab and in Notebook 7 alike;
// the settings registry, the state DB, the layout restorer, the translator and
// the palette are used when the application has them.
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { PaiApi } from './api';
import { PaiSidebar } from './components/Sidebar';
import { setTranslator, trans } from './i18n';
import { paiIcon } from './icon';
import { PaiModel } from './model';
import { JobNotifier } from './notifications';
import { readSettings, Tab } from './settings';

const PLUGIN_ID = 'pai-jupyter:sidebar';
const STATE_KEY = 'pai-jupyter:sidebar-state';
const TABS: readonly Tab[] = ['jobs', 'endpoints', 'pipelines', 'compare'];

const CommandIDs = {
  open: 'pai-jupyter:open',
  openJob: 'pai-jupyter:open-job',
  openService: 'pai-jupyter:open-endpoint'
} as const;

/** What the state DB keeps between page loads: the tab and the selected item. */
interface ISidebarState {
  tab: Tab;
  job: string | null;
  service: string | null;
}

function sidebarState(model: PaiModel): ISidebarState {
  return { tab: model.tab, job: model.job?.id ?? null, service: model.service?.name ?? null };
}

function readState(value: unknown): Partial<ISidebarState> {
  if (typeof value !== 'object' || value === null) {
    return {};
  }
  const { tab, job, service } = value as Record<string, unknown>;
  return {
    tab: TABS.includes(tab as Tab) ? (tab as Tab) : undefined,
    job: typeof job === 'string' ? job : null,
    service: typeof service === 'string' ? service : null
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'PAI training jobs and endpoints, live, in the left sidebar.',
  autoStart: true,
  optional: [ILabShell, ILayoutRestorer, ISettingRegistry, IStateDB, ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    registry: ISettingRegistry | null,
    stateDB: IStateDB | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    setTranslator(translator ?? nullTranslator);
    const model = new PaiModel(new PaiApi(app.serviceManager.serverSettings));
    const sidebar = new PaiSidebar(model);
    sidebar.title.icon = paiIcon;
    sidebar.title.caption = trans().__('PAI: jobs and endpoints');
    // 'left' is a side panel in JupyterLab's shell and in Notebook 7's alike.
    app.shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    const show = (): void => {
      app.shell.activateById(sidebar.id);
    };
    app.commands.addCommand(CommandIDs.open, {
      label: trans().__('PAI: Show Jobs and Endpoints'),
      execute: show
    });
    app.commands.addCommand(CommandIDs.openJob, {
      label: trans().__('PAI: Open Job'),
      execute: args => {
        show();
        model.setTab('jobs');
        model.selectJob(args.id as string);
      }
    });
    app.commands.addCommand(CommandIDs.openService, {
      label: trans().__('PAI: Open Endpoint'),
      execute: args => {
        show();
        model.setTab('endpoints');
        model.selectService(args.name as string);
      }
    });
    palette?.addItem({ command: CommandIDs.open, category: 'PAI' });

    const notifier = new JobNotifier(model, {
      openJob: id => void app.commands.execute(CommandIDs.openJob, { id }),
      openService: name => void app.commands.execute(CommandIDs.openService, { name })
    });
    sidebar.disposed.connect(() => notifier.dispose());

    void Promise.all([loadSettings(registry, model), fetchState(stateDB)]).then(([, saved]) => {
      model.tab = model.settings.defaultTab;
      model.restore(saved);
      model.start();
      if (labShell === null && saved.open) {
        show(); // without ILabShell (Notebook 7) no layout restorer reopens side panels: do it here
      }
      if (stateDB) {
        keepState(model, stateDB, sidebar, labShell === null);
      }
    });
  }
};

/** Copy the settings into the model now and whenever the user changes them. */
async function loadSettings(registry: ISettingRegistry | null, model: PaiModel): Promise<void> {
  if (!registry) {
    return;
  }
  try {
    const settings = await registry.load(PLUGIN_ID);
    model.applySettings(readSettings(settings.composite));
    settings.changed.connect(() => model.applySettings(readSettings(settings.composite)));
  } catch (error) {
    console.warn(
      'pai-jupyter: the sidebar settings could not be loaded; using the defaults',
      error
    );
  }
}

async function fetchState(
  stateDB: IStateDB | null
): Promise<Partial<ISidebarState> & { open?: boolean }> {
  if (!stateDB) {
    return {};
  }
  try {
    const value = await stateDB.fetch(STATE_KEY);
    const open = (value as { open?: unknown } | undefined)?.open === true;
    return { ...readState(value), open };
  } catch (error) {
    console.warn('pai-jupyter: the sidebar state could not be read', error);
    return {};
  }
}

/** Save the tab and selection (and, without a layout restorer, whether the panel is shown). */
function keepState(
  model: PaiModel,
  stateDB: IStateDB,
  sidebar: PaiSidebar,
  trackOpen: boolean
): void {
  let saved = '';
  const save = (): void => {
    const state = { ...sidebarState(model), ...(trackOpen ? { open: sidebar.isVisible } : {}) };
    const text = JSON.stringify(state);
    if (text !== saved) {
      saved = text;
      void stateDB.save(STATE_KEY, state);
    }
  };
  model.changed.connect(save);
  save();
}

export default plugin;
