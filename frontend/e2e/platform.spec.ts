import { expect, test, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { deskAndPhone, dialChat, freshNumber, PASSWORD, signIn } from "./desk";

// The product end to end in a real browser: an admin creates a supervisor; the supervisor creates an
// agent; a customer calls it from the mock dialer in one browser context while the supervisor watches
// live in another, allows a tool request, whispers and injects; after hang-up the call is in the archive
// with its summary. Screenshots of each screen go to ../test-artifacts/screenshots.

const SHOTS = "../test-artifacts/screenshots";
const run = Date.now().toString(36);
const supervisor = { name: `Sam Tester ${run}`, email: `sam-${run}@e2e.local`, password: "sam-password-1" };
const agent = { name: `Returns ${run}`, number: freshNumber(7) };

mkdirSync(SHOTS, { recursive: true });
const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

test.describe.configure({ mode: "serial" });

test("an admin creates a supervisor and sees the dashboards", async ({ page }) => {
  await signIn(page, "admin@demo.local", PASSWORD);
  await expect(page.getByRole("heading", { name: "Admin dashboard" })).toBeVisible();
  await expect(page.getByRole("status", { name: /Live updates: Live/ })).toBeVisible();
  await expect(page.getByRole("article", { name: "Supervisor Dana Whitfield" })).toBeVisible();
  await expect(page.getByRole("figure", { name: "FCR (%) over time" })).toBeVisible();
  await expect(page.getByRole("cell", { name: "Dana Whitfield" })).toBeVisible(); // the leaderboard
  const services = page.getByRole("table", { name: "Services" });
  await expect(services.getByRole("row", { name: /agent-worker/ })).toContainText("brain: local-minilm");
  await expect(services.getByRole("row")).toHaveCount(7); // the header and the six services
  await expect(page.getByTestId("dead-letter-count")).toBeVisible();
  await shot(page, "admin-dashboard");

  await page.getByRole("link", { name: "Supervisors" }).click();
  const form = page.getByRole("form", { name: "New supervisor" });
  await form.getByLabel("Full name").fill(supervisor.name);
  await form.getByLabel("Email").fill(supervisor.email);
  await form.getByLabel("Initial password").fill(supervisor.password);
  await form.getByRole("button", { name: "Create supervisor" }).click();
  await expect(page.getByRole("status")).toHaveText(`Created ${supervisor.email}`);
  await expect(page.getByRole("cell", { name: supervisor.email })).toBeVisible();
  await shot(page, "admin-supervisors");

  // A supervisor cannot reach admin pages.
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, supervisor.email, supervisor.password);
  await expect(page.getByRole("heading", { name: "Live floor" })).toBeVisible();
  await page.goto("/admin/supervisors");
  await expect(page).toHaveURL(/\/supervisor$/);
});

test("a supervisor creates an agent", async ({ page }) => {
  await signIn(page, supervisor.email, supervisor.password);
  await page.getByRole("link", { name: "Agents" }).click();
  await page.getByRole("button", { name: "New agent" }).click();
  const form = page.getByRole("form", { name: "New agent" });
  await form.getByLabel("Name").fill(agent.name);
  await form.getByLabel("Mock phone number").fill(agent.number);
  await form.getByLabel("Greeting").fill(`Hello, this is ${agent.name}. How can I help?`);
  await form.getByLabel("Tags (comma-separated)").fill("refund, shipping");
  await form.getByRole("checkbox", { name: /order_lookup/ }).check();
  await form.getByRole("checkbox", { name: /refund_order/ }).check();
  await expect(form.getByRole("checkbox", { name: "needs my approval" }).nth(1)).toBeChecked();
  await form.getByRole("button", { name: "Create agent" }).click();
  await expect(page.getByRole("status")).toHaveText(`Created ${agent.name}`);
  await shot(page, "supervisor-agents");
});

