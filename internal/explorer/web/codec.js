// codec.js: Cairn's canonical binary encodings (docs/encoding.md), read and
// written in the browser. Pure functions over Uint8Array; no DOM, no
// network. Integers of 64 bits are BigInt.

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const lax = new TextDecoder('utf-8');

/** utf8 returns the UTF-8 bytes of a string. */
export function utf8(s) { return enc.encode(s); }

/** hex returns the lower-case hex of bytes. */
export function hex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** unhex decodes lower-case hex of even length (the API's only spelling); it throws otherwise. */
export function unhex(s, want) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) {
    throw new Error(`not lower-case hex: ${String(s).slice(0, 20)}`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  if (want !== undefined && out.length !== want) throw new Error(`want ${want} bytes, got ${out.length}`);
  return out;
}

/** concat joins byte arrays. */
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** equal compares two byte arrays. */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function u8(v) { return Uint8Array.of(Number(v) & 0xff); }
export function u16(v) { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, Number(v)); return b; }
export function u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, Number(v)); return b; }
export function u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v)); return b; }
export function bytes16(b) { return concat(u16(b.length), b); }

/** Reader decodes canonical bytes; every read throws past the end. */
export class Reader {
  constructor(b) { this.b = b; this.o = 0; this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength); }
  need(n) { if (this.o + n > this.b.length) throw new Error(`truncated at byte ${this.o} (need ${n} more)`); }
  u8() { this.need(1); return this.b[this.o++]; }
  u16() { this.need(2); const v = this.dv.getUint16(this.o); this.o += 2; return v; }
  u32() { this.need(4); const v = this.dv.getUint32(this.o); this.o += 4; return v; }
  u64() { this.need(8); const v = this.dv.getBigUint64(this.o); this.o += 8; return v; }
  i64() { const v = this.u64(); if (v >> 63n) throw new Error('negative i64'); return v; }
  bool() { const v = this.u8(); if (v > 1) throw new Error(`bool byte ${v}`); return v === 1; }
  raw(n) { this.need(n); const v = this.b.subarray(this.o, this.o + n); this.o += n; return v; }
  bytes16() { return this.raw(this.u16()); }
  bytes32() { return this.raw(this.u32()); }
  text16() { return dec.decode(this.bytes16()); }
  text32() { return dec.decode(this.bytes32()); }
  hash() { return hex(this.raw(32)); }
  end() { if (this.o !== this.b.length) throw new Error(`${this.b.length - this.o} trailing bytes`); }
}

/** decodeHeader reads a block header (encoding.md 4.1). */
export function decodeHeader(b) {
  const r = new Reader(b);
  const h = {};
  h.version = r.u8();
  if (h.version !== 2) throw new Error(`header version ${h.version}`);
  h.chain_id = r.text16();
  h.height = r.u64();
  h.round = r.u32();
  h.time = r.i64();
  h.proposer = r.hash();
  h.parent_hash = r.hash();
  h.tx_count = r.u32();
  h.tx_root = r.hash();
  h.results_root = r.hash();
  h.state_root = r.hash();
  h.validators_hash = r.hash();
  h.next_validators_hash = r.hash();
  h.last_commit_hash = r.hash();
  r.end();
  return h;
}

export const TX_TYPES = {
  1: 'transfer', 2: 'kv.put', 3: 'kv.delete', 4: 'record',
  16: 'field.open', 17: 'field.close_unilateral', 18: 'field.challenge', 19: 'field.dispute', 20: 'field.close',
  21: 'contract.deploy', 22: 'contract.instantiate', 23: 'contract.invoke', 24: 'contract.upgrade',
  25: 'role.grant', 26: 'role.revoke',
  29: 'blob.record',
  30: 'validator.update',
  31: 'validator.register', 32: 'stake.delegate', 33: 'stake.undelegate', 34: 'stake.vote',
  35: 'validator.unjail', 36: 'evidence.submit',
};

// validator.update's operations (types/valset_tx.go).
const VALIDATOR_OPS = { 1: 'add', 2: 'remove', 3: 'set_power' };

