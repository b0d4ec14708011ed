import { expect, type APIRequestContext, type Browser, type Page } from "@playwright/test";

// What every end-to-end spec does the same way: sign in, open the supervisor's desk beside a customer's
// phone, and dial a chat call from the mock dialer.

/** The demo accounts' password (the platform is started with DEMO_PASSWORD, see playwright.config.ts). */
export const PASSWORD = "e2e-password";

/** Headers with a signed-in user's access token, for setting up through the API. */
export async function bearer(request: APIRequestContext, email: string, password: string) {
  const response = await request.post("/api/auth/login", { data: { email, password } });
  expect(response.ok()).toBeTruthy();
  return { Authorization: `Bearer ${(await response.json()).access_token}` };
}

/** A mock phone number of its own for a spec's agent: the series, then the clock's last seven digits. */
export const freshNumber = (series: number) => `+1-555-${series}${String(Date.now()).slice(-7)}`;

export async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The supervisor's live floor with the agent's card following its stream, and a phone-sized page beside it. */
export async function deskAndPhone(browser: Browser, supervisor: { email: string; password: string }, agentName: string) {
  const desk = await (await browser.newContext()).newPage();
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await signIn(desk, supervisor.email, supervisor.password);
  const card = desk.getByRole("article", { name: `Agent ${agentName}` });
  await expect(card.getByRole("status", { name: /Live updates: Live/ })).toBeVisible();
  return { desk, phone, card };
}

/** A chat call from the dialer's directory, once connected: the conversation's region. */
export async function dialChat(phone: Page, caller: string, agentName: string) {
  await phone.goto("/dial");
  await phone.getByLabel("Your email").fill(caller);
  await phone.getByRole("button", { name: `Call ${agentName}` }).click();
  const call = phone.getByRole("region", { name: `Call with ${agentName}` });
  await expect(call.getByTestId("call-status")).toHaveText("Connected");
  return call;
}
