#!/usr/bin/env node
// An independent verifier of family-ledger evidence bundles, written from docs/evidence-format.md
// alone (no code of the ledger), with nothing but Node's built-in modules.
//
//   node verify_bundle.js BUNDLE.json --public-key HEX [--anchor HEX]
//
// Prints {"ok": bool, "checks": [{"check", "ok", "detail"}]} and exits 0 when every check holds,
// 1 otherwise, 2 on a usage error. It checks the cryptography (canonical form, bundle digest,
// record digests, Merkle inclusion, checkpoint digests, chain and Ed25519 signatures, anchor);
// re-running the allocation (the replay) needs the ledger's rules and is left to `ledger verify-bundle`.
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const FORMAT = 'family-ledger-evidence-bundle/1';
const CONTEXT = Buffer.from('family-ledger/checkpoint/v1\n', 'ascii');
const RECORD_PREFIX = Buffer.from('ledger-record/1', 'ascii');
const CHECKPOINT_FIELDS = ['sequence', 'first_position', 'position', 'record_count', 'head_sha256',
  'merkle_root_sha256', 'sealed_at', 'previous_sha256'];
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const HEX64 = /^[0-9a-f]{64}$/;

function sha256(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function canonical(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']';
  const keys = Object.keys(value).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(value[k])).join(',') + '}';
}

function u64(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function field(buf) {
  return Buffer.concat([u64(buf.length), buf]);
}

function recordDigest(e) {
  return sha256(RECORD_PREFIX, field(Buffer.from(e.originator_id, 'ascii')), u64(e.originator_version),
    field(Buffer.from(e.topic, 'utf8')), field(Buffer.from(e.state, 'utf8')));
}

const leafHash = (position, digest) => sha256(Buffer.from([0]), u64(position), digest);
const nodeHash = (left, right) => sha256(Buffer.from([1]), left, right);

// RFC 9162 section 2.1.3.2.
function rootFromPath(index, size, leaf, path) {
  if (index >= size) return null;
  let fn = index, sn = size - 1, r = leaf;
  for (const hex of path) {
    const p = Buffer.from(hex, 'hex');
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

function checkpointContent(c) {
  const content = {};
  for (const k of CHECKPOINT_FIELDS) content[k] = c[k];
  if (c.covers !== undefined && c.covers !== null) content.covers = c.covers;  // what else it seals
  return Buffer.from(canonical(content), 'utf8');
}

function main(argv) {
  const args = { file: null, publicKey: null, anchor: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--public-key') args.publicKey = (argv[++i] || '').toLowerCase();
    else if (argv[i] === '--anchor') args.anchor = (argv[++i] || '').toLowerCase();
    else args.file = argv[i];
  }
  if (!args.file || !HEX64.test(args.publicKey || '') || (args.anchor !== null && !HEX64.test(args.anchor))) {
    process.stderr.write('usage: node verify_bundle.js BUNDLE.json --public-key HEX64 [--anchor HEX64]\n');
    return 2;
  }
  const checks = [];
  const add = (check, ok, detail) => { checks.push({ check, ok: Boolean(ok), detail }); return ok; };
  const raw = fs.readFileSync(args.file);
  try {
    const text = raw.toString('utf8');
    const bundle = JSON.parse(text);
    add('format', bundle.format === FORMAT, `format is ${FORMAT}`);
    add('canonical', Buffer.from(canonical(bundle) + '\n', 'utf8').equals(raw),
      'the file is the canonical JSON of its content plus a newline');
    const body = Object.assign({}, bundle);
    delete body.bundle_sha256;
    add('bundle_digest', sha256(Buffer.from(canonical(body), 'utf8')).toString('hex') === bundle.bundle_sha256,
      'sha256 of the canonical content without bundle_sha256');

    // Checkpoints: digest, chain, signature.
    const cps = bundle.checkpoints;
    let chainOk = cps.length > 0, sigProblems = [];
    const bySeq = new Map();
    const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(args.publicKey, 'hex')]),
      format: 'der', type: 'spki' });
    cps.forEach((c, i) => {
      const content = checkpointContent(c);
      chainOk = chainOk && sha256(content).toString('hex') === c.checkpoint_sha256;
      if (i > 0) {
        const p = cps[i - 1];
        chainOk = chainOk && c.previous_sha256 === p.checkpoint_sha256 && c.sequence === p.sequence + 1
          && c.first_position > p.position;
      } else if (c.sequence === 1) {
        chainOk = chainOk && c.previous_sha256 === '0'.repeat(64);
      }
      if (!c.signature) sigProblems.push(`checkpoint ${c.sequence} unsigned`);
      else if (c.public_key !== args.publicKey) sigProblems.push(`checkpoint ${c.sequence} signed by another key`);
      else if (!crypto.verify(null, Buffer.concat([CONTEXT, content]), key, Buffer.from(c.signature, 'hex'))) {
        sigProblems.push(`checkpoint ${c.sequence} signature does not verify`);
      }
      bySeq.set(c.sequence, c);
    });
    chainOk = chainOk && cps[cps.length - 1].checkpoint_sha256 === bundle.anchor;
    add('checkpoint_chain', chainOk, 'digests recomputed; each checkpoint names the previous one; the last is the anchor');
    add('checkpoint_signatures', sigProblems.length === 0,
      'every checkpoint signed (Ed25519) by the public key given' + (sigProblems.length ? ': ' + sigProblems.join('; ') : ''));

    // Events: record digest, leaf, Merkle path to the signed root.
    const bad = [];
    const digests = new Set();
    let needed = 0;
    for (const e of bundle.events) {
      const digest = recordDigest(e);
      const c = bySeq.get(e.proof.checkpoint);
      let ok = digest.toString('hex') === e.record_sha256 && c !== undefined
        && c.first_position <= e.position && e.position <= c.position && e.proof.tree_size === c.record_count;
      if (ok) {
        const root = rootFromPath(e.proof.leaf_index, e.proof.tree_size, leafHash(e.position, digest), e.proof.path);
        ok = root !== null && root.toString('hex') === c.merkle_root_sha256;
      }
      if (!ok) bad.push(e.position);
      digests.add(`${e.position}:${e.record_sha256}`);
      needed = Math.max(needed, e.proof.checkpoint);
    }
    add('events_included', bad.length === 0 && bundle.events.length > 0,
      'each event hashes to its leaf and its path reaches its checkpoint root' + (bad.length ? ': failing ' + bad.join(', ') : ''));
    add('evidence_hashes', bundle.replay.evidence.every((v) => digests.has(`${v.position}:${v.record_sha256}`)),
      "the replay's evidence names events of the bundle by record digest");
    if (args.anchor !== null) {
      const hit = cps.find((c) => c.checkpoint_sha256 === args.anchor);
      add('anchor', hit !== undefined && hit.sequence >= needed,
        'the anchor given is a checkpoint of the chain at or after every event\'s checkpoint');
    }
  } catch (error) {
    add('structure', false, `${error.name}: ${error.message}`);
  }
  const ok = checks.every((c) => c.ok);
  process.stdout.write(JSON.stringify({ ok, checks }) + '\n');
  return ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
