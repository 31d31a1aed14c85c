// The PAI sidebar plugin: one widget in JupyterLab's left area.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { PaiApi } from './api';
import { PaiSidebar } from './components/Sidebar';
import { paiIcon } from './icon';
import { PaiModel } from './model';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'pai-jupyter:sidebar',
  description: 'PAI training jobs and endpoints, live, in the left sidebar.',
  autoStart: true,
  requires: [ILabShell],
  activate: (app: JupyterFrontEnd, shell: ILabShell): void => {
    const model = new PaiModel(new PaiApi(app.serviceManager.serverSettings));
    const sidebar = new PaiSidebar(model);
    sidebar.title.icon = paiIcon;
    sidebar.title.caption = 'PAI: jobs and endpoints';
    shell.add(sidebar, 'left', { rank: 600 });
    model.start();
    app.commands.addCommand('pai-jupyter:open', {
      label: 'Open the PAI sidebar',
      execute: () => shell.activateById(sidebar.id)
    });
  }
};

export default plugin;
