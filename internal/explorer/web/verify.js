// verify.js: checks, in the browser, what a node serves against a validator
// set the user trusts, following docs/api.md ("How to audit a block by
// hand", "How to verify a transaction's inclusion", "How to verify a state
// proof") and docs/encoding.md. SHA-256 and Ed25519 come from WebCrypto.
//
// Every check lands in a Report as one line (what was checked, passed or
// failed, the detail), so the page can show exactly what was verified. A
// verifier never trusts a value it has not recomputed: keys and powers come
// from the trusted set, hashes from bytes, and the fields the page shows
// are compared with the certified bytes.
//
// Adding a proof kind: write a function like verifyKey or verifyAccount
// that checks the certified header with certifiedHeader, then the proof
// against a root of that header (verifyStateProof for anything in the state
// tree, inclusionRoot for an RFC 6962 tree, verifyOutcome for a transaction
// and its receipt), and register it in `verifiers`.

import {
  hex, unhex, concat, equal, decodeHeader, decodeTx, decodeReceipt, decodeKVEntry, decodeAccount, accountStateKey,
  voteSignBytes, txSignBytes, validatorSetBytes, quorum, kvStateKey, parseJSON, stringifyJSON,
  FIELD_TX_TYPES, canonical, decodeField, fieldStateKey,
} from './codec.js';

const ZERO = '0'.repeat(64);
const PRECOMMIT = 2;

/** sha256 hashes bytes with WebCrypto. */
export async function sha256(b) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', b));
}

/**
 * ed25519Verify checks an Ed25519 signature with WebCrypto. Cairn's
 * validators verify with ZIP-215 rules; every honestly made signature
 * verifies under both (docs/encoding.md section 2).
 */
export async function ed25519Verify(pubHex, msg, sigHex) {
  const key = await crypto.subtle.importKey('raw', unhex(pubHex, 32), { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, unhex(sigHex, 64), msg);
}

/**
 * cryptoUnavailable says why this page cannot verify ('' when it can):
 * WebCrypto exists only in secure contexts (https, localhost, 127.0.0.1),
 * and Ed25519 only in recent browsers.
 */
export async function cryptoUnavailable() {
  if (!globalThis.isSecureContext || !globalThis.crypto || !crypto.subtle) {
    return 'the browser offers WebCrypto only to secure pages: open the explorer over https, or on localhost or 127.0.0.1';
  }
  try {
    await crypto.subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'NotSupportedError') return 'this browser\'s WebCrypto has no Ed25519 (Chromium 137+, Firefox 129+ and Safari 17+ have it)';
  }
  return '';
}

/** Report collects the checks of one verification. */
export class Report {
  constructor(title) { this.title = title; this.checks = []; }
  add(ok, what, detail = '') { this.checks.push({ ok: !!ok, what, detail }); return !!ok; }
  pass(what, detail) { return this.add(true, what, detail); }
  fail(what, detail) { return this.add(false, what, detail); }
  /** eq records whether got equals want. */
  eq(what, got, want) {
    got = String(got); want = String(want);
    return this.add(got === want, what, got === want ? short(got) : `got ${short(got)}, want ${short(want)}`);
  }
  get ok() { return this.checks.length > 0 && this.checks.every((c) => c.ok); }
  get failures() { return this.checks.filter((c) => !c.ok); }
}

function plural(n, what) { return `${n} ${what}${n === 1 ? '' : 's'}`; }

function short(s) { s = String(s); return /^[0-9a-f]{64,}$/.test(s) ? `${s.slice(0, 12)}…${s.slice(-6)}` : s; }

/**
 * trustFrom builds the trusted validator set: {chain_id, validators, total,
 * quorum, hash, source}. validators are in genesis order (index = position).
 */
export async function trustFrom(chainId, validators, source) {
  const vals = validators.map((v) => ({ name: String(v.name), public_key: String(v.public_key), power: BigInt(v.power) }));
  if (!chainId || vals.length === 0) throw new Error('a validator set needs a chain id and at least one validator');
  for (const v of vals) {
    unhex(v.public_key, 32);
    if (v.power <= 0n) throw new Error(`validator ${v.name} has no power`);
  }
  const total = vals.reduce((a, v) => a + v.power, 0n);
  let hash = ''; // stays empty where the page has no WebCrypto (cryptoUnavailable says why)
  try { hash = hex(await sha256(validatorSetBytes(vals))); } catch { /* no WebCrypto */ }
  return { chain_id: chainId, validators: vals, total, quorum: quorum(total), hash, source };
}

/** leafHash and nodeHash are RFC 6962's (encoding.md 4.3). */
export async function leafHash(d) { return sha256(concat(Uint8Array.of(0), d)); }
export async function nodeHash(l, r) { return sha256(concat(Uint8Array.of(1), l, r)); }

