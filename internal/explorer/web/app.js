// app.js: the explorer's pages. Each page is a plain URL served by the node
// (internal/explorer); this module reads the API and draws the page, and
// the overview stays live over the /v1/events stream.

import { h, s, dl, table, short, time, marked } from './dom.js';
import { get, escapeKey, loadTrust, forgetTrust, trustFromGenesis, trustWarning, ApiError } from './api.js';
import { verifyBlock, verifyParentLink, verifyTxProof, verifyKey, verifyAccount, verifyField, verifySearch, SEARCH_LIMITS, walkTrust, ed25519Verify, cryptoUnavailable, sha256, Report } from './verify.js';
import { hex, unhex, stringifyJSON, parseJSON, voteSignBytes } from './codec.js';

const main = document.getElementById('main');
let trustState = null; // {trust, warning}
let lastStatus = null; // the node's status the trust was compared with

function setTitle(t) { document.title = `${t} · Cairn explorer`; }

function render(...kids) {
  main.replaceChildren(...kids.flat(Infinity).filter(Boolean));
}

function errorBox(e) {
  const msg = e instanceof ApiError ? `${e.status ? e.status + ' ' : ''}${e.code}: ${e.message}` : String(e && e.message || e);
  return h('p', { class: 'error', role: 'alert' }, msg);
}

/** address derives an account address from a public key ('' where the page has no WebCrypto). */
async function address(pubHex) {
  try { return hex((await sha256(unhex(pubHex, 32))).subarray(0, 20)); } catch { return ''; }
}

// ---- trust --------------------------------------------------------------

async function initTrust(status) {
  lastStatus = status;
  trustState = await loadTrust(status);
  if (trustState.warning && status.chain_id === trustState.trust.chain_id) {
    // The node's set may differ because the set changed since the trusted
    // one: no warning when the changes walk from the trusted set to it.
    try {
      const walked = await walkTrust(get, trustState.trust, BigInt(status.height) + 1n);
      if (walked.hash === status.validators_hash) trustState.warning = '';
    } catch { /* the warning stands */ }
  }
  drawTrust();
}

function drawTrust() {
  const el = document.getElementById('trust');
  if (!el || !trustState) return;
  const t = trustState.trust;
  const file = h('input', { type: 'file', id: 'genesis-file', accept: '.json,application/json' });
  const msg = h('span', { role: 'status' });
  file.addEventListener('change', async () => {
    try {
      const f = file.files[0];
      const next = await trustFromGenesis(await f.text(), f.name);
      trustState = { trust: next, warning: trustWarning(lastStatus, next) };
      drawTrust();
    } catch (e) { msg.textContent = e.message; }
  });
  el.replaceChildren(
    h('details', null,
      h('summary', null, `Verifying against ${t.validators.length} validator${t.validators.length === 1 ? '' : 's'} of ${t.chain_id}`),
      h('p', null, `Source: ${t.source}. Validators hash `, short(t.hash), `; quorum ${t.quorum} of ${t.total}.`),
      h('p', null, h('label', { for: 'genesis-file' }, 'Use a genesis file you trust: '), file, ' ',
        h('button', { type: 'button', onclick: () => { forgetTrust(); location.reload(); } }, 'Pin this node’s set again'), ' ', msg)),
    trustState.warning ? h('strong', { class: 'warn', role: 'alert' }, `Warning: ${trustState.warning}.`) : '');
}

async function ensureTrust() {
  if (!trustState) await initTrust(await get('/v1/status'));
  const t = trustState.trust;
  if (!t.walk) {
    // Headers of heights under another validator set are checked against
    // that set, walked from the trusted one (verify.js walkTrust).
    const walked = new Map();
    t.walk = (height) => {
      const k = String(height);
      if (!walked.has(k)) walked.set(k, walkTrust(get, t, height));
      return walked.get(k);
    };
  }
  return t;
}

// ---- verify UI ----------------------------------------------------------

/** verifyButton returns a button and the region its report is drawn in. */
function verifyPanel(label, run, what) {
  const out = h('div', { id: 'report', class: 'report', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', id: 'verify', class: 'verify' }, label);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    out.replaceChildren(h('p', null, 'Verifying…'));
    out.removeAttribute('data-verdict');
    try {
      const trust = await ensureTrust();
      const why = await cryptoUnavailable();
      if (why) {
        const r = new Report(label);
        r.cannot = true;
        r.fail('SHA-256 and Ed25519 are available in this page', `${why}; nothing was verified`);
        drawReport(out, r, trust);
        return;
      }
      drawReport(out, await run(trust), trust);
    } catch (e) {
      const r = new Report(label);
      r.cannot = true;
      r.fail('could not verify', e.message);
      drawReport(out, r, trustState && trustState.trust);
    } finally {
      btn.disabled = false;
    }
  });
  return h('section', { class: 'verify-panel', 'aria-label': 'Verification' },
    h('p', null, btn, ' ', what || 'checks this page’s data in your browser: certificate signatures (Ed25519), header hash, Merkle and state proofs (SHA-256), against the trusted validator set.'),
    out);
}

function drawReport(out, r, trust) {
  const failed = r.failures.length;
  out.dataset.verdict = r.ok ? 'pass' : 'fail';
  out.replaceChildren(
    h('h3', { class: r.ok ? 'pass' : 'fail' }, r.ok ? `✓ Verified: ${r.title}` : r.cannot ? `✗ Not verified: ${r.title}` : `✗ FAILED: ${r.title}`),
    h('p', null, r.ok ? `All ${r.checks.length} checks passed.` : r.cannot ? 'The data could not be checked.' : `${failed} of ${r.checks.length} checks failed: this node served data the validators did not sign.`,
      trust ? ` Validator set: ${trust.source}.` : ''),
    h('ol', { class: 'checks' }, r.checks.map((c) => h('li', { class: c.ok ? 'pass' : 'fail' },
      h('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'),
      h('span', { class: 'sr' }, c.ok ? 'passed: ' : 'FAILED: '),
      c.what, c.detail ? h('span', { class: 'detail' }, ` — ${c.detail}`) : ''))),
    ...(r.notes || []).map((n) => h('p', { class: 'note' }, n)));
}

