// The container's HEALTHCHECK: one image runs `api`, `worker` or `serve`, so it asks the API's
// port first and, where nothing listens there (a worker), the worker's health port.
const ports = [process.env.PORT ?? process.env.FLASK_PORT ?? '8000', process.env.WORKER_PORT ?? '8001'];
const TIMEOUT_MS = 4000;

for (const port of ports) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    process.exit(res.ok ? 0 : 1);
  } catch {
    // Nothing on this port (or no answer in time): try the next one.
  }
}
process.exit(1);