/** merkleRoot is the RFC 6962 Merkle tree hash of leaves (byte arrays). */
export async function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leafHash(leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(await merkleRoot(leaves.slice(0, k)), await merkleRoot(leaves.slice(k)));
}

/**
 * inclusionRoot runs RFC 9162 2.1.3.2 for leaf at index in a tree of size
 * and returns the root it implies, or throws when the path cannot belong
 * to such a tree.
 */
export async function inclusionRoot(leaf, index, size, path) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) throw new Error(`index ${index} is not below size ${size}`);
  let r = await leafHash(leaf);
  for (const ph of path) {
    const p = unhex(ph, 32);
    if (sn === 0n) throw new Error('path longer than the tree is deep');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('path shorter than the tree is deep');
  return r;
}

function bit(path, i) { return (path[i >> 3] >> (7 - (i & 7))) & 1; }
function commonPrefixBits(a, b) {
  let n = 0;
  while (n < 256 && bit(a, n) === bit(b, n)) n++;
  return n;
}

/**
 * verifyStateProof checks that the state tree with root held value (bytes)
 * under stateKey, or nothing when value is null (docs/api.md "How to verify
 * a state proof", steps 2-5). proof is the API's JSON form: {siblings,
 * leaf?: {key_hash, value_hash}}. Usable for any state key (user keys,
 * accounts).
 */
export async function verifyStateProof(report, { stateKey, value, proof, root }) {
  const path = await sha256(stateKey);
  const sibs = (proof && proof.siblings) || [];
  if (sibs.length > 256) return report.fail('state proof depth', `${sibs.length} siblings, at most 256`);
  if (sibs.length > 0 && sibs[sibs.length - 1] === ZERO) return report.fail('state proof shape', 'the deepest sibling is empty: no tree has that shape');
  let h;
  if (value) {
    if (proof.leaf) return report.fail('state proof kind', 'a proof of absence was served for a value');
    h = await sha256(concat(Uint8Array.of(0), path, await sha256(value)));
  } else if (proof.leaf) {
    const kh = unhex(proof.leaf.key_hash, 32);
    if (equal(kh, path)) return report.fail('proof of absence', 'the leaf on the path is the key itself');
    if (commonPrefixBits(kh, path) < sibs.length) return report.fail('proof of absence', 'the leaf is not on the key\'s path');
    h = await sha256(concat(Uint8Array.of(0), kh, unhex(proof.leaf.value_hash, 32)));
  } else {
    h = new Uint8Array(32);
  }
  for (let i = sibs.length - 1; i >= 0; i--) {
    const s = unhex(sibs[i], 32);
    h = bit(path, i) === 0 ? await nodeHash(h, s) : await nodeHash(s, h);
  }
  return report.eq(`state proof (${sibs.length} siblings) leads to the header's state_root`, hex(h), root);
}

/**
 * certifiedHeader checks a header and its commit certificate against the
 * trusted set (docs/api.md "How to audit a block by hand", steps 1-3) and
 * returns the header decoded from its bytes, or null when it cannot be read.
 */
export async function certifiedHeader(report, { headerHex, hash, certificate }, trust) {
  let hb, h;
  try {
    hb = unhex(headerHex);
    h = decodeHeader(hb);
    report.pass('header bytes decode (encoding.md 4.1)', `${hb.length} bytes`);
  } catch (e) {
    report.fail('header bytes decode (encoding.md 4.1)', e.message);
    return null;
  }
  if (trust.walk && h.validators_hash !== trust.hash) {
    // Another height's set: walked from the trusted one through every set
    // change, each checked (walkTrust; docs/consensus.md).
    try {
      trust = await trust.walk(h.height);
      report.pass(`validator set of height ${h.height} walked from the trusted set`, trust.source);
    } catch (e) {
      report.fail(`validator set of height ${h.height} walked from the trusted set`, e.message);
    }
  }
  const bh = hex(await sha256(hb));
  if (hash !== undefined) report.eq('block hash = SHA-256(header)', hash, bh);
  const cert = certificate || {};
  report.eq('certificate signs this header\'s hash', cert.block_hash, bh);
  report.eq('chain id is the trusted chain\'s', h.chain_id, trust.chain_id);
  report.eq('certificate height = header height', cert.height, h.height);
  report.eq('validators_hash = SHA-256(trusted validator set)', h.validators_hash, trust.hash);
  if (cert.block_hash === ZERO) report.fail('certificate is for a block', 'it signs the nil hash');
  let signed = 0n;
  let last = -1;
  const want = voteSignBytes(trust.chain_id, PRECOMMIT, h.height, BigInt(cert.round ?? 0), bh);
  for (const s of cert.signatures || []) {
    const i = Number(s.validator_index);
    const v = trust.validators[i];
    if (!Number.isInteger(i) || !v) { report.fail(`signer index ${s.validator_index}`, 'not in the trusted set'); continue; }
    if (i <= last) { report.fail(`signer index ${i}`, 'indexes must strictly ascend (each signer counts once)'); continue; }
    last = i;
    if (s.sign_bytes_hex !== undefined && s.sign_bytes_hex !== hex(want)) {
      report.fail(`sign bytes of ${v.name}`, 'served sign_bytes_hex differ from the precommit of this block');
    }
    if (s.public_key !== undefined && s.public_key !== v.public_key) {
      report.fail(`public key of ${v.name}`, `served ${short(s.public_key)}, trusted ${short(v.public_key)}`);
    }
    let ok = false;
    let why = '';
    try { ok = await ed25519Verify(v.public_key, want, s.signature); } catch (e) { why = e.message; }
    if (report.add(ok, `Ed25519 signature of ${v.name} (index ${i}, power ${v.power})`, ok ? `precommit h${h.height} r${cert.round}` : why || 'does not verify')) {
      signed += v.power;
    }
  }
  report.add(signed >= trust.quorum, 'signers hold a quorum of power', `${signed} of ${trust.total}, quorum ${trust.quorum}`);
  return { ...h, hash: bh };
}

