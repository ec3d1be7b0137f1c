/**
 * A throw-away service-account key, generated per test run, in the JSON format Google issues.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface TestServiceAccount {
  /** The key file, as `GOOGLE_APPLICATION_CREDENTIALS` would name it. */
  keyFile: string;
  clientEmail: string;
  publicKey: KeyObject;
}

export async function createTestServiceAccount(dir: string): Promise<TestServiceAccount> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = 'ultra-dl-test@ultra-dl-test.iam.gserviceaccount.com';
  const key = {
    type: 'service_account',
    project_id: 'ultra-dl-test',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    client_id: '100000000000000000000',
    auth_uri: 'http://127.0.0.1:1/auth',
    // A closed local port: should anything try to fetch an OAuth token, it fails at once, offline.
    token_uri: 'http://127.0.0.1:1/token',
  };
  const keyFile = path.join(dir, 'service-account.json');
  await writeFile(keyFile, JSON.stringify(key), { mode: 0o600 });
  return { keyFile, clientEmail, publicKey };
}
