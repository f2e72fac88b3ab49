import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig, optOutHashSecret } from '../../common/config.js';
import { keyedPhoneHash, legacyPhoneHash, phoneHash, phoneHashes } from '../../common/opt-outs.js';
import { problemsOf } from '../support/config-problems.js';

const phone = '+447700900123';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const secretA = 'a'.repeat(32);
const secretB = 'b'.repeat(32);
const valid = { DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/db' };

describe('the opt-out phone hash', () => {
  it('is keyed: another secret gives another hash, and none is the plain SHA-256 a dictionary of numbers would find', () => {
    expect(keyedPhoneHash(phone, secretA)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyedPhoneHash(phone, secretA)).toBe(keyedPhoneHash(phone, secretA));
    expect(keyedPhoneHash(phone, secretA)).not.toBe(keyedPhoneHash(phone, secretB));
    expect(keyedPhoneHash(phone, secretA)).not.toBe(sha256(phone));
    expect(keyedPhoneHash('+447700900124', secretA)).not.toBe(keyedPhoneHash(phone, secretA));
  });

  it('uses the process key, and lookups also try the legacy unkeyed hash', () => {
    expect(phoneHash(phone)).toBe(keyedPhoneHash(phone, optOutHashSecret()));
    expect(phoneHash(phone)).not.toBe(sha256(phone));
    expect(legacyPhoneHash(phone)).toBe(sha256(phone));
    expect(phoneHashes(phone)).toEqual([phoneHash(phone), sha256(phone)]);
  });
});

describe('OPT_OUT_HASH_SECRET', () => {
  it('is required outside development and test, with a clear error', () => {
    expect(problemsOf({ ...valid, NODE_ENV: 'production' })).toEqual([
      'Invalid setting OPT_OUT_HASH_SECRET: is required when NODE_ENV is production (at least 32 characters, e.g. `openssl rand -hex 32`)',
    ]);
    expect(problemsOf({ ...valid, NODE_ENV: 'production', OPT_OUT_HASH_SECRET: 'short' })).toEqual([
      'Invalid setting OPT_OUT_HASH_SECRET: must be at least 32 characters',
    ]);
    expect(problemsOf({ ...valid, NODE_ENV: 'production', OPT_OUT_HASH_SECRET: secretA })).toEqual([]);
  });

  it('has a fixed development key when NODE_ENV is development, test or unset, and the set one wins everywhere', () => {
    const development = optOutHashSecret({});
    expect(development.length).toBeGreaterThanOrEqual(32);
    for (const NODE_ENV of ['development', 'test', '']) expect(optOutHashSecret({ NODE_ENV })).toBe(development);
    expect(optOutHashSecret({ NODE_ENV: 'test', OPT_OUT_HASH_SECRET: secretA })).toBe(secretA);
    expect(loadConfig({ ...valid, NODE_ENV: 'development' }).OPT_OUT_HASH_SECRET).toBeUndefined();
  });
});