/** fieldsMatch compares what the page shows (JSON) with what the bytes say. */
function fieldsMatch(report, what, shown, decoded, names) {
  const bad = names.filter((n) => shown && String(shown[n]) !== String(decoded[n]));
  return report.add(shown && bad.length === 0, `${what} shown = ${what} in the certified bytes`, bad.length ? `differ: ${bad.join(', ')}` : names.join(', '));
}

const HEADER_FIELDS = ['chain_id', 'height', 'round', 'time', 'proposer', 'parent_hash', 'tx_count', 'tx_root', 'results_root', 'state_root', 'validators_hash', 'next_validators_hash', 'last_commit_hash'];

/**
 * walkTrust returns the validator set of height, walked from base (a set
 * trusted for height 1: genesis) through every set change the node lists
 * (GET /v1/validators): for each change from height F, the certified
 * header of F-1 must verify against the set already walked and name the
 * new set as its next_validators_hash. Throws naming the first problem.
 */
export async function walkTrust(getJSON, base, height) {
  const v = await getJSON(`/v1/validators?height=${height}`);
  let cur = base;
  for (const ch of v.changes || []) {
    const from = BigInt(ch.from);
    if (from <= 1n) {
      if (ch.validators_hash !== base.hash) throw new Error(`the node's set of height 1 is ${short(ch.validators_hash)}, the trusted one ${short(base.hash)}`);
      continue;
    }
    const step = from === BigInt(v.height) ? v : await getJSON(`/v1/validators?height=${from}`);
    const next = await trustFrom(base.chain_id, step.validators, `${base.source}, walked through the set changes to height ${height}`);
    const cb = step.certified_by;
    if (!cb) throw new Error(`no certified header of height ${from - 1n} for the set change at ${from}`);
    const r = new Report(`set change at height ${from}`);
    const hd = await certifiedHeader(r, { headerHex: cb.header_hex, hash: cb.hash, certificate: cb.certificate }, { ...cur, walk: undefined });
    if (!hd || !r.ok) throw new Error(`header ${from - 1n} does not verify against the set of its height: ${r.failures.map((f) => f.what + (f.detail ? ': ' + f.detail : '')).join('; ')}`);
    if (hd.next_validators_hash !== next.hash) throw new Error(`header ${from - 1n} names next set ${short(hd.next_validators_hash)}, the node's set of ${from} is ${short(next.hash)}`);
    cur = next;
  }
  if (cur.hash !== v.validators_hash) throw new Error(`walking gives set ${short(cur.hash)} at height ${height}, the node says ${short(v.validators_hash)}`);
  return cur;
}