// ---- overview -----------------------------------------------------------

function sparkline(label, values, unit) {
  const w = 240, ht = 48;
  const vals = values.filter((v) => Number.isFinite(v));
  const max = Math.max(1e-9, ...vals);
  const pts = values.map((v, i) => `${values.length < 2 ? 0 : (i * w) / (values.length - 1)},${ht - 2 - ((Number.isFinite(v) ? v : 0) / max) * (ht - 4)}`).join(' ');
  const last = vals.length ? vals[vals.length - 1] : 0;
  const avg = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0;
  const text = `${label}: last ${fmt(last)} ${unit}, mean ${fmt(avg)} ${unit}, max ${fmt(vals.length ? max : 0)} ${unit} over ${vals.length} blocks`;
  return h('figure', { class: 'spark' },
    s('svg', { viewBox: `0 0 ${w} ${ht}`, width: w, height: ht, role: 'img', 'aria-label': text }, s('polyline', { points: pts, fill: 'none', 'stroke-width': '2' })),
    h('figcaption', null, text));
}
function fmt(x) { return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2); }

async function overview() {
  setTitle('Overview');
  const st = await get('/v1/status');
  await initTrust(st);
  const stats = h('div');
  const sparks = h('div', { class: 'sparks' });
  const valsBox = h('div');
  const live = h('p', { class: 'live', role: 'status', 'aria-live': 'polite' }, 'Connecting to the live block stream…');
  const blocksBox = h('div');
  const blocks = []; // newest last, at most 30
  const lastSigned = new Map(); // validator index -> height
  let latestSigners = new Set();
  let status = st;

  const drawStats = () => stats.replaceChildren(dl([
    ['Chain', h('code', null, status.chain_id)],
    ['Node', status.node],
    ['Height', status.height ? h('a', { href: `/blocks/${status.height}`, id: 'head-height' }, String(status.height)) : '0 (no block yet)'],
    ['Latest block', status.height ? short(status.latest_block_hash) : '—'],
    ['Latest block time', status.height ? time(status.latest_block_time) : '—'],
    ['State root', short(status.state_root)],
    ['Mempool', h('span', { id: 'mempool' }, `${status.mempool.txs} transaction${Number(status.mempool.txs) === 1 ? '' : 's'} pending, ${status.mempool.bytes} bytes`)],
    ['Consensus', `deciding height ${status.consensus.height}, round ${status.consensus.round}`],
    ['Peers', `${status.connected_peers} of ${status.peers.length} connected`],
    ['Search', status.search_enabled ? `indexed to height ${status.indexed_height} (lag ${status.index_lag})` : 'not enabled on this node'],
    ['Account listings', !status.accounts_indexed ? 'not indexed on this node' : BigInt(status.accounts_indexed_from) > 1n
      ? `complete from height ${status.accounts_indexed_from} (older blocks being indexed)` : 'indexed'],
  ]));
  const drawVals = () => valsBox.replaceChildren(table('Validators (genesis order) and their last signatures',
    ['#', 'Name', 'Public key', 'Power', 'Signed the latest block', 'Last signature seen'],
    status.validators.map((v, i) => [String(i), v.name, short(v.public_key), String(v.power),
      latestSigners.has(i) ? 'yes' : 'no',
      lastSigned.has(i) ? h('a', { href: `/blocks/${lastSigned.get(i)}` }, `height ${lastSigned.get(i)}`) : 'none in the recent blocks'])));
  const drawBlocks = () => {
    const times = [], rates = [];
    for (let i = 1; i < blocks.length; i++) {
      const dt = Number(blocks[i].time) - Number(blocks[i - 1].time);
      times.push(dt);
      rates.push(dt > 0 ? (Number(blocks[i].tx_count) * 1000) / dt : NaN);
    }
    sparks.replaceChildren(sparkline('Block time', times, 'ms'), sparkline('Transactions per second', rates, 'tx/s'));
    blocksBox.replaceChildren(table('Latest blocks', ['Height', 'Time', 'Transactions', 'Failed', 'Proposer', 'Hash'],
      blocks.slice().reverse().map((b) => [h('a', { href: `/blocks/${b.height}` }, String(b.height)), time(b.time), String(b.tx_count), String(b.failed_count), proposerName(b.proposer), short(b.hash)]),
      'No blocks yet: an idle chain makes no blocks; submit a transaction.'));
  };
  const proposerName = (pk) => { const v = status.validators.find((x) => x.public_key === pk); return v ? v.name : short(pk); };

  // Certificates of the latest blocks say who signed what.
  let fetching = false, want = 0;
  const fetchCert = async (height) => {
    want = Math.max(want, height);
    if (fetching) return;
    fetching = true;
    try {
      while (want) {
        const hgt = want; want = 0;
        const b = await get(`/v1/blocks/${hgt}`);
        latestSigners = new Set();
        for (const sg of b.certificate.signatures) {
          const i = Number(sg.validator_index);
          latestSigners.add(i);
          if (!lastSigned.has(i) || lastSigned.get(i) < hgt) lastSigned.set(i, hgt);
        }
        drawVals();
      }
    } catch { /* the table keeps what it had */ } finally { fetching = false; }
  };
  if (st.height) {
    const from = Math.max(1, Number(st.height) - 9);
    for (let hh = from; hh < Number(st.height); hh++) {
      try { for (const sg of (await get(`/v1/blocks/${hh}`)).certificate.signatures) lastSigned.set(Number(sg.validator_index), hh); } catch { break; }
    }
    fetchCert(Number(st.height));
  }

  render(h('h1', null, 'Chain overview'), stats, live,
    h('section', { 'aria-labelledby': 'h-activity' }, h('h2', { id: 'h-activity' }, 'Activity'), sparks),
    h('section', { 'aria-labelledby': 'h-vals' }, h('h2', { id: 'h-vals' }, 'Validators'), valsBox),
    h('section', { 'aria-labelledby': 'h-blocks' }, h('h2', { id: 'h-blocks' }, 'Blocks'), blocksBox));
  drawStats(); drawVals(); drawBlocks();

  let refreshing = false;
  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    try {
      const ns = await get('/v1/status');
      if (Number(ns.height) >= Number(status.height)) { status = ns; drawStats(); }
    } catch { /* keep the last status */ } finally { refreshing = false; }
  };
  const from = st.height ? Math.max(1, Number(st.height) - 29) : 1;
  const es = new EventSource(`/v1/events?txs=false&from=${from}`);
  es.addEventListener('open', () => { live.textContent = 'Live: new blocks appear as they are committed.'; });
  es.addEventListener('block', (ev) => {
    const b = parseJSON(ev.data);
    if (blocks.length && Number(blocks[blocks.length - 1].height) >= Number(b.height)) return;
    blocks.push(b);
    if (blocks.length > 30) blocks.shift();
    if (Number(b.height) > Number(status.height)) {
      status = { ...status, height: b.height, latest_block_hash: b.hash, latest_block_time: b.time, state_root: b.state_root };
      live.textContent = `Live: block ${b.height} committed with ${b.tx_count} transaction${b.tx_count === 1 ? '' : 's'}.`;
      drawStats();
      fetchCert(Number(b.height));
      refresh();
    }
    drawBlocks();
  });
  es.addEventListener('error', () => { live.textContent = 'Live stream interrupted; reconnecting…'; });
  setInterval(() => { if (!document.hidden) refresh(); }, 3000);
}

