// Drive the self-hosted /v1 API with the real assistant-cloud@0.2.2 client, as an app would.
// Usage: BASE_URL=… API_KEY=… WORKSPACE=… node cloud.mjs → prints a JSON report of what it saw.
// Every check throws on failure (the test then shows which); the report carries the values.
import assert from "node:assert/strict";

// Anonymous mode keeps its refresh token in localStorage; give Node an in-memory one.
const store = new Map();
globalThis.localStorage = {
  getItem: (key) => (store.has(key) ? store.get(key) : null),
  setItem: (key, value) => store.set(key, String(value)),
  removeItem: (key) => store.delete(key),
  clear: () => store.clear(),
  key: (index) => [...store.keys()][index] ?? null,
  get length() {
    return store.size;
  },
};

// Record every request URL the client sends (paging is checked on the wire).
const seen = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  seen.push(`${init?.method ?? "GET"} ${typeof input === "string" ? input : input.toString()}`);
  return realFetch(input, init);
};

const {
  AssistantCloud,
  CloudAPIError,
  CloudMessagePersistence,
  createFormattedPersistence,
  generateThreadTitle,
  readAnonymousRefreshToken,
} = await import("assistant-cloud");
const { aiSDKV6FormatAdapter } = await import("assistant-cloud/ai-sdk");

const baseUrl = process.env.BASE_URL;
const report = {};

const rejectsWith = async (promise, status) => {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CloudAPIError, `expected CloudAPIError, got ${error}`);
    assert.equal(error.status, status);
    return error;
  }
  assert.fail(`expected a ${status} rejection`);
};

async function mintToken(userId) {
  const server = new AssistantCloud({
    baseUrl,
    apiKey: process.env.API_KEY,
    userId,
    workspaceId: process.env.WORKSPACE,
  });
  return (await server.auth.tokens.create()).token;
}

function client(token) {
  return new AssistantCloud({ baseUrl, authToken: async () => token, telemetry: false });
}

const userText = (text) => ({ role: "user", parts: [{ type: "text", text }] });
const ids = (threads) => threads.map((t) => t.id);

async function threadsScenario(alice) {
  const { thread_id: t1 } = await alice.threads.create({
    last_message_at: new Date(),
    external_id: "ext-1",
  });
  const fresh = await alice.threads.get(t1);
  assert.equal(fresh.id, t1);
  assert.equal(fresh.external_id, "ext-1");
  assert.equal(fresh.is_archived, false);
  assert.equal(fresh.title, "");
  assert.ok(fresh.created_at instanceof Date && fresh.last_message_at instanceof Date);
  assert.equal(typeof fresh.project_id, "string");
  assert.equal(typeof fresh.workspace_id, "string");

  await alice.threads.update(t1, { title: "Renamed" });
  await alice.threads.update(t1, { metadata: { k: 1 } });
  const renamed = await alice.threads.get(t1);
  assert.equal(renamed.title, "Renamed");
  assert.deepEqual(renamed.metadata, { k: 1 });

  const { thread_id: t2 } = await alice.threads.create({ last_message_at: new Date() });
  const { thread_id: t3 } = await alice.threads.create({ last_message_at: new Date() });
  await alice.threads.messages.create(t1, {
    parent_id: null,
    format: "ai-sdk/v6",
    content: userText("bump"),
  });
  const all = await alice.threads.list({ limit: 20 });
  assert.equal(all.threads[0].id, t1, "the thread with the newest message comes first");
  const page1 = await alice.threads.list({ limit: 2 });
  const page2 = await alice.threads.list({ limit: 2, after: page1.threads.at(-1).id });
  assert.deepEqual([...ids(page1.threads), ...ids(page2.threads)], ids(all.threads));
  assert.equal(page2.threads.length, 1);

  await alice.threads.update(t2, { is_archived: true });
  assert.ok(!ids((await alice.threads.list()).threads).includes(t2));
  assert.ok(!ids((await alice.threads.list({ is_archived: false })).threads).includes(t2));
  assert.deepEqual(ids((await alice.threads.list({ is_archived: true })).threads), [t2]);
  await alice.threads.update(t2, { is_archived: false });
  assert.ok(ids((await alice.threads.list()).threads).includes(t2));
  assert.deepEqual((await alice.threads.list({ is_archived: true })).threads, []);

  await alice.threads.delete(t3);
  await rejectsWith(alice.threads.get(t3), 404);
  report.threads = { t1, t2, listed: ids(all.threads) };
  return t1;
}