/** verifyBlock audits one block (GET /v1/blocks/{height}), steps 1-5. */
export async function verifyBlock(block, trust, report = new Report(`Block ${block.height}`)) {
  const h = await certifiedHeader(report, { headerHex: block.header_hex, hash: block.hash, certificate: block.certificate }, trust);
  if (!h) return report;
  report.eq('height asked for = certified height', block.height, h.height);
  fieldsMatch(report, 'header', block.header, h, HEADER_FIELDS);
  const txs = block.txs || [];
  report.eq('transactions = header tx_count', txs.length, h.tx_count);
  const hashes = [];
  const bad = [];
  const badSig = [];
  const badShown = [];
  const undecoded = [];
  for (const [i, t] of txs.entries()) {
    const b = unhex(t.bytes_hex);
    const th = await sha256(b);
    hashes.push(th);
    if (hex(th) !== t.hash) bad.push(i);
    let d;
    try { d = decodeTx(b); } catch (e) { undecoded.push(`${i} (${e.message})`); badSig.push(i); badShown.push(i); continue; }
    let ok = false;
    try { ok = d.chain_id === trust.chain_id && await ed25519Verify(d.sender, txSignBytes(d.unsigned), d.signature); } catch { ok = false; }
    if (!ok) badSig.push(i);
    if (t.tx !== undefined && txDiffers(t.tx, d).length) badShown.push(i);
  }
  report.add(bad.length === 0, 'every transaction hash = SHA-256(its bytes)', bad.length ? `wrong at ${bad.join(', ')}` : plural(txs.length, 'transaction'));
  report.add(undecoded.length === 0, 'every transaction\'s bytes decode (encoding.md 3.1, 9)', undecoded.length ? `not at ${undecoded.join('; ')}` : typesOf(txs));
  report.add(badSig.length === 0, 'every transaction is signed by its sender, for this chain', badSig.length ? `not at ${badSig.join(', ')}` : plural(txs.length, 'Ed25519 signature'));
  if (txs.some((t) => t.tx !== undefined)) {
    report.add(badShown.length === 0, 'transactions shown = transactions in their bytes', badShown.length ? `differ at ${badShown.join(', ')}` : 'fields and payloads');
  }
  report.eq('RFC 6962 root of the transaction hashes = tx_root', hex(await merkleRoot(hashes)), h.tx_root);
  const rs = block.receipts || [];
  report.eq('one receipt per transaction', rs.length, txs.length);
  const results = [];
  const badR = [];
  for (const [i, r] of rs.entries()) {
    try {
      const d = decodeReceipt(unhex(r.bytes_hex));
      results.push(await sha256(d.result));
      const same = d.tx_hash === r.tx_hash && d.ok === !!r.ok && d.code === (r.code || '') && String(d.version) === String(r.version ?? 0);
      if (!same || (txs[i] && d.tx_hash !== txs[i].hash)) badR.push(i);
    } catch { badR.push(i); results.push(new Uint8Array(32)); }
  }
  report.add(badR.length === 0, 'receipts shown = receipt bytes, each for its transaction', badR.length ? `not at ${badR.join(', ')}` : plural(rs.length, 'receipt'));
  report.eq('RFC 6962 root of the result hashes = results_root', hex(await merkleRoot(results)), h.results_root);
  report.header = h;
  return report;
}

function typesOf(txs) {
  const n = new Map();
  for (const t of txs) { const k = (t.tx && t.tx.type) || 'transaction'; n.set(k, (n.get(k) || 0) + 1); }
  return [...n].map(([k, c]) => `${c} ${k}`).join(', ') || 'none';
}

/**
 * verifyParentLink checks step 6 of the block audit: parent_hash of a
 * certified header is the hash of the header of the height below (all zeros
 * at height 1), so the certificate vouches for that header too. parent is
 * the API's block (or null at height 1).
 */
export async function verifyParentLink(report, header, parent) {
  if (header.height === 1n) return report.eq('parent_hash of block 1 is all zeros', header.parent_hash, ZERO);
  let ph;
  try { ph = decodeHeader(unhex(parent.header_hex)); } catch (e) { return report.fail(`header of block ${header.height - 1n} decodes`, e.message); }
  report.eq(`the header served as block ${header.height - 1n} is at that height`, ph.height, header.height - 1n);
  return report.eq(`parent_hash = SHA-256(header of block ${header.height - 1n}): the chain links`, hex(await sha256(unhex(parent.header_hex))), header.parent_hash);
}

/**
 * verifyTx checks a committed transaction (GET /v1/txs/{hash}) and its block:
 * the block audit, then the transaction's bytes, signature and inclusion
 * proof against the certified tx_root, and its receipt against the block's.
 */
export async function verifyTx(status, block, trust) {
  const report = new Report(`Transaction ${short(status.hash)}`);
  await verifyBlock(block, trust, report);
  const h = report.header;
  if (!h) return report;
  const b = unhex(status.tx_bytes_hex);
  report.eq('transaction hash = SHA-256(its bytes)', hex(await sha256(b)), status.hash);
  try {
    const d = decodeTx(b);
    report.add(await ed25519Verify(d.sender, txSignBytes(d.unsigned), d.signature), 'Ed25519 signature of the sender over the transaction', short(d.sender));
    const bad = txDiffers(status.tx, d);
    report.add(bad.length === 0, 'transaction shown = transaction in its bytes', bad.length ? `differ: ${bad.join(', ')}` : 'fields and payload');
  } catch (e) {
    report.fail('transaction bytes decode (encoding.md 3.1)', e.message);
  }
  report.eq('block height = the transaction\'s height', h.height, status.height);
  const p = status.proof || {};
  report.eq('proof index = the transaction\'s index', p.index, status.index);
  report.eq('proof size = certified tx_count', p.size, h.tx_count);
  try {
    const root = await inclusionRoot(unhex(status.hash, 32), status.index, h.tx_count, p.path || []);
    report.eq('RFC 6962 inclusion proof leads to the certified tx_root', hex(root), h.tx_root);
  } catch (e) {
    report.fail('RFC 6962 inclusion proof leads to the certified tx_root', e.message);
  }
  const br = (block.receipts || [])[Number(status.index)];
  const r = status.receipt || {};
  report.add(br && br.tx_hash === r.tx_hash && !!br.ok === !!r.ok && (br.code || '') === (r.code || '') && String(br.version ?? 0) === String(r.version ?? 0),
    'receipt shown = the block\'s receipt (covered by results_root)', br ? (br.ok ? 'ok' : `failed: ${br.code}`) : 'no receipt at that index');
  return report;
}

