// The lab report as one self-contained HTML page: the table, and per connection row an SVG ladder
// of the segments its capture recorded. Inline CSS and SVG only: no script, font or request.
import { invalidArgType } from '../core/validate.js';
import { foldWire, timeText, type Rung } from './ladder.js';
import { describeObserved, describeTimeWait, familyText, type LabReport, type LabRow } from './report.js';

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLOURS: Readonly<Record<Rung['kind'], string>> = { syn: '#6b7280', data: '#1f2937', fin: '#1d4ed8', rst: '#dc2626' };
const MAX_RUNGS = 16;

/** The rungs to draw: all of them, or the first three and the last ones with a gap marker between. */
function pick(rungs: Rung[]): (Rung | { gap: number })[] {
  if (rungs.length <= MAX_RUNGS) return rungs;
  const tail = MAX_RUNGS - 4;
  return [...rungs.slice(0, 3), { gap: rungs.length - 3 - tail }, ...rungs.slice(-tail)];
}

/** One row's ladder: closer on the left, peer on the right, time running down. */
export function ladderSvg(row: LabRow): string {
  const id = `ladder-${row.scenario}-ipv${row.family}`;
  const wire = row.observed?.kind === 'connection' ? row.observed.wire : undefined;
  if (!wire) return `<p class="nowire">${row.kind === 'call' ? 'no connection: nothing on the wire' : 'not captured'}</p>`;
  const items = pick(foldWire(wire));
  const width = 420;
  const left = 90;
  const right = 330;
  const step = 26;
  const top = 34;
  const height = top + items.length * step + 14;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="ladder" id="${id}" data-scenario="${esc(row.scenario)}" data-segments="${wire.length}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`${row.scenario}: ${wire.length} segments`)}">`,
    '<defs>',
    ...Object.entries(COLOURS).map(([kind, colour]) =>
      `<marker id="${id}-${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${colour}"/></marker>`),
    '</defs>',
    `<text x="${left}" y="14" text-anchor="middle" class="end">closer</text>`,
    `<text x="${right}" y="14" text-anchor="middle" class="end">peer</text>`,
    `<line x1="${left}" y1="22" x2="${left}" y2="${height - 6}" class="life"/>`,
    `<line x1="${right}" y1="22" x2="${right}" y2="${height - 6}" class="life"/>`,
  ];
  items.forEach((item, i) => {
    const y = top + i * step;
    if ('gap' in item) {
      parts.push(`<text x="${(left + right) / 2}" y="${y + 12}" text-anchor="middle" class="gap">⋮ ${item.gap} more</text>`);
      return;
    }
    const [x1, x2full] = item.from === 'closer' ? [left, right] : [right, left];
    // A segment lost on the way (off loopback) stops in the middle, at a cross.
    const x2 = item.lost ? (x1 + x2full) / 2 : x2full;
    const y2 = item.lost ? y + 7 : y + 14;
    const colour = COLOURS[item.kind];
    parts.push(
      `<g class="rung ${item.kind}${item.lost ? ' lost' : ''}" data-from="${item.from}">`,
      item.lost
        ? `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y2}" stroke="${colour}" stroke-width="${item.kind === 'rst' ? 2.5 : 1.5}"/>` +
          `<path d="M${x2 - 4},${y2 - 4}L${x2 + 4},${y2 + 4}M${x2 - 4},${y2 + 4}L${x2 + 4},${y2 - 4}" stroke="${colour}" stroke-width="2"/>`
        : `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y2}" stroke="${colour}" stroke-width="${item.kind === 'rst' ? 2.5 : 1.5}" marker-end="url(#${id}-${item.kind})"/>`,
      `<text x="${(left + right) / 2}" y="${y + 3}" text-anchor="middle" fill="${colour}" class="label">${esc(item.label)}</text>`,
      `<text x="${left - 8}" y="${y + 10}" text-anchor="end" class="time">${esc(timeText(item.tMs))}</text>`,
      '</g>',
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