// ---- block --------------------------------------------------------------

function payloadSummary(tx) {
  if (!tx) return '';
  const p = tx.payload || {};
  switch (tx.type) {
    case 'transfer': return [`${p.amount} to `, h('a', { href: `/accounts/${p.to}` }, short(p.to))];
    case 'kv.put': return [h('a', { href: `/keys/${escapeKey(p.key)}` }, p.key), ' = ', h('q', null, clip(p.value)), p.expect_version !== undefined ? ` (if version ${p.expect_version})` : ''];
    case 'kv.delete': return ['delete ', h('a', { href: `/keys/${escapeKey(p.key)}` }, p.key), p.expect_version !== undefined ? ` (if version ${p.expect_version})` : ''];
    case 'record': return h('code', null, clip(stringifyJSON(p.document)));
    case 'blob.record': return [h('code', null, clip(stringifyJSON(p.document))), ` with ${p.blobs.length} blob${p.blobs.length === 1 ? '' : 's'}: `,
      ...p.blobs.flatMap((b, i) => [i ? ', ' : '', h('a', { href: `/v1/blobs/${b.hash}` }, short(b.hash)), ` (${b.size} bytes)`])];
    case 'field.open': return ['open field ', fieldLink(p.field_id), `: ${p.members.length} members, deposits ${p.members.map((m) => m.deposit).join(' + ')}; challenge period ${p.challenge_period} blocks, expiry at height ${p.expiry}, penalty ${p.penalty}`];
    case 'field.close_unilateral': return ['close field ', fieldLink(p.field_id), ' unilaterally', claimText(p)];
    case 'field.challenge': return ['challenge the close of field ', fieldLink(p.field_id), ' with', claimText(p)];
    case 'field.close': return ['close field ', fieldLink(p.field_id), ' cooperatively', claimText(p)];
    case 'field.dispute': {
      const y = p.payment;
      return ['dispute the balances of field ', fieldLink(p.field_id), `: payment ${y.seq} (member ${y.from} pays member ${y.to} ${y.amount}) leaves balances ${y.balances.join(', ')}; proof of leaf ${p.proof.index} of ${p.proof.size}`];
    }
    case 'contract.deploy': return [`deploy ${Math.floor(p.code.length * 3 / 4)} bytes of contract code`];
    case 'contract.instantiate': return [`instantiate contract ${p.name} of code `, short(p.code_hash), `, owner `, h('a', { href: `/accounts/${p.owner}` }, short(p.owner)), `, gas limit ${p.gas_limit}`];
    case 'contract.invoke': return [`call ${p.name}.${p.function}`, p.funds ? ` with ${p.funds} tokens` : '', `, gas limit ${p.gas_limit}`];
    case 'contract.upgrade': return [`upgrade contract ${p.name} to code `, short(p.code_hash)];
    case 'role.grant': return ['grant role ', h('code', null, p.role), ' to ', h('a', { href: `/accounts/${p.address}` }, short(p.address)), ` (${p.approvals.length} approvals besides the sender's)`];
    case 'role.revoke': return ['revoke role ', h('code', null, p.role), ' from ', h('a', { href: `/accounts/${p.address}` }, short(p.address)), ` (${p.approvals.length} approvals besides the sender's)`];
    default: return '';
  }
}
function fieldLink(id) { return h('a', { href: `/fields/${id}` }, short(id)); }
function claimText(p) { return [` at state ${p.state}: balances ${p.balances.join(', ')}, payment root `, short(p.root), `, ${p.signatures.length} member signatures`]; }
function clip(x, n = 80) { x = String(x); return x.length > n ? `${x.slice(0, n)}…` : x; }

function receiptCell(r) {
  if (!r) return '';
  const gas = r.contract ? `, gas ${r.contract.gas_used}${r.contract.events.length ? `, events ${r.contract.events.map((e) => e.name).join(' ')}` : ''}` : '';
  if (r.ok) return h('span', { class: 'ok' }, r.version ? `ok, version ${r.version}` : 'ok', gas);
  return h('span', { class: 'failed' }, `failed: ${r.code}`, r.reason ? ` (${r.reason})` : '', gas);
}