/** txDiffers lists the fields where a transaction's JSON (shown) differs from its decoded bytes. */
export function txDiffers(shown, d) {
  if (!shown) return ['(missing)'];
  const bad = ['chain_id', 'type', 'sender', 'nonce', 'timestamp', 'signature'].filter((n) => String(shown[n]) !== String(d[n]));
  const sp = shown.payload || {};
  if (d.type === 'record' || d.type === 'blob.record') {
    // The JSON form embeds the document; compare it as parsed JSON.
    if (!canonicalEqual(sp.document, d.payload.document)) bad.push('payload.document');
    if (d.type === 'blob.record' && canonical(sp.blobs) !== canonical(d.payload.blobs)) bad.push('payload.blobs');
  } else if (FIELD_TX_TYPES.includes(d.type)) {
    // Members, balances, signatures, a payment and its proof: compared whole.
    for (const k of new Set([...Object.keys(sp), ...Object.keys(d.payload)])) {
      if (canonical(sp[k]) !== canonical(d.payload[k])) bad.push(`payload.${k}`);
    }
  } else {
    for (const k of new Set([...Object.keys(sp), ...Object.keys(d.payload)])) {
      if (String(sp[k]) !== String(d.payload[k])) bad.push(`payload.${k}`);
    }
  }
  return bad;
}

function canonicalEqual(shown, text) {
  try { return stringifyJSON(shown) === stringifyJSON(parseJSON(text)); } catch { return false; }
}

/**
 * verifyKey checks a key's state proof (GET /v1/kv/{key}?prove=true): the
 * certified header, then the entry and the proof against its state_root.
 */
export async function verifyKey(resp, key, trust) {
  const report = new Report(`Key ${key}`);
  const h = await certifiedHeader(report, { headerHex: resp.header_hex, certificate: resp.certificate }, trust);
  if (!h) return report;
  report.header = h;
  report.eq('proof height = certified height', resp.height, h.height);
  const sk = kvStateKey(key);
  report.eq('state key = \'k\' ‖ the key', resp.state_key_hex, hex(sk));
  let value = null;
  if (resp.found) {
    try {
      value = unhex(resp.value_hex);
      const e = decodeKVEntry(value);
      fieldsMatch(report, 'entry', resp.entry, e, ['version', 'height', 'tx_hash', 'deleted', 'value']);
    } catch (e) {
      return report.fail('entry bytes decode (encoding.md 7)', e.message), report;
    }
  }
  await verifyStateProof(report, { stateKey: sk, value, proof: resp.proof || {}, root: h.state_root });
  if (report.ok) report.pass(resp.found ? (resp.entry && resp.entry.deleted ? 'proves the key was deleted' : 'proves the entry shown') : 'proves the key is absent', `at height ${h.height}`);
  return report;
}

/**
 * verifyOutcome runs steps 2-5 of docs/api.md "How to verify a
 * transaction's outcome" against a header already certified (h): the
 * transaction's bytes and inclusion under tx_root, its receipt's bytes and
 * inclusion under results_root. It returns the transaction and receipt
 * decoded from the proven bytes ({tx, receipt}), or null where they cannot
 * be read. The outcome is the decoded receipt's, never a JSON copy.
 */
