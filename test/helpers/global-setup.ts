/**
 * vitest globalSetup: generates the test media once per machine before any test file runs
 * (SPEC §12), so no test pays for ffmpeg and parallel files never race to create it.
 */
import { ensureFixtures } from '../media/media-fixtures.js';

export default async function setup(): Promise<void> {
  await ensureFixtures();
}
