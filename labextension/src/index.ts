// The PAI sidebar plugin: one widget in JupyterLab's left area.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { PaiApi } from './api';
import { PaiSidebar } from './components/Sidebar';
import { paiIcon } from './icon';
import { PaiModel } from './model';

const OPEN = 'pai-jupyter:open';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'pai-jupyter:sidebar',
  description: 'PAI training jobs and endpoints, live, in the left sidebar.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, shell: ILabShell, palette: ICommandPalette | null): void => {
    const model = new PaiModel(new PaiApi(app.serviceManager.serverSettings));
    const sidebar = new PaiSidebar(model);
    sidebar.title.icon = paiIcon;
    sidebar.title.caption = 'PAI: jobs and endpoints';
    shell.add(sidebar, 'left', { rank: 600 });
    model.start();
    app.commands.addCommand(OPEN, {
      label: 'PAI: Show Jobs and Endpoints',
      execute: () => shell.activateById(sidebar.id)
    });
    palette?.addItem({ command: OPEN, category: 'PAI' });
  }
};

export default plugin;
