import { defineConfig } from "@playwright/test";
import { fileURLToPath } from "node:url";

// The whole platform (embedded NATS + PostgreSQL, every service, this app built into the gateway) on
// ports of its own and a fresh data directory, driven in Debian's Chromium (no browser downloads).
const PORT = Number(process.env.E2E_PORT ?? 8780);
const DATA_DIR = "test-results/platform-data";
const PYTHON = process.env.PLATFORM_PYTHON ?? "../.venv/bin/python";

export default defineConfig({
  testDir: "e2e",
  timeout: 180_000,
  expect: { timeout: 20_000 },
  workers: 1,
  reporter: [["list"]],
  outputDir: "test-results/output",
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium (CHROMIUM_PATH, else /usr/bin/chromium) through a wrapper that adds to
      // Playwright's own --disable-features list rather than replacing it (see the script).
      executablePath: fileURLToPath(new URL("./e2e/chromium.sh", import.meta.url)),
      args: [
        // Without these Chromium keeps calling Google's hosts, which this machine's closed network refuses.
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        // WebRTC in the sealed network namespace: candidates from the interface with the default route
        // only, and no name lookups but the loopback address (nothing else could answer).
        "--webrtc-ip-handling-policy=default_public_interface_only",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      ],
    },
  },
  webServer: {
    command:
      `rm -rf ${DATA_DIR} && exec ${PYTHON} -m embedded_stack --data-dir ${DATA_DIR} --port ${PORT} ` +
      `--nats-port ${PORT + 1} --nats-monitoring-port ${PORT + 2} --postgres-port ${PORT + 3} --demo-mcp-port ${PORT + 4} --room-server-port ${PORT + 5}`,
    url: `http://127.0.0.1:${PORT}/health`,
    timeout: 180_000,
    reuseExistingServer: false,
    // The launcher stops every service, NATS and PostgreSQL on SIGTERM; a kill would leave them running.
    gracefulShutdown: { signal: "SIGTERM", timeout: 60_000 },
    stdout: "ignore",
    stderr: "pipe",
    // Every spec signs in as the same few accounts from one address, faster than people do: the per-account
    // login limit (10 a minute) refused the voice spec's sign-in once the take-over specs had run quickly.
    env: { DEMO_PASSWORD: "e2e-password", NATS_URL: "", DATABASE_URL: "", GATEWAY_LOGIN_ATTEMPTS_PER_MINUTE: "100" },
  },
});