async function blockPage(height) {
  setTitle(`Block ${height}`);
  const b = await get(`/v1/blocks/${encodeURIComponent(height)}?decode=true`);
  setTitle(`Block ${b.height}`);
  const st = await get('/v1/status');
  await initTrust(st);
  const hd = b.header;
  const name = (pk) => { const v = st.validators.find((x) => x.public_key === pk); return v ? `${v.name} (${pk.slice(0, 10)}…)` : pk; };
  const senders = await Promise.all(b.txs.map((t) => (t.tx ? address(t.tx.sender) : '')));
  const signed = new Set(b.certificate.signatures.map((x) => Number(x.validator_index)));
  const hNum = Number(b.height);
  render(
    h('h1', null, `Block ${b.height}`),
    h('nav', { class: 'pager', 'aria-label': 'Neighbouring blocks' },
      hNum > 1 ? h('a', { href: `/blocks/${hNum - 1}`, rel: 'prev' }, `← Block ${hNum - 1}`) : '',
      Number(st.height) > hNum ? h('a', { href: `/blocks/${hNum + 1}`, rel: 'next' }, `Block ${hNum + 1} →`) : ''),
    verifyPanel(`Verify block ${b.height}`, async (trust) => {
      const r = await verifyBlock(b, trust);
      if (r.header) await verifyParentLink(r, r.header, r.header.height > 1n ? await get(`/v1/blocks/${r.header.height - 1n}`) : null);
      return r;
    }),
    h('h2', null, 'Header'),
    dl([
      ['Hash', h('code', { class: 'wrap' }, b.hash)],
      ['Chain', hd.chain_id], ['Height', String(hd.height)], ['Round', String(hd.round)], ['Time', time(hd.time)],
      ['Proposer', name(hd.proposer)],
      ['Parent', hNum > 1 ? h('a', { href: `/blocks/${hNum - 1}` }, h('code', { class: 'wrap' }, hd.parent_hash)) : h('code', null, hd.parent_hash)],
      ['Transactions', String(hd.tx_count)],
      ['Tx root', h('code', { class: 'wrap' }, hd.tx_root)], ['Results root', h('code', { class: 'wrap' }, hd.results_root)],
      ['State root', h('code', { class: 'wrap' }, hd.state_root)], ['Validators hash', h('code', { class: 'wrap' }, hd.validators_hash)],
    ]),
    h('h2', null, 'Transactions and receipts'),
    table(`Transactions of block ${b.height}`, ['#', 'Hash', 'Type', 'Sender', 'Nonce', 'Payload', 'Receipt'],
      b.txs.map((t, i) => [String(i), h('a', { href: `/txs/${t.hash}` }, short(t.hash)), t.tx ? t.tx.type : '',
        senders[i] ? h('a', { href: `/accounts/${senders[i]}` }, short(senders[i])) : '', t.tx ? String(t.tx.nonce) : '',
        payloadSummary(t.tx), receiptCell(b.receipts[i])]), 'No transactions.'),
    h('h2', null, 'Commit certificate'),
    h('p', null, `Round ${b.certificate.round}; ${b.certificate.signatures.length} of ${st.validators.length} validators signed the precommit of this block.`),
    table('Certificate signatures', ['Index', 'Validator', 'Public key', 'Signature'],
      b.certificate.signatures.map((x) => [String(x.validator_index), x.validator, short(x.public_key), short(x.signature, 16)])),
    st.validators.some((_, i) => !signed.has(i)) ? h('p', null, 'Did not sign (not needed once a quorum did): ', st.validators.filter((_, i) => !signed.has(i)).map((v) => v.name).join(', '), '.') : '',
  );
}

// ---- transaction --------------------------------------------------------

async function txPage(hash) {
  setTitle(`Transaction ${hash.slice(0, 10)}`);
  let t;
  // The proved answer (a pending one comes without proofs), so Verify checks exactly what the page shows.
  try { t = await get(`/v1/txs/${encodeURIComponent(hash)}?prove=true`); } catch (e) {
    if (e instanceof ApiError && e.status === 404) { render(h('h1', null, 'Transaction'), h('p', null, `No transaction ${hash} is pending on this node or committed.`)); return; }
    throw e;
  }
  const tx = t.tx;
  const from = await address(tx.sender);
  const committed = t.status === 'committed' || t.status === 'failed';
  render(
    h('h1', null, 'Transaction'),
    h('p', { class: `status ${t.status}` }, `Status: ${t.status}`),
    committed ? verifyPanel('Verify transaction', (trust) => verifyTxProof(t, hash.toLowerCase(), trust),
      'checks in your browser that this transaction is in the certified block and what its receipt says: the certificate signatures (Ed25519), the header hash, the transaction’s and the receipt’s Merkle proofs (SHA-256), against the trusted validator set. The outcome comes from the receipt’s bytes, not from the status shown.')
      : h('p', null, 'Pending transactions carry no proof yet; verify after commit.'),
    dl([
      ['Hash', h('code', { class: 'wrap' }, t.hash)],
      committed && ['Block', h('a', { href: `/blocks/${t.height}` }, `height ${t.height}`), `, position ${t.index}`],
      committed && ['Receipt', receiptCell(t.receipt)],
      ['Type', tx.type], ['Chain', tx.chain_id],
      ['Sender', from ? [h('a', { href: `/accounts/${from}` }, h('code', null, from)), ' (key ', short(tx.sender), ')'] : ['key ', short(tx.sender)]],
      ['Nonce', String(tx.nonce)], ['Timestamp', time(tx.timestamp)],
      ['Payload', payloadSummary(tx)],
    ]),
    h('h2', null, 'Payload'),
    h('pre', { class: 'json', tabindex: '0' }, stringifyJSON(tx.payload, 2)),
    committed ? [
      h('h2', null, 'Inclusion proof'),
      h('p', null, `RFC 6962 audit path of leaf ${t.proof.index} in a tree of ${t.proof.size} leaves, against tx root `, short(t.tx_root), '.'),
      t.proof.path.length ? h('ol', { class: 'path' }, t.proof.path.map((p) => h('li', null, h('code', null, p)))) : h('p', null, 'The path is empty: the transaction is the only one in its block.'),
      t.receipt_proof ? [
        h('h2', null, 'Receipt proof'),
        h('p', null, `RFC 6962 audit path of the receipt’s result hash (the receipt bytes without the reason), leaf ${t.receipt_proof.index} of ${t.receipt_proof.size}, against results root `, short(t.header.results_root), '.'),
        t.receipt_proof.path.length ? h('ol', { class: 'path', 'aria-label': 'Receipt proof path' }, t.receipt_proof.path.map((p) => h('li', null, h('code', null, p)))) : '',
        h('details', null, h('summary', null, 'Receipt bytes'), h('pre', { class: 'wrap', tabindex: '0' }, t.receipt_bytes_hex)),
      ] : '',
    ] : '',
    h('details', null, h('summary', null, 'Canonical bytes'), h('pre', { class: 'wrap', tabindex: '0' }, t.tx_bytes_hex)),
  );
}