// Limits of the staking payloads, as the Go decoder enforces them (types/staking.go).
const MAX_VOTES = 64;
const MAX_VALIDATOR_NAME_BYTES = 64;
const MAX_VALIDATOR_ADDR_BYTES = 255;
const MAX_EVIDENCE_BYTES = 1024;

// MAX_TX_BLOBS bounds a blob.record's references (types.MaxTxBlobs).
const MAX_TX_BLOBS = 64;

// Limits of a role change, as the Go decoder enforces them (types/access.go).
const MAX_ROLE_BYTES = 32;
const MAX_APPROVALS = 64;

/** approvals reads a governance payload's approvals: at most 64, no key twice. */
function approvals(r, p) {
  const n = count(r, 'approvals', MAX_APPROVALS);
  p.approvals = [];
  const seen = new Set();
  for (let i = 0; i < n; i++) {
    const key = r.hash();
    if (seen.has(key)) throw new Error(`approval ${i}: ${key} approves twice`);
    seen.add(key);
    p.approvals.push({ key, signature: hex(r.raw(64)) });
  }
  return p;
}

/** validatorUpdate reads validator.update (encoding.md 3.1). */
function validatorUpdate(r, p) {
  const op = r.u8();
  p.op = VALIDATOR_OPS[op];
  if (!p.op) throw new Error(`validator.update: unknown op ${op}`);
  p.public_key = r.hash();
  p.power = r.u64();
  const name = r.text16(); if (name) p.name = name;
  const addr = r.text16(); if (addr) p.p2p_addr = addr;
  if ((p.op === 'add' || p.op === 'set_power') && p.power === 0n) throw new Error(`validator.update: ${p.op} needs a positive power`);
  if (p.op !== 'add' && (name || addr)) throw new Error(`validator.update: ${p.op} takes no name or address`);
  if (p.op === 'remove' && p.power !== 0n) throw new Error('validator.update: remove takes no power');
  return approvals(r, p);
}

/** roleChange reads role.grant and role.revoke (encoding.md 3.1) with Go's well-formedness rules. */
function roleChange(r, p) {
  const raw = r.bytes16();
  if (raw.length > MAX_ROLE_BYTES) throw new Error(`role: ${raw.length} bytes, limit ${MAX_ROLE_BYTES}`);
  p.role = dec.decode(raw);
  if (!/^[a-z][a-z0-9_]*$/.test(p.role) || p.role === 'anyone') throw new Error(`role ${JSON.stringify(p.role)} is not a role name`);
  p.address = hex(r.raw(20));
  return approvals(r, p);
}

/** base64 is the standard, padded base64 of bytes: the JSON form of a contract's code and arguments. */
export function base64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** FIELD_TX_TYPES are the payment field transactions (encoding.md 9). */
export const FIELD_TX_TYPES = ['field.open', 'field.close_unilateral', 'field.challenge', 'field.dispute', 'field.close'];

// Limits of a field's lists, as the Go decoder enforces them (types/field.go).
const MAX_FIELD_MEMBERS = 64;
const MAX_FIELD_PROOF_PATH = 64;
const MAX_FIELD_PENALTIES = 4096;
const MAX_PENALTY_REASON = 64;

function count(r, what, limit) {
  const n = r.u16();
  if (n > limit) throw new Error(`${what}: ${n} entries, limit ${limit}`);
  return n;
}
function sigs(r, what) { const n = count(r, what, MAX_FIELD_MEMBERS); const out = []; for (let i = 0; i < n; i++) out.push(hex(r.raw(64))); return out; }
function u64s(r, what) { const n = count(r, what, MAX_FIELD_MEMBERS); const out = []; for (let i = 0; i < n; i++) out.push(r.u64()); return out; }

