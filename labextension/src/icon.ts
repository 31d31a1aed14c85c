import { LabIcon } from '@jupyterlab/ui-components';

// A stacked "training -> endpoint" glyph; jp-icon3 makes it follow the theme's icon colour.
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 4h10v4H4zM4 10h16v4H4zM4 16h7v4H4z"/>
    <circle cx="18" cy="6" r="2.2"/>
    <circle cx="16" cy="18" r="2.2"/>
  </g>
</svg>`;

export const paiIcon = new LabIcon({ name: 'pai-jupyter:sidebar', svgstr: svg });
