// api.js: the node's REST API (docs/api.md) as the explorer reads it, and
// the validator set the explorer trusts.

import { parseJSON } from './codec.js';
import { trustFrom } from './verify.js';

/** ApiError is an error answer of the API: {error: {code, message}}. */
export class ApiError extends Error {
  /** ask: for wrong_node, the API base URLs of the nodes that serve the request. */
  constructor(status, code, message, ask) { super(message); this.status = status; this.code = code; this.ask = ask || []; }
}

/** get fetches an API path and parses its JSON (64-bit integers kept exact). */
export async function get(path) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `the node did not answer ${path}: ${e.message}`);
  }
  const text = await res.text();
  let body;
  try { body = parseJSON(text); } catch { throw new ApiError(res.status, 'bad_json', `${path} answered ${res.status} with something that is not JSON`); }
  if (!res.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(res.status, e.code || String(res.status), e.message || `${path} answered ${res.status}`, Array.isArray(body.ask) ? body.ask : []);
  }
  return body;
}

/** escapeKey path-escapes a key as one URL segment (docs/api.md "Keys in URLs"). */
export function escapeKey(k) {
  if (k === '.') return '%2E';
  if (k === '..') return '%2E%2E';
  return encodeURIComponent(k);
}

const TRUST_KEY = 'cairn.explorer.trust';

/**
 * loadTrust returns the trusted validator set, and a warning when the node's
 * status disagrees with it. The set comes from a genesis file the user gave
 * or, the first time, from this node's /v1/status, pinned in the browser
 * (trust on first use), and says which in `source`.
 */
export async function loadTrust(status) {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(TRUST_KEY) || 'null'); } catch { saved = null; }
  if (!saved || !saved.validators) {
    saved = { chain_id: status.chain_id, validators: status.validators, source: `pinned from node ${status.node}'s /v1/status on first visit, ${new Date().toISOString().slice(0, 19)}Z` };
    saveTrust(saved);
  }
  const trust = await trustFrom(saved.chain_id, saved.validators, saved.source);
  return { trust, warning: trustWarning(status, trust) };
}

/** trustWarning says how a node's status disagrees with the trusted set ('' when it does not). */
export function trustWarning(status, trust) {
  if (!status) return '';
  if (status.chain_id !== trust.chain_id) return `this node serves chain ${status.chain_id}, not the trusted ${trust.chain_id}`;
  if (status.validators_hash !== trust.hash) return 'this node reports a validator set other than the trusted one';
  return '';
}

/** saveTrust pins a validator set: {chain_id, validators, source}. */
export function saveTrust(t) {
  localStorage.setItem(TRUST_KEY, JSON.stringify({ chain_id: t.chain_id, validators: t.validators.map((v) => ({ name: v.name, public_key: v.public_key, power: String(v.power) })), source: t.source }));
}

/** forgetTrust drops the pinned set; the next page pins this node's again. */
export function forgetTrust() { localStorage.removeItem(TRUST_KEY); }

/** trustFromGenesis reads a genesis file's text (types.Genesis JSON). */
export async function trustFromGenesis(text, name) {
  const g = parseJSON(text);
  if (!g || typeof g.chain_id !== 'string' || !Array.isArray(g.validators)) throw new Error('not a Cairn genesis file (needs chain_id and validators)');
  const t = await trustFrom(g.chain_id, g.validators, `genesis file ${name || ''} given ${new Date().toISOString().slice(0, 19)}Z`.replace('  ', ' '));
  saveTrust(t);
  return t;
}