export async function verifyOutcome(report, h, { hash, index, txHex, txProof, receiptHex, receiptProof }) {
  let tb;
  try { tb = unhex(txHex); } catch (e) { report.fail('transaction bytes are hex', e.message); return null; }
  report.eq('transaction hash = SHA-256(its bytes)', hex(await sha256(tb)), hash);
  let tx = null;
  try {
    tx = decodeTx(tb);
    report.eq('transaction is for the trusted chain', tx.chain_id, h.chain_id);
    let ok = false;
    try { ok = await ed25519Verify(tx.sender, txSignBytes(tx.unsigned), tx.signature); } catch { ok = false; }
    report.add(ok, 'Ed25519 signature of the sender over the transaction', short(tx.sender));
  } catch (e) {
    report.fail('transaction bytes decode (encoding.md 3.1)', e.message);
  }
  const tp = txProof || {};
  report.eq('proof index = the transaction\'s index', tp.index, index);
  report.eq('proof size = certified tx_count', tp.size, h.tx_count);
  try {
    const root = await inclusionRoot(unhex(hash, 32), index, h.tx_count, tp.path || []);
    report.eq('RFC 6962 inclusion proof leads to the certified tx_root', hex(root), h.tx_root);
  } catch (e) {
    report.fail('RFC 6962 inclusion proof leads to the certified tx_root', e.message);
  }
  let rc = null;
  try {
    rc = decodeReceipt(unhex(receiptHex));
    report.pass('receipt bytes decode (encoding.md 5)', rc.ok ? 'ok byte 01' : `ok byte 00, code ${rc.code}`);
  } catch (e) {
    report.fail('receipt bytes decode (encoding.md 5)', e.message);
    return null;
  }
  report.eq('receipt is for this transaction (its tx_hash)', rc.tx_hash, hash);
  const rp = receiptProof || {};
  report.eq('receipt proof index = the transaction\'s index', rp.index, index);
  report.eq('receipt proof size = certified tx_count', rp.size, h.tx_count);
  try {
    const root = await inclusionRoot(await sha256(rc.result), index, h.tx_count, rp.path || []);
    report.eq('RFC 6962 receipt proof (result hash: the receipt without its reason) leads to the certified results_root', hex(root), h.results_root);
  } catch (e) {
    report.fail('RFC 6962 receipt proof (result hash: the receipt without its reason) leads to the certified results_root', e.message);
  }
  return { tx, receipt: rc };
}

/** outcomeText says what a proven receipt means. */
export function outcomeText(rc) {
  return rc.ok ? `committed and ok${rc.version ? `, wrote version ${rc.version}` : ''}` : `committed and failed with ${rc.code}; it changed nothing`;
}

/**
 * verifyTxProof checks GET /v1/txs/{hash}?prove=true (docs/api.md "How to
 * verify a transaction's outcome"): the certified header, the transaction's
 * inclusion and its receipt's inclusion, in one answer. The outcome is read
 * from the receipt bytes; the JSON copies (status, receipt, tx, header) must
 * agree with the bytes. report.outcome is the decoded receipt.
 */
export async function verifyTxProof(resp, hash, trust) {
  const report = new Report(`Transaction ${short(hash)}`);
  report.eq('answer is about the transaction asked for', resp.hash, hash);
  if (resp.header_hex === undefined) {
    report.fail('answer carries a certified header and a receipt proof', `status ${resp.status}: only committed or failed transactions have proofs`);
    return report;
  }
  const h = await certifiedHeader(report, { headerHex: resp.header_hex, hash: resp.block_hash, certificate: resp.certificate }, trust);
  if (!h) return report;
  report.header = h;
  report.eq('height shown = certified height', resp.height, h.height);
  const got = await verifyOutcome(report, h, {
    hash, index: resp.index, txHex: resp.tx_bytes_hex, txProof: resp.proof, receiptHex: resp.receipt_bytes_hex, receiptProof: resp.receipt_proof,
  });
  if (!got) return report;
  const rc = got.receipt;
  report.outcome = rc;
  if (resp.header !== undefined) fieldsMatch(report, 'header', resp.header, h, HEADER_FIELDS);
  if (resp.tx_root !== undefined) report.eq('tx_root shown = certified tx_root', resp.tx_root, h.tx_root);
  if (got.tx) {
    const bad = txDiffers(resp.tx, got.tx);
    report.add(bad.length === 0, 'transaction shown = transaction in its bytes', bad.length ? `differ: ${bad.join(', ')}` : 'fields and payload');
  }
  const r = resp.receipt || {};
  const badR = [];
  if (resp.status !== (rc.ok ? 'committed' : 'failed')) badR.push(`status ${resp.status}`);
  if (!!r.ok !== rc.ok) badR.push(`ok ${!!r.ok}`);
  if ((r.code || '') !== rc.code) badR.push(`code ${r.code || '(none)'}`);
  if (String(r.version ?? 0) !== String(rc.version)) badR.push(`version ${r.version ?? 0}`);
  if (r.tx_hash !== rc.tx_hash) badR.push('tx_hash');
  report.add(badR.length === 0, 'status and receipt shown = the proven receipt bytes', badR.length ? `the page claims ${badR.join(', ')}; the bytes say ${rc.ok ? 'ok' : `failed: ${rc.code}`}` : (rc.ok ? 'ok' : `failed: ${rc.code}`));
  if (report.ok) report.pass(`proves: ${outcomeText(rc)}`, `at height ${h.height}, position ${resp.index}`);
  return report;
}