const STYLE = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #111827; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
p.meta { color: #4b5563; margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-top: 1px solid #e5e7eb; padding: 8px; vertical-align: top; text-align: left; }
th { background: #f9fafb; font-weight: 600; }
td.name code { font-weight: 600; } td.name div { color: #4b5563; font-size: 12px; }
td.obs { white-space: pre-line; font-size: 13px; }
.status { font-weight: 700; } .pass { color: #15803d; } .fail { color: #b91c1c; } .not-claimed { color: #6b7280; }
svg.ladder { font: 11px ui-monospace, Menlo, Consolas, monospace; }
svg .end { font-weight: 700; font-size: 12px; fill: #111827; }
svg .life { stroke: #9ca3af; stroke-width: 1; stroke-dasharray: 3 3; }
svg .time { fill: #6b7280; font-size: 10px; } svg .gap { fill: #6b7280; }
svg .label { paint-order: stroke; stroke: #fff; stroke-width: 3px; }
p.nowire { color: #6b7280; font-style: italic; margin: 0; }
`;

function rowHtml(row: LabRow): string {
  const observed = row.error ? `could not run: ${row.error}` : describeObserved(row.observed).replace(/\non the wire:[\s\S]*$/, '');
  const status = row.status === 'pass' ? 'pass' : row.status === 'fail' ? 'FAIL' : 'not claimed';
  const mismatches = row.mismatches.length ? `<div class="fail">${row.mismatches.map(esc).join('<br>')}</div>` : '';
  return `<tr id="row-${esc(row.scenario)}-ipv${row.family}">
<td class="name"><code>${esc(row.scenario)}</code><div>${esc(row.title)}</div></td>
<td>${esc(row.closerDid)}${row.peerDid ? `<div class="meta">peer: ${esc(row.peerDid)}</div>` : ''}</td>
<td>${ladderSvg(row)}</td>
<td class="obs">${esc(observed)}<br>TIME_WAIT: ${esc(describeTimeWait(row.observed))}</td>
<td>${esc(row.expected ?? 'nothing claimed here')}${row.note ? `<div class="meta">${esc(row.note)}</div>` : ''}</td>
<td class="status ${row.status}">${status}${mismatches}</td>
</tr>`;
}

/** The whole report as one HTML document. */
export function formatHtml(report: LabReport): string {
  const shaped = report as Partial<LabReport> | null;
  if (typeof shaped !== 'object' || shaped === null || !Array.isArray(shaped.rows) || !Array.isArray(shaped.families) || typeof shaped.summary !== 'object' || !shaped.host) {
    throw invalidArgType('report', 'a lab report (runLab())', report);
  }
  const { pass, fail, notClaimed, total } = report.summary;
  const host = `${report.host.platform} ${report.host.release} ${report.host.arch}, Node ${report.host.node}`;
  const sections = report.families.map((family) => {
    const rows = report.rows.filter((r) => r.family === family);
    return `<h2>${esc(familyText(family, report.condition ?? null))}</h2>
<table>
<thead><tr><th>scenario</th><th>what the closer did</th><th>on the wire</th><th>what was observed</th><th>expected</th><th>result</th></tr></thead>
<tbody>
${rows.map(rowHtml).join('\n')}
</tbody>
</table>`;
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>net-linger lab: ${esc(report.platform)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>net-linger lab · judged against ${esc(report.platform)}</h1>
<p class="meta">${total} rows: ${pass} pass, ${fail} fail${notClaimed ? `, ${notClaimed} not claimed` : ''} · ${(report.durationMs / 1000).toFixed(1)} s on ${esc(host)} · ${esc(report.startedAt)} · net-linger ${esc(report.tool.version)}</p>
<p class="meta">Each ladder shows the connection's TCP segments as captured: the closer on the left, the peer on the right, time running down; ACK-only segments are left out and consecutive data from one side is one rung. <span style="color:${COLOURS.fin}">FIN</span> is blue, <span style="color:${COLOURS.rst}">RST</span> red.</p>
${sections.join('\n')}
</body>
</html>
`;
}
