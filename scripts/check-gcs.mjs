#!/usr/bin/env node
/**
 * A one-minute check of a real Cloud Storage bucket before pointing ultra-dl at it. It makes the
 * calls the GCS adapter makes, with the same credentials: multipart and resumable upload, object
 * metadata, ranged download, V4 signing and a download through the signed URL, list by prefix, delete.
 *
 *   GCS_BUCKET_NAME=my-bucket GOOGLE_APPLICATION_CREDENTIALS=key.json node scripts/check-gcs.mjs
 *
 * Exit code 0 when every step passed, 1 when one failed, 2 on bad usage.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Storage } from '@google-cloud/storage';

const USAGE = `Usage: node scripts/check-gcs.mjs [--bucket NAME] [--credentials KEY.json] [--endpoint URL]

Uploads two small objects to the bucket (under ultra-dl-check/), reads them back, signs a V4 URL,
downloads through it, lists and deletes them. Takes well under a minute.

  --bucket NAME        the bucket (default: $GCS_BUCKET_NAME)
  --credentials FILE   a service-account key (default: $GOOGLE_APPLICATION_CREDENTIALS, else
                       Application Default Credentials)
  --endpoint URL       another JSON API endpoint, e.g. an emulator (requests go unauthenticated)
  -h, --help           this text`;

/** Above the adapter's resumable threshold (8 MiB), so the resumable path is exercised too. */
const RESUMABLE_BYTES = 9 * 1024 * 1024;
const SIGNED_URL_SECONDS = 120;

function fail(message, code = 1) {
  console.error(message);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    options: {
      bucket: { type: 'string' },
      credentials: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  fail(`${err.message}\n\n${USAGE}`, 2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const bucketName = args.bucket ?? process.env.GCS_BUCKET_NAME;
if (!bucketName) fail(`No bucket: set GCS_BUCKET_NAME or pass --bucket.\n\n${USAGE}`, 2);
const keyFilename = args.credentials ?? process.env.GOOGLE_APPLICATION_CREDENTIALS;

const storage = new Storage({
  ...(keyFilename ? { keyFilename } : {}),
  ...(args.endpoint ? { apiEndpoint: args.endpoint } : {}),
  retryOptions: { autoRetry: true, maxRetries: 2 },
});
const bucket = storage.bucket(bucketName);
const prefix = `ultra-dl-check/${randomUUID()}/`;
const disposition = `attachment; filename="check.txt"; filename*=UTF-8''check%20%C3%A9.txt`;
let failed = false;

async function step(name, fn, hint) {
  const started = Date.now();
  try {
    const detail = await fn();
    console.log(`ok    ${name}${detail ? ` (${detail})` : ''} ${Date.now() - started} ms`);
    return true;
  } catch (err) {
    failed = true;
    console.log(`FAIL  ${name}: ${String(err?.message ?? err).split('\n')[0]}`);
    if (hint) console.log(`      hint: ${hint}`);
    return false;
  }
}

function md5(data) {
  return createHash('md5').update(data).digest('base64');
}

async function upload(name, data, resumable) {
  await pipeline(
    Readable.from([data]),
    bucket.file(name).createWriteStream({
      resumable,
      ...(resumable ? { chunkSize: 8 * 1024 * 1024 } : {}),
      contentType: 'text/plain',
      metadata: { contentDisposition: disposition },
      validation: 'md5',
    }),
  );
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const small = Buffer.from(`ultra-dl bucket check ${new Date().toISOString()}\n`);
const large = randomBytes(RESUMABLE_BYTES);
const smallName = `${prefix}check.txt`;
const largeName = `${prefix}large.bin`;

console.log(`Checking gs://${bucketName}${args.endpoint ? ` at ${args.endpoint}` : ''} under ${prefix}`);
const reachable = await step(
  'bucket metadata (health probe)',
  async () => {
    const [meta] = await bucket.getMetadata();
    return meta.location ? `location ${meta.location}` : '';
  },
  'check the bucket name, and that the account has storage.buckets.get (e.g. roles/storage.legacyBucketReader)',
);
try {
  if (reachable) {
    await step('multipart upload', () => upload(smallName, small, false), 'the account needs storage.objects.create');
    await step('resumable upload', () => upload(largeName, large, true));
    await step('object metadata', async () => {
      const [meta] = await bucket.file(smallName).getMetadata();
      if (Number(meta.size) !== small.length) throw new Error(`size ${meta.size}, expected ${small.length}`);
      if (meta.contentType !== 'text/plain') throw new Error(`contentType ${meta.contentType}`);
      if (meta.contentDisposition !== disposition) throw new Error(`contentDisposition ${meta.contentDisposition}`);
      return `${meta.size} bytes`;
    }, 'the account needs storage.objects.get');
    await step('download, whole and by range', async () => {
      const whole = await readAll(bucket.file(largeName).createReadStream({ validation: 'md5' }));
      if (md5(whole) !== md5(large)) throw new Error('content differs');
      const part = await readAll(bucket.file(largeName).createReadStream({ start: 100, end: 199 }));
      if (!part.equals(large.subarray(100, 200))) throw new Error('range content differs');
    });
    await step(
      'signed URL (V4) fetched without credentials',
      async () => {
        const [url] = await bucket.file(smallName).getSignedUrl({
          version: 'v4',
          action: 'read',
          expires: Date.now() + SIGNED_URL_SECONDS * 1000,
          responseDisposition: disposition,
        });
        const res = await fetch(url);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
        if (!Buffer.from(await res.arrayBuffer()).equals(small)) throw new Error('content differs');
        const served = res.headers.get('content-disposition');
        if (served !== disposition) throw new Error(`Content-Disposition ${served}`);
        return new URL(url).host;
      },
      'signing needs a service-account key file, or iam.serviceAccounts.signBlob on the account (roles/iam.serviceAccountTokenCreator)',
    );
    await step('list by prefix', async () => {
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
      const names = files.map((f) => f.name).sort();
      if (names.join() !== [largeName, smallName].sort().join()) throw new Error(`listed ${names.join(', ')}`);
      return `${names.length} objects`;
    }, 'the account needs storage.objects.list');
  }
} finally {
  if (reachable) {
    await step('delete', async () => {
      for (const name of [smallName, largeName]) await bucket.file(name).delete({ ignoreNotFound: true });
      const [files] = await bucket.getFiles({ prefix });
      if (files.length > 0) throw new Error(`${files.length} objects left under ${prefix}`);
    }, 'the account needs storage.objects.delete; remove the ultra-dl-check/ objects by hand');
  }
}
console.log(failed ? 'GCS check FAILED' : 'GCS check passed: ultra-dl can use this bucket');
process.exit(failed ? 1 : 0);