/** fieldTerms reads a field's terms (encoding.md 9) into their JSON form. */
function fieldTerms(r, p) {
  p.field_id = r.hash();
  p.leader = r.hash();
  const n = count(r, 'members', MAX_FIELD_MEMBERS);
  p.members = [];
  for (let i = 0; i < n; i++) p.members.push({ key: r.hash(), deposit: r.u64() });
  p.challenge_period = r.u64();
  p.expiry = r.u64();
  p.penalty = r.u64();
  return p;
}

/** fieldClaim reads a state claim (field.close, field.close_unilateral, field.challenge). */
function fieldClaim(r, p) {
  p.field_id = r.hash();
  p.state = r.u64();
  p.root = r.hash();
  p.balances = u64s(r, 'balances');
  p.signatures = sigs(r, 'signatures');
  return p;
}

/** fieldPayment reads one payment of a field's log (encoding.md 9). */
function fieldPayment(r) {
  return { seq: r.u64(), from: r.u16(), to: r.u16(), amount: r.u64(), payer_seq: r.u64(), payer_sig: hex(r.raw(64)), balances: u64s(r, 'payment balances') };
}

/** decodeFieldPayment reads a payment's canonical bytes (its leaf is SHA-256 of them). */
export function decodeFieldPayment(b) {
  const r = new Reader(b);
  const p = fieldPayment(r);
  r.end();
  return p;
}

function fieldDispute(r, p) {
  p.field_id = r.hash();
  p.payment = fieldPayment(r);
  const index = r.u64();
  const size = r.u64();
  const n = count(r, 'proof path', MAX_FIELD_PROOF_PATH);
  const path = [];
  for (let i = 0; i < n; i++) path.push(r.hash());
  p.proof = { index, size, path };
  return p;
}

/** decodeTx reads a signed transaction (encoding.md 3.1); unsigned is its bytes without the signature. */
export function decodeTx(b) {
  const r = new Reader(b);
  const t = {};
  const version = r.u8();
  if (version !== 1) throw new Error(`tx version ${version}`);
  t.chain_id = r.text16();
  const ty = r.u8();
  t.type = TX_TYPES[ty];
  if (!t.type) throw new Error(`unknown tx type ${ty}`);
  t.sender = r.hash();
  t.nonce = r.u64();
  t.timestamp = r.i64();
  const p = {};
  switch (t.type) {
    case 'transfer': p.to = hex(r.raw(20)); p.amount = r.u64(); break;
    case 'kv.put': p.key = r.text16(); p.value = r.text32(); if (r.bool()) p.expect_version = r.u64(); break;
    case 'kv.delete': p.key = r.text16(); if (r.bool()) p.expect_version = r.u64(); break;
    case 'record': p.document = r.text32(); break;
    case 'blob.record': {
      p.document = r.text32();
      const n = count(r, 'blobs', MAX_TX_BLOBS);
      p.blobs = [];
      for (let i = 0; i < n; i++) p.blobs.push({ hash: r.hash(), size: r.u64() });
      break;
    }
    case 'field.open': fieldTerms(r, p); p.joins = sigs(r, 'joins'); break;
    case 'field.close_unilateral': case 'field.challenge': case 'field.close': fieldClaim(r, p); break;
    case 'field.dispute': fieldDispute(r, p); break;
    case 'contract.deploy': p.code = base64(r.bytes32()); break;
    case 'contract.instantiate': {
      p.name = r.text16(); p.code_hash = r.hash(); p.owner = hex(r.raw(20));
      const args = r.bytes32(); if (args.length) p.args = base64(args);
      p.gas_limit = r.u64();
      break;
    }
    case 'contract.invoke': {
      p.name = r.text16(); p.function = r.text16();
      const args = r.bytes32(); if (args.length) p.args = base64(args);
      p.gas_limit = r.u64();
      const funds = r.u64(); if (funds) p.funds = funds;
      break;
    }
    case 'contract.upgrade': p.name = r.text16(); p.code_hash = r.hash(); break;
    case 'role.grant': case 'role.revoke': roleChange(r, p); break;
    case 'validator.update': validatorUpdate(r, p); break;
    case 'validator.register': {
      p.public_key = r.hash();
      const name = r.bytes16(); if (name.length > MAX_VALIDATOR_NAME_BYTES) throw new Error(`name: ${name.length} bytes`);
      p.name = dec.decode(name);
      const addr = r.bytes16(); if (addr.length > MAX_VALIDATOR_ADDR_BYTES) throw new Error(`p2p_addr: ${addr.length} bytes`);
      p.p2p_addr = dec.decode(addr);
      p.commission_bp = r.u16();
      p.key_signature = hex(r.raw(64));
      break;
    }
    case 'stake.delegate': case 'stake.undelegate': p.validator = r.hash(); p.amount = r.u64(); break;
    case 'stake.vote': {
      const n = count(r, 'candidates', MAX_VOTES);
      p.candidates = [];
      for (let i = 0; i < n; i++) p.candidates.push(r.hash());
      break;
    }
    case 'validator.unjail': p.validator = r.hash(); break;
    case 'evidence.submit': {
      p.validator = r.hash();
      const ev = r.bytes16(); if (ev.length > MAX_EVIDENCE_BYTES) throw new Error(`evidence: ${ev.length} bytes`);
      p.evidence = hex(ev);
      break;
    }
  }
  t.payload = p;
  t.unsigned = b.subarray(0, r.o);
  t.signature = hex(r.raw(64));
  r.end();
  return t;
}