// ---- account ------------------------------------------------------------

async function accountPage(addr) {
  setTitle(`Account ${addr.slice(0, 10)}`);
  // The proved answer, so Verify checks exactly the balance and nonce shown.
  const a = await get(`/v1/accounts/${encodeURIComponent(addr)}?prove=true`);
  const rows = h('div');
  const more = h('p');
  const list = [];
  const load = async (cursor) => {
    let page;
    try {
      page = await get(`/v1/accounts/${encodeURIComponent(addr)}/txs?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    } catch (e) {
      // A validator keeps no account index: link to the same page on the
      // nodes it names (every node serves the explorer).
      const ask = e instanceof ApiError && e.code === 'wrong_node' ? e.ask.filter((u) => /^https?:\/\//.test(u)) : [];
      more.replaceChildren(ask.length ? h('span', { id: 'ask' }, 'This node does not index accounts; their transactions are listed on ',
        ask.map((u, i) => [i ? ' or ' : '', h('a', { href: `${u.replace(/\/+$/, '')}/accounts/${addr}` }, u)]), '.') : errorBox(e));
      return;
    }
    list.push(...page.txs);
    rows.replaceChildren(table('Transactions, newest first', ['Height', '#', 'Hash', 'Type', 'Sender', 'Nonce', 'Outcome'],
      list.map((x) => [h('a', { href: `/blocks/${x.height}` }, String(x.height)), String(x.index), h('a', { href: `/txs/${x.hash}` }, short(x.hash)), x.type,
        short(x.sender), String(x.nonce), receiptCell(x)]), 'No committed transactions involve this account.'));
    more.replaceChildren(page.next_cursor ? h('button', { type: 'button', onclick: () => load(page.next_cursor) }, 'Older transactions') : '');
  };
  render(h('h1', null, 'Account'),
    dl([['Address', h('code', { class: 'wrap' }, a.address)], ['Balance', h('span', { id: 'balance' }, String(a.balance))], ['Nonce', `${a.nonce} (the next transaction uses ${BigInt(a.nonce) + 1n})`], ['At height', String(a.height)],
      ['In the state', a.found ? 'yes' : 'no: this address was never seen (no transfer to it, no transaction from it)']]),
    verifyPanel('Verify account', (trust) => verifyAccount(a, addr.toLowerCase(), trust),
      a.found ? 'checks in your browser that the certified state at this height holds this balance and nonce: the certificate signatures (Ed25519), the header hash and the state proof (SHA-256), against the trusted validator set.'
        : 'checks in your browser that the certified state at this height holds nothing for this address (a proof of absence), against the trusted validator set.'),
    h('h2', null, 'Transactions'),
    h('p', null, 'This list is the node’s own index and is not proven; each transaction verifies on its page.'),
    rows, more);
  await load('');
}

// ---- payment field ------------------------------------------------------

const STATUS_TEXT = {
  open: 'open: members pay each other off chain',
  closing: 'closing: a close is pending, open to challenges and disputes until its deadline',
  settled: 'settled: the deposits were paid out',
};
const KIND_TEXT = {
  cooperative: 'cooperative (every member signed the balances)',
  unilateral: 'unilateral (one member\'s claim about a co-signed state)',
  challenge: 'challenge (a later co-signed state replaced a stale close)',
  expiry: 'expiry (no close by the expiry height: state 0, the deposits)',
  dispute: 'dispute (a proven payment corrected the balances)',
};
const PENALTY_TEXT = { stale_state: 'closed with a stale state', wrong_balances: 'claimed wrong balances' };

async function fieldPage(id) {
  setTitle(`Field ${id.slice(0, 10)}`);
  const asked = new URLSearchParams(location.search).get('height') || '';
  let r;
  try { r = await get(`/v1/fields/${encodeURIComponent(id)}${asked ? `?height=${encodeURIComponent(asked)}` : ''}`); } catch (e) {
    if (e instanceof ApiError && e.status === 404) { render(h('h1', null, 'Payment field'), h('p', null, `No field ${id} exists${asked ? ` at height ${asked}` : ''}: ${e.message}`)); return; }
    throw e;
  }
  const st = await get('/v1/status');
  await initTrust(st);
  const f = r.field;
  const addrs = await Promise.all(f.members.map((m) => address(m.key)));
  const who = (i) => {
    const n = Number(i);
    if (n === 65535) return 'none (no member answers for it)';
    const m = f.members[n];
    return m ? [`member ${n} `, addrs[n] ? h('a', { href: `/accounts/${addrs[n]}` }, short(addrs[n])) : short(m.key)] : `member ${n} (not in the field)`;
  };
  const hNum = Number(r.height);
  const at = (x) => `/fields/${f.field_id}?height=${x}`;
  const p = f.pending;
  render(
    h('h1', null, 'Payment field'),
    h('nav', { class: 'pager', 'aria-label': 'The field at other heights' },
      hNum > Number(f.opened_at) ? h('a', { href: at(hNum - 1), rel: 'prev' }, `← At height ${hNum - 1}`) : '',
      Number(st.height) > hNum ? h('a', { href: at(hNum + 1), rel: 'next' }, `At height ${hNum + 1} →`) : '',
      asked ? h('a', { href: `/fields/${f.field_id}` }, 'Latest') : ''),
    dl([
      ['Field id', h('code', { class: 'wrap' }, f.field_id)],
      ['Status', h('span', { id: 'field-status' }, STATUS_TEXT[f.status] || f.status)],
      ['As of height', h('a', { href: `/blocks/${r.height}` }, String(r.height))],
      ['Leader', (() => { const i = f.members.findIndex((m) => m.key === f.leader); return i >= 0 ? who(i) : short(f.leader); })()],
      ['Opened', [h('a', { href: `/blocks/${f.opened_at}` }, `height ${f.opened_at}`), ' by ', h('a', { href: `/txs/${f.open_tx}` }, short(f.open_tx))]],
      ['Total deposits', String(r.total_deposits)],
      ['Challenge period', `${f.challenge_period} blocks`],
      ['Expiry', `height ${f.expiry} (the last height a close may be submitted)`],
      ['Penalty', `${f.penalty} (paid by a member whose close is proven stale or wrong)`],
      ['Deadline', Number(r.deadline) ? `height ${r.deadline} (${f.status === 'open' ? 'the expiry' : 'the last height for challenges and disputes'})` : 'none: settled'],
      f.status !== 'settled' && ['Next chain step', `at the start of height ${f.due}`],
      f.settled_at !== undefined && ['Settled at', h('a', { href: `/blocks/${f.settled_at}` }, `height ${f.settled_at}`)],
    ]),
    verifyPanel('Verify field', (trust) => verifyField(r, id.toLowerCase(), trust, asked || undefined),
      'checks in your browser that the certified state at this height holds exactly this field entry (terms, members, status, pending close, penalties, payout): the certificate signatures (Ed25519), the header hash and the state proof of the entry (SHA-256), against the trusted validator set.'),
    h('h2', null, 'Members'),
    table('Members, deposits and balances (member order)', ['#', 'Account', 'Public key', 'Deposit', p ? `Balance claimed at state ${p.state}` : null, f.final ? 'Paid out' : null].filter(Boolean),
      f.members.map((m, i) => [String(i), addrs[i] ? h('a', { href: `/accounts/${addrs[i]}` }, short(addrs[i])) : '', short(m.key), String(m.deposit),
        p ? String(p.balances[i] ?? '—') : null, f.final ? h('span', { class: 'payout' }, String(f.final[i] ?? '—')) : null].filter((x) => x !== null))),
    h('h2', null, f.status === 'settled' ? 'The close it settled by' : 'Pending close'),
    p ? dl([
      ['Kind', KIND_TEXT[p.kind] || p.kind],
      ['State', `${p.state} (payments 1..${p.state} of the off-chain log)`],
      ['Payment root', h('code', { class: 'wrap' }, p.root)],
      ['Balances', p.balances.join(', ')],
      ['Answerable', who(p.submitter)],
      ['Recorded', [h('a', { href: `/blocks/${p.height}` }, `height ${p.height}`), /[^0]/.test(p.tx_hash) ? [' by ', h('a', { href: `/txs/${p.tx_hash}` }, short(p.tx_hash))] : ' (by the chain)']],
      ['Deadline', `height ${p.deadline}`],
    ]) : h('p', null, 'None: no close has been submitted.'),
    h('h2', null, 'Penalties'),
    table('Penalties owed (paid at settlement, capped at the payer\'s final balance)', ['From', 'To', 'Amount', 'Reason'],
      f.penalties.map((x) => [who(x.from), who(x.to), String(x.amount), PENALTY_TEXT[x.reason] || x.reason]), 'None.'),
    h('h2', null, 'State proof'),
    dl([['State key', h('code', null, r.state_key_hex)], ['State root', h('code', { class: 'wrap' }, r.header.state_root)], ['Siblings', `${r.proof.siblings.length} (root side first)`]]),
    h('details', null, h('summary', null, 'Entry bytes'), h('pre', { class: 'wrap', tabindex: '0' }, r.value_hex)),
  );
}

// ---- key ----------------------------------------------------------------

async function keyPage(key) {
  setTitle(`Key ${key}`);
  // The value shown is the proved entry, so Verify checks exactly what the page shows.
  const p = await get(`/v1/kv/${escapeKey(key)}?prove=true`);
  const e = p.found ? p.entry : null;
  const rows = h('div');
  const more = h('p');
  const versions = [];
  const load = async (cursor) => {
    let page;
    try {
      page = await get(`/v1/kv/${escapeKey(key)}/history?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) { rows.replaceChildren(h('p', null, 'This key was never written.')); return; }
      throw err;
    }
    versions.push(...page.versions);
    rows.replaceChildren(table('Every version, oldest first', ['Version', 'Height', 'Transaction', 'Value'],
      versions.map((v) => [String(v.version), h('a', { href: `/blocks/${v.height}` }, String(v.height)), h('a', { href: `/txs/${v.tx_hash}` }, short(v.tx_hash)),
        v.deleted ? h('em', null, 'deleted') : h('q', null, clip(v.value, 200))])));
    more.replaceChildren(page.next_cursor ? h('button', { type: 'button', onclick: () => load(page.next_cursor) }, 'Later versions') : '');
  };
  const proofBox = h('div');
  drawProof(proofBox, p);
  render(h('h1', null, 'Key ', h('code', null, key)),
    e && !e.deleted ? dl([['Value', h('pre', { class: 'json', tabindex: '0' }, e.value)], ['Version', String(e.version)],
      ['Written at', h('a', { href: `/blocks/${e.height}` }, `height ${e.height}`)],
      ['By', h('a', { href: `/txs/${e.tx_hash}` }, short(e.tx_hash))], ['As of height', String(p.height)]])
      : h('p', null, e ? `The key was deleted (version ${e.version}, at height ${e.height}); as of height ${p.height} it has no value.` : `The key has no value as of height ${p.height}.`),
    verifyPanel(`Verify key ${key}`, (trust) => verifyKey(p, key, trust)),
    h('h2', null, 'State proof'), proofBox,
    h('h2', null, 'History'),
    h('p', null, 'The versions below are the node’s record of the key’s writes; the proof covers the latest one. Each links to the block and transaction that wrote it, which verify on their pages.'),
    rows, more);
  await load('');
}

