// R-CRY-4 differential test: our SM3, HMAC-SM3, SM4 block and SM4-GCM
// (through crypto_check_tool) against sm-crypto, an independent pure-JS
// implementation of the GM algorithms, on random inputs.
//
// sm-crypto has no GCM mode (only ECB and CBC), so the reference SM4-GCM
// here is NIST SP 800-38D composed in a few lines of JS (GHASH over
// GF(2^128) with BigInt, GCTR) on top of sm-crypto's SM4 block: an
// independent GCM over an independent SM4.
//
// Usage: node sm_crypto_crosscheck.mjs path/to/crypto_check_tool [cases]
// Exit codes: 0 all agree, 1 a mismatch, 77 sm-crypto not installed
// (run `npm install` in tests/differential), reported as skipped by ctest.
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules', 'sm-crypto'))) {
  console.log('SKIP: tests/differential/node_modules/sm-crypto missing; run `npm install` in tests/differential');
  process.exit(77);
}
const { sm3, sm4 } = (await import('sm-crypto')).default;

const tool = process.argv[2];
const cases = Number(process.argv[3] ?? 1000);
if (!tool || !existsSync(tool)) {
  console.error(`crypto_check_tool not found at ${tool}; build it first (ninja crypto_check_tool)`);
  process.exit(1);
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const arg = (bytes) => (bytes.length === 0 ? '-' : hex(bytes));
const randomBuffer = (min, max) => randomBytes(randomInt(min, max + 1));

// ---- reference SM4 block and SM4-GCM from sm-crypto ----
const sm4Block = (key, block) =>
  Buffer.from(sm4.encrypt(Array.from(block), Array.from(key), { padding: 'none', output: 'array' }));

const toBig = (buf) => BigInt('0x' + (buf.length ? hex(buf) : '0'));
const R = 0xe1n << 120n;
function gfMultiply(x, y) {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}
function ghash(h, aad, ciphertext) {
  const padded = (b) => Buffer.concat([b, Buffer.alloc((16 - (b.length % 16)) % 16)]);
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.length * 8), 0);
  lengths.writeBigUInt64BE(BigInt(ciphertext.length * 8), 8);
  const data = Buffer.concat([padded(aad), padded(ciphertext), lengths]);
  let y = 0n;
  for (let i = 0; i < data.length; i += 16) y = gfMultiply(y ^ toBig(data.subarray(i, i + 16)), h);
  return Buffer.from(y.toString(16).padStart(32, '0'), 'hex');
}
function sm4GcmSeal(key, iv, aad, msg) {
  const h = toBig(sm4Block(key, Buffer.alloc(16)));
  const j0 = Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]);
  const ciphertext = Buffer.alloc(msg.length);
  const counter = Buffer.from(j0);
  for (let offset = 0; offset < msg.length; offset += 16) {
    counter.writeUInt32BE((counter.readUInt32BE(12) + 1) >>> 0, 12);  // inc32
    const stream = sm4Block(key, counter);
    for (let i = 0; i < 16 && offset + i < msg.length; i++) ciphertext[offset + i] = msg[offset + i] ^ stream[i];
  }
  const s = ghash(h, aad, ciphertext);
  const ej0 = sm4Block(key, j0);
  const tag = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) tag[i] = s[i] ^ ej0[i];
  return Buffer.concat([ciphertext, tag]);
}

// Self-check of the JS GCM against RFC 8998's SM4-GCM example before trusting it.
{
  const b = (s) => Buffer.from(s, 'hex');
  const got = sm4GcmSeal(b('0123456789abcdeffedcba9876543210'), b('00001234567800000000abcd'),
    b('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
    b('aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccddddddddddddddddeeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa'));
  const want = '17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d83de3541e4c2b58177e065a9bf7b62ec';
  if (hex(got) !== want) {
    console.error('reference JS SM4-GCM does not reproduce RFC 8998; the harness is broken');
    process.exit(1);
  }
}

// ---- build the cases ----
const lines = [];
const expected = [];
const labels = [];
function add(label, line, want) {
  labels.push(label);
  lines.push(line);
  expected.push(want);
}
for (let n = 0; n < cases; n++) {
  const msg = randomBuffer(0, 200);
  add('sm3', `sm3 ${arg(msg)}`, sm3(Array.from(msg)));

  const macKey = randomBuffer(1, 100);  // sm-crypto refuses an empty key; >64 covers key hashing
  add('hmac-sm3', `hmac-sm3 ${hex(macKey)} ${arg(msg)}`, sm3(Array.from(msg), { key: Array.from(macKey) }));

  const key = randomBytes(16);
  const block = randomBytes(16);
  add('sm4-ecb', `sm4-ecb ${hex(key)} ${hex(block)}`, hex(sm4Block(key, block)));

  const iv = randomBytes(12);
  const aad = randomBuffer(0, 48);
  const text = randomBuffer(0, 100);
  const sealed = sm4GcmSeal(key, iv, aad, text);
  add('sm4-gcm-seal', `sm4-gcm-seal ${hex(key)} ${hex(iv)} ${arg(aad)} ${arg(text)}`, hex(sealed));
  add('sm4-gcm-open', `sm4-gcm-open ${hex(key)} ${hex(iv)} ${arg(aad)} ${hex(sealed)}`, hex(text));
  const forged = Buffer.from(sealed);
  forged[randomInt(forged.length)] ^= 1 << randomInt(8);
  add('sm4-gcm-open-forged', `sm4-gcm-open ${hex(key)} ${hex(iv)} ${arg(aad)} ${hex(forged)}`, 'error data_integrity');
}

const run = spawnSync(tool, [], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
if (run.status !== 0) {
  console.error(`crypto_check_tool failed: status ${run.status} ${run.stderr}`);
  process.exit(1);
}
const outputs = run.stdout.split('\n').slice(0, -1);
if (outputs.length !== lines.length) {
  console.error(`expected ${lines.length} answers, got ${outputs.length}`);
  process.exit(1);
}
const tally = {};
let mismatches = 0;
for (let i = 0; i < lines.length; i++) {
  tally[labels[i]] = (tally[labels[i]] ?? 0) + 1;
  if (outputs[i] !== expected[i]) {
    if (++mismatches <= 5) console.error(`MISMATCH ${labels[i]}: ${lines[i]}\n  ours:      ${outputs[i]}\n  sm-crypto: ${expected[i]}`);
  }
}
console.log(`compared ${lines.length} results with sm-crypto: ${JSON.stringify(tally)}; mismatches: ${mismatches}`);
process.exit(mismatches === 0 ? 0 : 1);