/** decodeReceipt reads a receipt (encoding.md 5) and derives its result bytes (the reason left out). */
export function decodeReceipt(b) {
  const r = new Reader(b);
  const tx_hash = r.hash();
  const ok = r.bool();
  const code = r.text16();
  const codeEnd = r.o;
  const reason = r.text16();
  const verStart = r.o;
  const version = r.u64();
  let contract;
  if (r.o < b.length) {
    // The contract section: gas used and events, inside the result bytes.
    const tag = r.u8();
    if (tag !== 1) throw new Error(`receipt section ${tag}`);
    contract = { gas_used: r.u64(), events: [] };
    for (let n = r.u16(); n > 0; n--) {
      const name = dec.decode(r.raw(r.u8()));
      contract.events.push({ contract: name, name: r.text16(), data_hex: hex(r.bytes32()) });
    }
  }
  r.end();
  const result = concat(b.subarray(0, codeEnd), b.subarray(verStart));
  return { tx_hash, ok, code, reason, version, contract, result };
}

/** decodeKVEntry reads a key's state value (encoding.md 7). */
export function decodeKVEntry(b) {
  const r = new Reader(b);
  const e = { version: r.u64(), height: r.u64(), tx_hash: r.hash(), deleted: r.bool() };
  e.value = r.text32();
  r.end();
  return e;
}

/** decodeAccount reads an account's state value (encoding.md 7). */
export function decodeAccount(b) {
  const r = new Reader(b);
  const a = { balance: r.u64(), nonce: r.u64() };
  r.end();
  return a;
}

export const FIELD_STATUSES = ['open', 'closing', 'settled'];
export const CLOSE_KINDS = ['cooperative', 'unilateral', 'challenge', 'expiry', 'dispute'];
/** NO_MEMBER is a pending close's submitter when no member answers for it. */
export const NO_MEMBER = 0xffff;

/**
 * decodeField reads a payment field's state entry (encoding.md 9, "Field
 * entry") into the API's JSON form of it: `pending` only when there is a
 * pending close, `final` only when non-empty, `settled_at` only when not 0.
 */