test("a customer calls while the supervisor watches, allows a refund, whispers, and finds the call archived", async ({ browser }) => {
  const { desk, phone, card } = await deskAndPhone(browser, supervisor, agent.name);
  const call = await dialChat(phone, `jo-${run}@example.com`, agent.name);
  await expect(call.getByText(`Hello, this is ${agent.name}. How can I help?`)).toBeVisible();
  await expect(card.getByText(`Hello, this is ${agent.name}. How can I help?`)).toBeVisible(); // live on the desk
  await expect(card.getByTestId("agent-status")).toHaveText("in call");
  await expect(card.getByTestId("call-line")).toContainText("chat · answered by local engine (MiniLM)");

  await call.getByLabel("Message").fill("The shoes arrived damaged, I want a refund for ORD-1042");
  await call.getByRole("button", { name: "Send" }).click();
  const request = desk.getByRole("group", { name: "Tool request refund_order" });
  await expect(request).toBeVisible();
  await expect(request.getByText(/s left/)).toBeVisible();
  await expect(card.getByTestId("sentiment")).not.toHaveText("–");
  await shot(desk, "supervisor-live");
  await request.getByRole("button", { name: "Allow" }).click();
  await expect(call.getByText(/refunded \$89\.90 on order ORD-1042/)).toBeVisible();
  await expect(card.getByText(/refunded \$89\.90 on order ORD-1042/)).toBeVisible();
  await shot(phone, "dialer-call");

  await card.getByRole("button", { name: "Whisper" }).click();
  await expect(card.getByTestId("agent-status")).toHaveText("paused");
  await expect(card.getByText("Agent paused: type your instructions")).toBeVisible();
  await card.getByLabel("Instructions for the agent").fill("Offer a 10% voucher for the trouble.");
  await card.getByRole("button", { name: "Inject" }).click();
  await expect(card.getByText(/Received/)).toBeVisible();

  // The desk opens the archive before the call ends: the call appears there without a reload.
  await desk.getByRole("link", { name: "Archive" }).click();
  await desk.getByLabel("Agent").selectOption({ label: agent.name });
  await desk.getByLabel("Words").fill(`jo-${run}@example.com`);
  await desk.getByRole("button", { name: "Search" }).click();
  await expect(desk.getByRole("status").filter({ hasText: "calls" })).toHaveText("0 calls");
  await call.getByRole("button", { name: "Hang up" }).click();
  await expect(call.getByTestId("call-status")).toHaveText("You hung up.");
  await desk.getByRole("link", { name: new RegExp(agent.name) }).first().click();
  await expect(desk.getByTestId("summary")).toContainText("ORD-1042");
  await expect(desk.getByTestId("brain")).toHaveText("local engine (MiniLM)");
  await expect(desk.getByRole("region", { name: "Tool decisions" }).getByText(/refund_order .* executed/)).toBeVisible();
  await shot(desk, "supervisor-archive-call");
  await desk.getByRole("link", { name: "Live" }).click();
  await expect(desk.getByText(new RegExp(`${agent.name}: call (resolved|ended unresolved)`))).toBeVisible();
});

test("the app installs as a PWA and its shell opens offline", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/login");
  const manifest = await (await page.request.get("/manifest.webmanifest")).json();
  expect(manifest).toMatchObject({ display: "standalone", start_url: "/" });
  expect(manifest.icons.map((icon: { sizes: string }) => icon.sizes)).toEqual(expect.arrayContaining(["192x192", "512x512"]));
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.reload(); // now controlled by the service worker
  await context.setOffline(true);
  await page.goto("/dial");
  await expect(page.getByRole("heading", { name: "Phone" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("cannot be reached"); // the directory needs the network
  await context.close();
});

test("a second caller waits in the queue, sees their place, and is connected when the line frees", async ({ browser }) => {
  const phones = await Promise.all([0, 1].map(async () => (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()));
  for (const phone of phones) await phone.goto("/dial");
  await phones[0].getByRole("button", { name: "Call Store Info" }).click();
  const first = phones[0].getByRole("region", { name: "Call with Store Info" });
  await expect(first.getByTestId("call-status")).toHaveText("Connected");
  await phones[1].getByRole("button", { name: "Call Store Info" }).click();
  const second = phones[1].getByRole("region", { name: "Call with Store Info" });
  await expect(second.getByTestId("call-status")).toHaveText("All agents are busy. You are number 1 in the queue.");
  await shot(phones[1], "dialer-queued");
  await first.getByRole("button", { name: "Hang up" }).click();
  await expect(second.getByTestId("call-status")).toHaveText("Connected");
  await expect(second.getByText(/Hello, you have reached Acme Store Store Info/)).toBeVisible();
  await second.getByRole("button", { name: "Hang up" }).click();
});
