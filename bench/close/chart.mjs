// A dependency-free SVG of the close benchmark: closes per second, and the longest the event
// loop was held (log scale, so a 2 s stall and a 2 ms turn fit on one axis).
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function closeChartSvg(rows, title) {
  const labelW = 300, barW = 360, gap = 40, rowH = 26, top = 60;
  const width = labelW + barW * 2 + gap + 40;
  const height = top + rows.length * rowH + 50;
  const maxRate = Math.max(...rows.map((r) => r.closesPerSecond));
  const blockMs = (r) => Math.max(r.longestCloseCallsMs, r.loopDelayMs.max);
  const logMin = -1, logMax = Math.max(4, Math.ceil(Math.log10(Math.max(...rows.map(blockMs)))));
  const logX = (ms) => ((Math.log10(Math.max(ms, 0.1)) - logMin) / (logMax - logMin)) * barW;
  const x2 = labelW + barW + gap;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${labelW}" y="${top - 12}" font-weight="bold">closes per second (higher is better)</text>`,
    `<text x="${x2}" y="${top - 12}" font-weight="bold">longest event-loop block, ms, log scale (lower is better)</text>`,
  ];
  for (let e = logMin; e <= logMax; e++) {
    const x = x2 + logX(10 ** e);
    parts.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${top + rows.length * rowH + 14}" text-anchor="middle" fill="#555">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(1)}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w1 = (r.closesPerSecond / maxRate) * (barW - 70); // room for the label
    const block = blockMs(r);
    const color = block > 100 ? '#c0392b' : '#2e86c1';
    parts.push(`<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.row)} (${r.connections.toLocaleString('en-US')})</text>`);
    parts.push(`<rect x="${labelW}" y="${y + 4}" width="${Math.max(w1, 1).toFixed(1)}" height="${rowH - 8}" fill="#2e86c1"/>`);
    parts.push(`<text x="${labelW + Math.max(w1, 1) + 4}" y="${y + 16}" fill="#222">${r.closesPerSecond < 10 ? r.closesPerSecond.toFixed(2) : Math.round(r.closesPerSecond).toLocaleString('en-US')}</text>`);
    parts.push(`<rect x="${x2}" y="${y + 4}" width="${Math.max(logX(block), 1).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`);
    parts.push(`<text x="${x2 + Math.max(logX(block), 1) + 4}" y="${y + 16}" fill="#222">${block.toFixed(1)}</text>`);
  });
  parts.push(`<text x="10" y="${height - 10}" fill="#555">Longest block = max(longest synchronous run of close calls, monitorEventLoopDelay max). Red: over 100 ms.</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