/**
 * verifyAccount checks GET /v1/accounts/{address}?prove=true (docs/api.md
 * "How to verify an account"): the certified header, then the account's
 * state proof under 'a' ‖ address. A found account's balance and nonce are
 * read from value_hex; an address never seen is proven absent (balance and
 * nonce 0). height, when given, is the height asked for. report.account is
 * {found, balance, nonce} as proven.
 */
export async function verifyAccount(resp, address, trust, height) {
  const addr = String(address).toLowerCase();
  const report = new Report(`Account ${short(addr)}`);
  report.eq('answer is about the address asked for', resp.address, addr);
  let sk;
  try { sk = accountStateKey(addr); } catch (e) { report.fail('address is 20 bytes of hex', e.message); return report; }
  const h = await certifiedHeader(report, { headerHex: resp.header_hex, certificate: resp.certificate }, trust);
  if (!h) return report;
  report.header = h;
  report.eq('height shown = certified height', resp.height, h.height);
  if (height !== undefined && height !== null && height !== '') report.eq('certified height = the height asked for', h.height, height);
  report.eq('state key = \'a\' ‖ the address', resp.state_key_hex, hex(sk));
  let value = null;
  let acct = { found: false, balance: 0n, nonce: 0n };
  if (resp.found) {
    try {
      value = unhex(resp.value_hex);
      const a = decodeAccount(value);
      acct = { found: true, ...a };
      report.pass('account bytes decode (encoding.md 7: u64 balance ‖ u64 nonce)', `balance ${a.balance}, nonce ${a.nonce}`);
    } catch (e) {
      report.fail('account bytes decode (encoding.md 7: u64 balance ‖ u64 nonce)', e.message);
      return report;
    }
  } else if (resp.value_hex !== undefined) {
    report.fail('an absent account has no value', 'value_hex is served with found false');
  }
  const same = String(resp.balance) === String(acct.balance) && String(resp.nonce) === String(acct.nonce);
  report.add(same, 'balance and nonce shown = the proven account', same ? `balance ${acct.balance}, nonce ${acct.nonce}`
    : `the page claims balance ${resp.balance}, nonce ${resp.nonce}; the proven bytes say ${acct.balance}, ${acct.nonce}`);
  await verifyStateProof(report, { stateKey: sk, value, proof: resp.proof || {}, root: h.state_root });
  report.account = acct;
  if (report.ok) {
    report.pass(acct.found ? `proves balance ${acct.balance} and nonce ${acct.nonce}` : 'proves the address holds nothing: never seen, balance 0 and nonce 0', `at the end of height ${h.height}`);
  }
  return report;
}

/** fieldDeadline is the deadline GET /v1/fields/{id} states for a field entry. */
export function fieldDeadline(f) {
  if (f.status === 'open') return f.expiry;
  if (f.status === 'closing' && f.pending) return f.pending.deadline;
  return 0n;
}

/**
 * verifyField checks GET /v1/fields/{id} (docs/api.md "How to verify a
 * payment field"): the certified header, then the field's entry (value_hex,
 * encoding.md 9) and its state proof under 'f' ‖ id against the header's
 * state_root. Everything the page shows is compared with the entry decoded
 * from the proven bytes: terms, status, pending close, penalties, final
 * payout, the total deposits and the deadline. height, when given, is the
 * height asked for. report.field is the proven entry.
 */
export async function verifyField(resp, id, trust, height) {
  const fid = String(id).toLowerCase();
  const report = new Report(`Field ${short(fid)}`);
  report.eq('answer is about the field asked for', resp.id, fid);
  let sk;
  try { sk = fieldStateKey(fid); } catch (e) { report.fail('field id is 32 bytes of hex', e.message); return report; }
  const h = await certifiedHeader(report, { headerHex: resp.header_hex, certificate: resp.certificate }, trust);
  if (!h) return report;
  report.header = h;
  report.eq('height shown = certified height', resp.height, h.height);
  if (height !== undefined && height !== null && height !== '') report.eq('certified height = the height asked for', h.height, height);
  report.eq('state key = \'f\' ‖ the field id', resp.state_key_hex, hex(sk));
  let value, f;
  try {
    value = unhex(resp.value_hex);
    f = decodeField(value);
    report.pass('field entry bytes decode (encoding.md 9, "Field entry")', `${value.length} bytes: ${f.status}, ${plural(f.members.length, 'member')}`);
  } catch (e) {
    report.fail('field entry bytes decode (encoding.md 9, "Field entry")', e.message);
    return report;
  }
  report.eq('the entry is the field asked for (its field_id)', f.field_id, fid);
  const shown = resp.field || {};
  const bad = [...new Set([...Object.keys(shown), ...Object.keys(f)])].filter((k) => canonical(shown[k]) !== canonical(f[k]));
  report.add(bad.length === 0, 'field shown = the entry in the proven bytes', bad.length ? `the page differs in ${bad.join(', ')}` : 'terms, members, status, pending close, penalties, final payout');
  const total = f.members.reduce((a, m) => a + BigInt(m.deposit), 0n);
  report.eq('total deposits shown = sum of the proven deposits', resp.total_deposits, total);
  report.eq('deadline shown = the proven entry\'s deadline', resp.deadline, fieldDeadline(f));
  await verifyStateProof(report, { stateKey: sk, value, proof: resp.proof || {}, root: h.state_root });
  report.field = f;
  const close = f.pending ? ` (${f.status === 'settled' ? 'by' : 'pending'} ${f.pending.kind} close at state ${f.pending.state})` : '';
  if (report.ok) report.pass(`proves the field is ${f.status}${close}${f.final ? `, paid out ${f.final.join(', ')}` : ''}`, `at the end of height ${h.height}`);
  return report;
}

