import { expect, test, type APIRequestContext } from "@playwright/test";
import { bearer, deskAndPhone, dialChat, freshNumber, PASSWORD, signIn } from "./desk";

// A supervisor steps into a live chat call and gives it back, in a real browser on the real platform:
// the customer's dialer says who they are talking with, sees the supervisor's lines as theirs, gets no
// answer from the agent while the person has the call, and hears from the agent again once it is back.

const run = Date.now().toString(36);
const ADMIN = { email: "admin@demo.local", password: PASSWORD };

/** A supervisor of their own with one agent (``digit`` keeps each test's number apart), set up through the API. */
async function floor(request: APIRequestContext, name: string, digit: number) {
  const supervisor = { name: `${name} ${run}`, email: `${name.split(" ")[0].toLowerCase()}-${run}@e2e.local`, password: "tess-password-1" };
  const agent = { name: `Orders desk ${digit} ${run}`, number: freshNumber(digit) };
  const greeting = `Hello, this is ${agent.name}. How can I help?`;
  const made = await request.post("/api/supervisors", {
    headers: await bearer(request, ADMIN.email, ADMIN.password),
    data: { email: supervisor.email, password: supervisor.password, full_name: supervisor.name },
  });
  expect(made.ok()).toBeTruthy();
  const created = await request.post("/api/agents", {
    headers: await bearer(request, supervisor.email, supervisor.password),
    data: { name: agent.name, phone_number: agent.number, greeting, tools: [{ name: "order_lookup", requires_approval: false }] },
  });
  expect(created.ok()).toBeTruthy();
  return { supervisor, agent, greeting };
}

test("a supervisor takes a chat call over, writes to the customer, and hands it back to the agent", async ({ browser, request }) => {
  test.setTimeout(60_000);
  const { supervisor, agent, greeting } = await floor(request, "Tess Takeover", 6);
  const { phone, card } = await deskAndPhone(browser, supervisor, agent.name);
  const call = await dialChat(phone, `jo-${run}@example.com`, agent.name);
  const status = call.getByTestId("call-status");
  const agentLines = call.locator(".bubble-agent");
  await expect(call.getByText(greeting)).toBeVisible();
  await expect(card.getByText(greeting)).toBeVisible();

  // Take over: the desk has the call, the agent tells the customer who is joining and falls silent.
  await card.getByRole("button", { name: "Take over" }).click();
  await expect(card.getByText("You have this call: the agent is silent until you hand it back")).toBeVisible();
  await expect(card.getByTestId("agent-status")).toHaveText("taken over");
  await expect(status).toHaveText(`You are talking with ${supervisor.name}, supervisor`);
  await expect(agentLines.filter({ hasText: `${supervisor.name} from our team is joining` })).toBeVisible();
  const agentLinesBefore = await agentLines.count();

  await card.getByLabel("Message to the customer").fill("Hi, I'm the team lead. What can I do for you?");
  await card.getByRole("button", { name: "Send" }).click();
  await expect(call.locator(".bubble-supervisor").filter({ hasText: "Hi, I'm the team lead. What can I do for you?" })).toBeVisible();

  // The customer replies: the line reaches the desk, the dialer waits for the person, and the agent,
  // which decided when it wrote the line on the transcript, says nothing.
  await call.getByLabel("Message").fill("Where is my order ORD-1042?");
  await call.getByRole("button", { name: "Send" }).click();
  await expect(card.getByText("Where is my order ORD-1042?")).toBeVisible();
  await expect(call.getByTestId("agent-answering")).toHaveText(`${supervisor.name}, supervisor is typing…`);
  await expect(agentLines).toHaveCount(agentLinesBefore);

  // Hand back: the agent answers what the customer asked while the person had the call, once.
  await card.getByRole("button", { name: "Hand back" }).click();
  await expect(card.getByRole("button", { name: "Take over" })).toBeVisible();
  await expect(status).toHaveText(`Connected · ${agent.name} is back with you`);
  await expect(agentLines).toHaveCount(agentLinesBefore + 1);
  await expect(agentLines.last()).toContainText("ORD-1042");
  await expect(card.getByTestId("agent-status")).toHaveText("in call");

  await call.getByRole("button", { name: "Hang up" }).click();
  await expect(status).toHaveText("You hung up.");
});

test("a reloaded desk names who has the call, and an admin hands a colleague's call back from the admin dashboard", async ({ browser, request }) => {
  test.setTimeout(60_000);
  const { supervisor, agent, greeting } = await floor(request, "Hana Handback", 5);
  const { desk, phone, card } = await deskAndPhone(browser, supervisor, agent.name);
  const call = await dialChat(phone, `kim-${run}@example.com`, agent.name);
  const status = call.getByTestId("call-status");
  await expect(call.getByText(greeting)).toBeVisible();
  const [live] = await (await request.get("/api/calls", { headers: await bearer(request, supervisor.email, supervisor.password) })).json();

  // The admin takes the call over; the supervisor's desk, opened again, says who has it.
  const admin = await bearer(request, ADMIN.email, ADMIN.password);
  const taken = await request.post(`/api/calls/${live.id}/takeover`, { headers: admin });
  expect(taken.ok()).toBeTruthy();
  const adminName = (await taken.json()).name;
  await desk.reload();
  await expect(card.getByText(`${adminName} has this call: the agent is silent until handed back`)).toBeVisible();
  // Handed back at once, likely before the reloaded card's stream is open: the stream starts from where
  // the card's reads stood, so the hand-back reaches the card all the same.
  expect((await request.post(`/api/calls/${live.id}/handback`, { headers: admin })).ok()).toBeTruthy();
  await expect(card.getByRole("button", { name: "Take over" })).toBeVisible();

  // The supervisor takes it over; the admin's dashboard names them and hands the call back, once confirmed.
  await card.getByRole("button", { name: "Take over" }).click();
  await expect(card.getByText("You have this call: the agent is silent until you hand it back")).toBeVisible();
  const dashboard = await (await browser.newContext()).newPage();
  await signIn(dashboard, ADMIN.email, ADMIN.password);
  const held = dashboard.getByRole("region", { name: "Calls taken over" })
    .getByRole("listitem", { name: `Taken over: ${agent.name} with kim-${run}@example.com` });
  await expect(held.getByText(`${supervisor.name} has this call`)).toBeVisible();
  dashboard.once("dialog", (dialog) => void dialog.accept());
  await held.getByRole("button", { name: "Hand back" }).click();
  await expect(held).toBeHidden();
  await expect(card.getByRole("button", { name: "Take over" })).toBeVisible();
  await expect(status).toHaveText(`Connected · ${agent.name} is back with you`);

  await call.getByRole("button", { name: "Hang up" }).click();
  await expect(status).toHaveText("You hung up.");
});