async function messagesScenario(alice, threadId) {
  const m1 = await alice.threads.messages.create(threadId, {
    parent_id: null,
    format: "ai-sdk/v6",
    content: userText("hi"),
  });
  const m2 = await alice.threads.messages.create(threadId, {
    parent_id: m1.message_id,
    format: "ai-sdk/v6",
    content: { role: "assistant", parts: [{ type: "text", text: "hello" }] },
  });
  await alice.threads.messages.create(threadId, {
    parent_id: null,
    format: "aui/v0",
    content: { role: "user", content: [{ type: "text", text: "other format" }] },
  });
  const edited = { role: "assistant", parts: [{ type: "text", text: "hello, edited" }] };
  await alice.threads.messages.update(threadId, m2.message_id, { content: edited });
  const { messages } = await alice.threads.messages.list(threadId, { format: "ai-sdk/v6" });
  const mine = messages.filter((m) => [m1.message_id, m2.message_id].includes(m.id));
  assert.deepEqual(ids(mine), [m2.message_id, m1.message_id], "newest first");
  assert.equal(mine[0].parent_id, m1.message_id);
  assert.equal(mine[0].height, mine[1].height + 1);
  assert.deepEqual(mine[0].content, edited);
  assert.ok(messages.every((m) => m.format === "ai-sdk/v6"));
  assert.ok(mine[0].updated_at >= mine[0].created_at);
  const thread = await alice.threads.get(threadId);
  assert.ok(thread.last_message_at >= mine[0].created_at);
  report.messages = { heights: mine.map((m) => m.height) };
}

async function pagingScenario(alice) {
  const { thread_id: threadId } = await alice.threads.create({ last_message_at: new Date() });
  const writer = createFormattedPersistence(new CloudMessagePersistence(alice), aiSDKV6FormatAdapter);
  let parentId = null;
  for (let index = 0; index < 250; index++) {
    const id = `local-${index}`;
    await writer.append(threadId, { parentId, message: { id, ...userText(`#${index}`) } });
    parentId = id;
  }
  const before = seen.length;
  const reader = createFormattedPersistence(new CloudMessagePersistence(alice), aiSDKV6FormatAdapter);
  const { messages } = await reader.load(threadId);
  const requests = seen.slice(before).filter((line) => line.includes("/messages"));
  assert.equal(messages.length, 250);
  assert.deepEqual(
    messages.map((m) => m.message.parts[0].text),
    Array.from({ length: 250 }, (_, index) => `#${index}`),
    "oldest first after the client reverses",
  );
  for (let index = 1; index < 250; index++) {
    assert.equal(messages[index].parentId, messages[index - 1].message.id, "chain intact");
  }
  assert.equal(requests.length, 2);
  assert.ok(requests[0].includes("limit=200") && !requests[0].includes("after="));
  assert.ok(requests[1].includes("limit=200") && requests[1].includes("after="));

  const first = await alice.threads.messages.list(threadId, { limit: 2 });
  const next = await alice.threads.messages.list(threadId, { limit: 2, after: first.messages[1].id });
  assert.deepEqual(
    [...first.messages, ...next.messages].map((m) => m.content.parts[0].text),
    ["#249", "#248", "#247", "#246"],
  );
  report.paging = { loaded: messages.length, requests };
}