function drawProof(box, p) {
  box.replaceChildren(dl([
    ['Proves', p.found ? (p.entry.deleted ? `version ${p.entry.version}: deleted` : `version ${p.entry.version}`) : 'absence'],
    ['At height', String(p.height)], ['State root', h('code', { class: 'wrap' }, p.header.state_root)],
    ['State key', h('code', null, p.state_key_hex)],
    ['Siblings', `${p.proof.siblings.length} (root side first)`],
  ]), h('details', null, h('summary', null, 'Proof siblings'), h('ol', { class: 'path' }, p.proof.siblings.map((x) => h('li', null, h('code', null, x))))));
}

// ---- search -------------------------------------------------------------

const EXAMPLES = ['type:transfer amount:>=100', 'status:failed', 'key:user/*', '"insufficient balance" -type:block', 'type:block tx_count:>0'];

async function searchPage(q) {
  setTitle(q ? `Search ${q}` : 'Search');
  document.getElementById('q').value = q;
  const jump = [];
  if (/^\d+$/.test(q)) jump.push(h('a', { href: `/blocks/${q}` }, `Block ${q}`));
  if (/^[0-9a-fA-F]{64}$/.test(q)) jump.push(h('a', { href: `/txs/${q.toLowerCase()}` }, 'Transaction with this hash'), h('a', { href: `/fields/${q.toLowerCase()}` }, 'Payment field with this id'));
  if (/^[0-9a-fA-F]{40}$/.test(q)) jump.push(h('a', { href: `/accounts/${q.toLowerCase()}` }, 'Account with this address'));
  if (q && !/\s|:/.test(q)) jump.push(h('a', { href: `/keys/${escapeKey(q)}` }, `Key “${q}”`));
  const results = h('div', { id: 'results', 'aria-live': 'polite' });
  const more = h('p');
  const hits = [];
  const headers = new Map(); // height -> the certified header served with the hits at it
  let total = 0;
  const panel = q ? verifyPanel('Verify hits', async (trust) => {
    const r = await verifySearch({ hits, headers: [...headers.values()].sort((a, b) => Number(a.height) - Number(b.height)) }, trust);
    r.notes = []; // what search proofs cannot show is stated on the page, next to the button
    return r;
  },
    'checks in your browser that every hit listed is a committed transaction (or block) with the status, type and time shown: each height’s certificate signatures (Ed25519) and header hash, each transaction’s and receipt’s Merkle proofs (SHA-256), against the trusted validator set.') : '';
  render(h('h1', null, 'Search'),
    jump.length ? h('p', null, 'Go to: ', jump.map((a, i) => [i ? ' · ' : '', a])) : '',
    results, more,
    q ? [panel, h('p', { class: 'note', id: 'search-limits' }, SEARCH_LIMITS)] : '',
    h('details', { class: 'help' }, h('summary', null, 'Query language'),
      h('p', null, 'Words search text fields; ', h('code', null, 'field:value'), ' matches a field; ', h('code', null, 'amount:>100'), ', ', h('code', null, 'amount:5..10'), ' compare numbers; ',
        h('code', null, 'AND OR NOT -'), ' and parentheses combine; ', h('code', null, 'key:prefix/*'), ' matches a prefix. Fields: hash, type, from, to, address, sender, amount, key, value, nonce, height, index, time, status, code, reason, version, proposer, tx_count, doc.<path>.'),
      h('ul', null, EXAMPLES.map((x) => h('li', null, h('a', { href: `/search?q=${encodeURIComponent(x)}` }, h('code', null, x)))))));
  if (!q) { results.replaceChildren(h('p', null, 'Type a query above.')); return; }
  const load = async (cursor) => {
    let r;
    try {
      r = await get(`/v1/search?q=${encodeURIComponent(q)}&limit=20&prove=true${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    } catch (e) { results.replaceChildren(errorBox(e)); return; }
    hits.push(...r.hits);
    for (const x of r.headers || []) if (!headers.has(String(x.height))) headers.set(String(x.height), x);
    total = r.total;
    const out = panel && panel.querySelector('#report');
    if (out && out.dataset.verdict) { out.replaceChildren(h('p', null, 'More hits were loaded: verify again.')); out.removeAttribute('data-verdict'); }
    results.replaceChildren(h('p', { id: 'total' }, `${total} match${total === 1 ? '' : 'es'} (index at height ${r.indexed_height}, ${r.took_ms} ms)`),
      table('Search results', ['What', 'Height', 'Time', 'Status', 'Match'],
        hits.map((x) => [x.type === 'block' ? h('a', { href: `/blocks/${x.height}` }, `block ${x.height}`) : [h('a', { href: `/txs/${x.hash}` }, short(x.hash)), ` ${x.type}`],
          String(x.height), x.time.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'), x.status ? (x.code ? `${x.status}: ${x.code}` : x.status) : '', marked(x.snippet)]),
        'Nothing matches.'));
    more.replaceChildren(r.next_cursor ? h('button', { type: 'button', onclick: () => load(r.next_cursor) }, 'More results') : '');
  };
  await load('');
}

// ---- evidence -----------------------------------------------------------

async function evidencePage() {
  setTitle('Evidence');
  const ev = (await get('/v1/evidence')).evidence;
  const st = await get('/v1/status');
  await initTrust(st);
  const rows = ev.map((e, i) => {
    const cell = h('span', null, h('button', { type: 'button', onclick: async () => {
      const trust = await ensureTrust();
      const r = await verifyEvidence(e, trust);
      cell.replaceChildren(h('span', { class: r.ok ? 'ok' : 'failed' }, r.ok ? '✓ both signatures verify under the trusted key' : `✗ ${r.failures.map((f) => `${f.what}${f.detail ? ': ' + f.detail : ''}`).join('; ')}`));
    } }, `Check #${i}`));
    return [e.validator, short(e.public_key), e.type, h('a', { href: `/blocks/${e.height}` }, String(e.height)), String(e.round),
      h('ul', null, e.votes.map((v) => h('li', null, 'block ', short(v.block_hash), ', signature ', short(v.signature)))), cell];
  });
  render(h('h1', null, 'Evidence'),
    h('p', null, 'Equivocation this validator holds: a validator that signed two different votes (or, as proposer, two proposals) for one height and round.'),
    table('Equivocation evidence', ['Validator', 'Public key', 'Kind', 'Height', 'Round', 'Signed messages', 'Check'], rows, 'No evidence: no validator has been seen equivocating.'));
}

/** verifyEvidence checks both signed messages of one piece of evidence. */
export async function verifyEvidence(e, trust) {
  const r = new Report(`Evidence against ${e.validator}`);
  const v = trust.validators.find((x) => x.public_key === e.public_key);
  r.add(!!v, 'the accused is a trusted validator', e.validator);
  if (!v) return r;
  const sb = e.votes.map((x) => x.sign_bytes_hex);
  r.add(sb.length === 2 && sb[0] !== sb[1], 'the two signed messages differ', '');
  const voteType = { prevote: 1, precommit: 2 }[e.type];
  if (voteType) {
    // Each must be this chain's vote of that type, height and round for the block it names.
    const ok = e.votes.every((x) => x.sign_bytes_hex === hex(voteSignBytes(trust.chain_id, voteType, BigInt(e.height), BigInt(e.round), x.block_hash)));
    r.add(ok, `both are ${e.type}s of this chain for height ${e.height}, round ${e.round}`, '');
  }
  for (const [i, x] of e.votes.entries()) {
    let ok = false;
    try { ok = await ed25519Verify(v.public_key, unhex(x.sign_bytes_hex), x.signature); } catch { ok = false; }
    r.add(ok, `signature ${i + 1} verifies`, '');
  }
  return r;
}

// ---- API reference ------------------------------------------------------

async function apiPage() {
  setTitle('API reference');
  const doc = await get('/v1/openapi.json');
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
      ops.push({ path, method, op, params: [...(item.parameters || []), ...(op.parameters || [])] });
    }
  }
  const id = (o) => `op-${o.method}-${o.path.replace(/[^a-z0-9]+/gi, '-')}`;
  render(h('h1', null, doc.info ? `${doc.info.title} ${doc.info.version}` : 'API reference'),
    doc.info && doc.info.description ? h('p', { class: 'prose' }, doc.info.description) : '',
    h('p', null, 'The machine-readable document: ', h('a', { href: '/v1/openapi.json' }, '/v1/openapi.json'), ` (OpenAPI ${doc.openapi}).`),
    h('nav', { 'aria-label': 'Operations' }, h('ul', { class: 'ops' }, ops.map((o) => h('li', null, h('a', { href: `#${id(o)}` }, h('code', null, `${o.method.toUpperCase()} ${o.path}`)))))),
    ops.map((o) => h('section', { id: id(o), class: 'op' },
      h('h2', null, h('code', null, `${o.method.toUpperCase()} ${o.path}`)),
      o.op.summary ? h('p', null, h('strong', null, o.op.summary)) : '',
      o.op.description ? h('p', { class: 'prose' }, o.op.description) : '',
      o.params.length ? table('Parameters', ['Name', 'In', 'Required', 'Type', 'Description'],
        o.params.map((p) => { p = deref(doc, p); return [h('code', null, p.name), p.in, p.required ? 'yes' : 'no', schemaName(doc, p.schema), p.description || '']; })) : '',
      o.op.requestBody ? h('p', null, 'Body: ', Object.entries(deref(doc, o.op.requestBody).content || {}).map(([ct, m], i) => [i ? ', ' : '', ct, ' ', schemaLink(m.schema)])) : '',
      table('Responses', ['Status', 'Description', 'Body'], Object.entries(o.op.responses || {}).map(([code, r]) => {
        const resp = deref(doc, r);
        return [code, resp.description || '', Object.entries(resp.content || {}).map(([ct, m], i) => [i ? ', ' : '', ct, ' ', schemaLink(m.schema)])];
      })))),
    h('h2', null, 'Schemas'),
    Object.entries((doc.components && doc.components.schemas) || {}).map(([name, sc]) => h('details', { id: `schema-${name}` },
      h('summary', null, h('code', null, name), sc.description ? ` — ${clip(sc.description, 100)}` : ''),
      h('pre', { class: 'json', tabindex: '0' }, stringifyJSON(sc, 2)))));
}