/**
 * verifySearch checks a page of GET /v1/search?prove=true (docs/api.md "How
 * to verify search hits"): every header of `headers` is certified, and
 * every hit is a committed transaction (or a block) at its height's
 * certified header, with the status, code, type and time it states. One
 * check per header and per hit; each hit's detail names the checks that
 * failed. It cannot show completeness, total, order, score or snippets:
 * report.notes says so. report.hits lists, per hit, {ok, detail}.
 */
export async function verifySearch(resp, trust) {
  const report = new Report('Search hits');
  const headers = new Map();
  let last = -1n;
  for (const [j, x] of (resp.headers || []).entries()) {
    const sub = new Report('header');
    const hd = await certifiedHeader(sub, { headerHex: x.header_hex, hash: x.hash, certificate: x.certificate }, trust);
    if (hd) {
      sub.eq('height shown = certified height', x.height, hd.height);
      if (hd.height <= last) sub.fail('headers ascend by height, each once', `height ${hd.height} after ${last}`);
      last = hd.height;
    }
    const what = `certified header of height ${hd ? hd.height : `#${j}`}`;
    if (report.add(sub.ok, what, sub.ok ? `${plural(sub.checks.filter((c) => c.what.startsWith('Ed25519')).length, 'signature')}, quorum reached` : failed(sub))) headers.set(String(hd.height), hd);
  }
  report.hits = [];
  for (const [i, hit] of (resp.hits || []).entries()) {
    const sub = new Report('hit');
    const hd = headers.get(String(hit.height));
    let what = `hit ${i + 1}: ${hit.type === 'block' ? 'block' : 'transaction'} ${short(hit.hash)} at height ${hit.height}`;
    if (!hd) {
      sub.fail('a certified header of its height is in the answer', `none for height ${hit.height}`);
    } else {
      const ms = Date.parse(hit.time);
      sub.add(ms === Number(hd.time), 'time shown = the header\'s time', `${hit.time}; header ${new Date(Number(hd.time)).toISOString()}`);
      if (hit.index === undefined || hit.index === null) {
        sub.eq('block hash = the certified header\'s hash', hit.hash, hd.hash);
        what = `${what}: a certified block`;
      } else {
        const p = hit.proof || {};
        const got = await verifyOutcome(sub, hd, { hash: hit.hash, index: hit.index, txHex: p.tx_bytes_hex, txProof: p.tx_proof, receiptHex: p.receipt_bytes_hex, receiptProof: p.receipt_proof });
        if (got) {
          const rc = got.receipt;
          const status = rc.ok ? 'ok' : 'failed';
          sub.eq('status shown = the proven receipt', `${hit.status}${hit.code ? `: ${hit.code}` : ''}`, `${status}${rc.ok ? '' : `: ${rc.code}`}`);
          if (got.tx) sub.eq('type shown = the type in the transaction bytes', hit.type, got.tx.type);
          if (sub.ok) what = `${what}: ${outcomeText(rc)}`;
        }
      }
    }
    report.add(sub.ok, what, sub.ok ? `${sub.checks.length} checks` : failed(sub));
    report.hits.push({ ok: sub.ok, detail: sub.ok ? what : failed(sub) });
  }
  if (!(resp.hits || []).length) report.pass('no hits on this page', 'nothing to prove');
  report.notes = [SEARCH_LIMITS];
  return report;
}

/** SEARCH_LIMITS is what search proofs cannot show (docs/api.md "How to verify search hits"). */
export const SEARCH_LIMITS = 'What this does not prove: that no other committed transaction matches (completeness), '
  + 'that the total is right, the order or score of the hits, their snippets and highlights, or that the query was applied as written. '
  + 'The search index is the node’s own; nothing certifies it.';

function failed(r) { return r.failures.map((c) => `${c.what}${c.detail ? ` (${c.detail})` : ''}`).join('; '); }

/** verifiers names every proof kind the explorer can check. */
export const verifiers = { block: verifyBlock, tx: verifyTx, txProof: verifyTxProof, key: verifyKey, account: verifyAccount, field: verifyField, search: verifySearch };