async function titleScenario(alice) {
  const { thread_id: threadId } = await alice.threads.create({ last_message_at: new Date() });
  const stream = await alice.runs.stream({
    thread_id: threadId,
    assistant_id: "system/thread_title",
    messages: [
      {
        role: "user",
        content: [{ type: "text", text: "Plan a weekend trip to Lisbon" }],
      },
    ],
  });
  let streamed = "";
  for await (const chunk of stream) {
    if (chunk.type === "text-delta") streamed += chunk.textDelta;
  }
  assert.ok(streamed.trim().length > 0, "a non-empty title");
  const saved = (await alice.threads.get(threadId)).title;
  assert.equal(saved, streamed, "the server saved the streamed title");
  const helper = await generateThreadTitle(alice, {
    threadId,
    messages: [{ role: "user", content: [{ type: "text", text: "Best ramen in Tokyo" }] }],
  });
  assert.ok(helper);
  report.title = { streamed, saved, helper };
}

async function isolationScenario(alice, bob, threadId) {
  await rejectsWith(bob.threads.get(threadId), 404);
  await rejectsWith(bob.threads.update(threadId, { title: "mine now" }), 404);
  await rejectsWith(bob.threads.delete(threadId), 404);
  await rejectsWith(bob.threads.messages.list(threadId), 404);
  const appended = bob.threads.messages.create(threadId, {
    parent_id: null,
    format: "ai-sdk/v6",
    content: userText("intrusion"),
  });
  await rejectsWith(appended, 404);
  const bobs = await bob.threads.list();
  assert.ok(!ids(bobs.threads).includes(threadId));
  assert.equal((await alice.threads.get(threadId)).title, "Renamed");
  const bad = new AssistantCloud({ baseUrl, authToken: async () => "a.eyJleHAiOjk5OTk5OTk5OTl9.c", telemetry: false });
  await rejectsWith(bad.threads.list(), 401);
  report.isolation = { bobThreads: bobs.threads.length };
}

async function anonymousScenario(alice) {
  const anon = new AssistantCloud({ baseUrl, anonymous: true, telemetry: false });
  const a = await anon.threads.create({ last_message_at: new Date() });
  const b = await anon.threads.create({ last_message_at: new Date() });
  assert.equal((await anon.threads.list()).threads.length, 2);
  const refreshToken = readAnonymousRefreshToken(baseUrl);
  assert.ok(refreshToken, "the anonymous refresh token is stored");
  const { moved } = await alice.threads.claim({ refresh_token: refreshToken });
  assert.equal(moved, 2);
  const mine = ids((await alice.threads.list({ limit: 100 })).threads);
  assert.ok(mine.includes(a.thread_id) && mine.includes(b.thread_id));
  report.anonymous = { moved };
}

async function telemetryScenario(alice, threadId) {
  const { run_id } = await alice.runs.report({ thread_id: threadId, status: "completed" });
  assert.equal(typeof run_id, "string");
  const { messages } = await alice.threads.messages.list(threadId, { limit: 1 });
  const feedback = await alice.threads.messages.feedback(threadId, messages[0].id, {
    type: "positive",
  });
  assert.equal(feedback.type, "positive");
  report.telemetry = { run_id, feedback_id: feedback.feedback_id };
}

async function filesScenario(alice) {
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
  const upload = await alice.files.generatePresignedUploadUrl({ filename: "pixel.png" });
  const put = await fetch(upload.signedUrl, {
    method: "PUT",
    headers: { "Content-Type": "image/png" },
    body: bytes,
  });
  assert.ok(put.ok, `PUT to the signed URL answered ${put.status}`);
  const read = await fetch(upload.publicUrl);
  assert.equal(read.status, 200);
  assert.equal(read.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await read.arrayBuffer()), bytes);
  report.files = { key: upload.key };
}

const alice = client(await mintToken("alice"));
const bob = client(await mintToken("bob"));
const t1 = await threadsScenario(alice);
await messagesScenario(alice, t1);
await pagingScenario(alice);
await titleScenario(alice);
await isolationScenario(alice, bob, t1);
await anonymousScenario(alice);
await telemetryScenario(alice, t1);
await filesScenario(alice);
report.ok = true;
process.stdout.write(JSON.stringify(report));
