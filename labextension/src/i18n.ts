// The sidebar's translation bundle. The plugin sets it once at activation from
// JupyterLab's ITranslator (domain `pai_jupyter`); components call
// `trans().__('text')` so every user-facing string goes through gettext, and
// the zh-CN catalogue shipped with the Python package applies.
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

export const DOMAIN = 'pai_jupyter';

let bundle: TranslationBundle = nullTranslator.load(DOMAIN);

/** Called once by the plugin with the application's translator. */
export function setTranslator(translator: ITranslator): void {
  bundle = translator.load(DOMAIN);
}

/** The active bundle: `trans().__('Stop')`, `trans()._n('%1 job', '%1 jobs', n)`. */
export function trans(): TranslationBundle {
  return bundle;
}