/** schemaLink links a $ref schema to its entry in the page's schema list. */
function schemaLink(sc) {
  if (!sc) return '';
  if (sc.$ref) { const n = sc.$ref.split('/').pop(); return h('a', { href: `#schema-${n}` }, n); }
  if (sc.type === 'array' && sc.items) return ['array of ', schemaLink(sc.items)];
  if (sc.oneOf) return ['one of ', sc.oneOf.map((x, i) => [i ? ', ' : '', schemaLink(x)])];
  return sc.type ? String(sc.type) : '';
}

// Opening a schema's anchor opens its details.
window.addEventListener('hashchange', () => {
  const el = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (el && el.tagName === 'DETAILS') el.open = true;
});

function deref(doc, x) {
  for (let i = 0; x && x.$ref && i < 10; i++) {
    x = x.$ref.replace(/^#\//, '').split('/').reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return x || {};
}
function schemaName(doc, sc) {
  if (!sc) return '';
  if (sc.$ref) return sc.$ref.split('/').pop();
  return sc.type ? String(sc.type) + (sc.enum ? ` (${sc.enum.join(', ')})` : '') : '';
}

// ---- router -------------------------------------------------------------

async function route() {
  const p = location.pathname;
  try {
    const seg = p.split('/').filter(Boolean).map(decodeURIComponent);
    if (p === '/') return await overview();
    if (seg[0] === 'blocks' && seg.length === 2) return await blockPage(seg[1]);
    if (seg[0] === 'txs' && seg.length === 2) return await txPage(seg[1]);
    if (seg[0] === 'accounts' && seg.length === 2) return await accountPage(seg[1]);
    if (seg[0] === 'keys' && seg.length === 2) return await keyPage(seg[1]);
    if (seg[0] === 'fields' && seg.length === 2) return await fieldPage(seg[1]);
    if (seg[0] === 'search') return await searchPage(new URLSearchParams(location.search).get('q') || '');
    if (seg[0] === 'evidence') return await evidencePage();
    if (seg[0] === 'api') return await apiPage();
    render(h('h1', null, 'Not found'), h('p', null, 'No such page.'));
  } catch (e) {
    render(h('h1', null, 'Could not load this page'), errorBox(e));
  } finally {
    document.body.dataset.ready = 'true';
    if (!trustState) get('/v1/status').then(initTrust).catch(() => {});
  }
}

route();