export function decodeField(b) {
  const r = new Reader(b);
  const f = fieldTerms(r, {});
  const st = r.u8();
  if (st >= FIELD_STATUSES.length) throw new Error(`unknown status ${st}`);
  f.status = FIELD_STATUSES[st];
  f.opened_at = r.u64();
  f.open_tx = r.hash();
  f.due = r.u64();
  if (r.bool()) {
    const k = r.u8();
    if (k >= CLOSE_KINDS.length) throw new Error(`unknown close kind ${k}`);
    f.pending = {
      kind: CLOSE_KINDS[k], state: r.u64(), root: r.hash(), balances: u64s(r, 'balances'),
      submitter: r.u16(), height: r.u64(), tx_hash: r.hash(), deadline: r.u64(),
    };
  }
  const n = r.u16();
  if (n > MAX_FIELD_PENALTIES) throw new Error(`${n} penalties`);
  f.penalties = [];
  for (let i = 0; i < n; i++) {
    const from = r.u16(), to = r.u16(), amount = r.u64();
    const reason = r.bytes16();
    if (reason.length > MAX_PENALTY_REASON) throw new Error(`penalty reason of ${reason.length} bytes, limit ${MAX_PENALTY_REASON}`);
    f.penalties.push({ from, to, amount, reason: lax.decode(reason) }); // Go reads any bytes; its JSON shows invalid UTF-8 as U+FFFD
  }
  const fin = u64s(r, 'final');
  if (fin.length) f.final = fin;
  const settled = r.u64();
  if (settled) f.settled_at = settled;
  r.end();
  return f;
}

/** signBytes prefixes msg with its signing domain (encoding.md 2). */
export function signBytes(domain, msg) {
  const d = utf8(domain);
  return concat(u8(d.length), d, msg);
}

/** voteSignBytes are the bytes a vote signs (encoding.md 6.1); type 2 is a precommit. */
export function voteSignBytes(chainId, type, height, round, blockHash) {
  return signBytes('cairn/vote/v1', concat(bytes16(utf8(chainId)), u8(type), u64(height), u32(round), unhex(blockHash, 32)));
}

/** txSignBytes are the bytes a transaction's signature covers (encoding.md 3.2). */
export function txSignBytes(unsigned) { return signBytes('cairn/tx/v1', unsigned); }

/** validatorSetBytes is what the validators hash covers (encoding.md 6.4). */
export function validatorSetBytes(vals) {
  const parts = [u16(vals.length)];
  for (const v of vals) parts.push(unhex(v.public_key, 32), u64(v.power));
  return concat(...parts);
}

/** quorum is the least power strictly above two thirds of total (encoding.md 6.4). */
export function quorum(total) { return (2n * BigInt(total)) / 3n + 1n; }

/** stateKey is a state tree key: 'k' ‖ key for user keys, 'a' ‖ address for accounts (encoding.md 7). */
export function kvStateKey(key) { return concat(Uint8Array.of(0x6b), utf8(key)); }
export function accountStateKey(address) { return concat(Uint8Array.of(0x61), unhex(address, 20)); }
/** fieldStateKey is a payment field's state key: 'f' ‖ field id (encoding.md 7). */
export function fieldStateKey(id) { return concat(Uint8Array.of(0x66), unhex(id, 32)); }

/**
 * canonical writes a JSON value with numbers and BigInts as decimal
 * strings and object members sorted, so two forms of one value (the API's
 * JSON, a decoding of bytes) compare as strings.
 */
export function canonical(v) {
  if (typeof v === 'bigint' || typeof v === 'number') return JSON.stringify(String(v));
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v === undefined ? null : v);
}

/**
 * parseJSON parses API JSON keeping integers beyond 2^53 exact, as BigInt
 * (docs/api.md: numbers are unsigned 64-bit). Smaller integers stay numbers.
 */
export function parseJSON(text) {
  return JSON.parse(text, (k, v, ctx) => {
    if (typeof v === 'number' && !Number.isSafeInteger(v) && ctx && /^-?\d+$/.test(ctx.source)) return BigInt(ctx.source);
    return v;
  });
}

/** stringifyJSON is JSON.stringify that writes BigInt as digits. */
export function stringifyJSON(v, indent) {
  const marks = [];
  const s = JSON.stringify(v, (k, x) => {
    if (typeof x !== 'bigint') return x;
    marks.push(x.toString());
    return `\u0000big${marks.length - 1}\u0000`;
  }, indent);
  return s === undefined ? s : s.replace(/"\\u0000big(\d+)\\u0000"/g, (_, i) => marks[Number(i)]);
}
