// dom.js: small helpers to build the explorer's DOM. Text is always set as
// text, never parsed as HTML.

/** h builds an element: h('a', {href: '/'}, 'text', child, ...). */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

const SVG = 'http://www.w3.org/2000/svg';
/** s builds an SVG element. */
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k);
  return el;
}

/** dl renders [term, value] pairs as a description list. */
export function dl(pairs) {
  return h('dl', { class: 'fields' }, pairs.filter(Boolean).map(([t, v]) => [h('dt', null, t), h('dd', null, v)]));
}

/** table renders a table with a caption, header cells and rows of cells. */
export function table(caption, heads, rows, empty = 'None.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', null,
      h('caption', null, caption),
      h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c)))))));
}

/** short abbreviates a long hex string, keeping the whole in a title. */
export function short(x, n = 10) {
  x = String(x ?? '');
  if (x.length <= n + 6) return h('code', null, x);
  return h('code', { title: x }, `${x.slice(0, n)}…${x.slice(-4)}`);
}

/** time renders Unix milliseconds as a <time> element in UTC. */
export function time(ms) {
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return String(ms);
  const iso = d.toISOString();
  return h('time', { datetime: iso }, `${iso.slice(0, 19).replace('T', ' ')} UTC`);
}

/**
 * marked renders a search snippet: the node's HTML is parsed inert and only
 * its text and <mark> elements are kept, so a snippet can highlight but
 * never inject markup.
 */
export function marked(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  const out = h('span', { class: 'snippet' });
  const walk = (node, into) => {
    for (const c of node.childNodes) {
      if (c.nodeType === Node.TEXT_NODE) into.append(c.textContent);
      else if (c.nodeType === Node.ELEMENT_NODE && c.tagName === 'MARK') { const m = h('mark'); walk(c, m); into.append(m); }
      else if (c.nodeType === Node.ELEMENT_NODE) walk(c, into);
    }
  };
  walk(doc.body, out);
  return out;
}
