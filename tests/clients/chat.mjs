// Drive POST /api/chat with the real AI SDK chat machinery (AbstractChat = what useChat runs:
// DefaultChatTransport, readUIMessageStream, sendAutomaticallyWhen, resumeStream).
// Usage: node chat.mjs <ai5|ai6|ai7> <baseUrl> <token> <scenario> <chatId> [model] [chatbot|sdk]
// Scenarios: text, weather (approve), deny (deny, then a new message), document, two-turns,
// resume (drop the connection mid-reply, resume from a fresh page).
// Prints {"messages": [...], "data": [<data part types seen by onData>], "errors": [...]}.
import { randomUUID } from "node:crypto";

const [version, baseUrl, token, scenario, chatId, model = "chat-model", bodyStyle = "chatbot"] =
  process.argv.slice(2);
const { AbstractChat, DefaultChatTransport } = await import(version);

class State {
  constructor(messages = []) {
    this.status = "ready";
    this.error = undefined;
    this.messages = messages;
  }
  pushMessage(message) {
    this.messages = this.messages.concat(message);
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(index, message) {
    this.messages = [...this.messages.slice(0, index), message, ...this.messages.slice(index + 1)];
  }
  snapshot(thing) {
    return structuredClone(thing);
  }
}

class Chat extends AbstractChat {
  constructor(init) {
    const state = new State(init.messages ?? []);
    super({ ...init, state });
    this.stateRef = state;
  }
}

// ai-chatbot's components/chat.tsx: the body it sends and when it re-sends by itself.
function prepareSendMessagesRequest(request) {
  const last = request.messages.at(-1);
  const approval =
    last?.role !== "user" ||
    request.messages.some((m) =>
      m.parts?.some((p) => p.state === "approval-responded" || p.state === "output-denied"),
    );
  return {
    body: {
      id: request.id,
      ...(approval ? { messages: request.messages } : { message: last }),
      selectedChatModel: model,
      selectedVisibilityType: "private",
      ...request.body,
    },
  };
}

const data = [];
const errors = [];

function makeChat(messages) {
  const chatbot = bodyStyle === "chatbot";
  return new Chat({
    id: chatId,
    messages,
    ...(chatbot ? { generateId: () => randomUUID() } : {}),
    transport: new DefaultChatTransport({
      api: `${baseUrl}/api/chat`,
      headers: { Authorization: `Bearer ${token}` },
      ...(chatbot ? { prepareSendMessagesRequest } : { body: { selectedChatModel: model } }),
    }),
    sendAutomaticallyWhen: ({ messages: all }) =>
      all.at(-1)?.parts?.some((p) => p.state === "approval-responded" && p.approval?.approved) ??
      false,
    onData: (part) => data.push(part.type),
    onError: (error) => errors.push(String(error?.message ?? error)),
  });
}

function approvalRequest(chat) {
  return chat.stateRef.messages
    .at(-1)
    ?.parts?.find((p) => p.state === "approval-requested");
}

async function settle(chat) {
  // Wait for automatic re-sends (sendAutomaticallyWhen) to finish.
  for (let i = 0; i < 200 && chat.status !== "ready" && chat.status !== "error"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const say = (text) => ({ text });
let chat = makeChat([]);

if (scenario === "text" || scenario === "document" || scenario === "two-turns") {
  const first = scenario === "document" ? "Write an essay about the ocean" : "Hello there";
  await chat.sendMessage(say(first));
  if (scenario === "two-turns") await chat.sendMessage(say("Make it shorter please"));
} else if (scenario === "weather" || scenario === "deny") {
  await chat.sendMessage(say("What's the weather in Paris?"));
  const part = approvalRequest(chat);
  if (part) {
    const approved = scenario === "weather";
    const reason = approved ? undefined : "User denied weather lookup";
    await chat.addToolApprovalResponse({ id: part.approval.id, approved, reason });
    if (approved) {
      await settle(chat);
    } else {
      await chat.sendMessage(say("Never mind, hello instead"));
    }
  }
  await settle(chat);
} else if (scenario === "resume") {
  const sending = chat.sendMessage(say("Hello there"));
  for (let i = 0; i < 400; i++) {
    const last = chat.stateRef.messages.at(-1);
    if (last?.role === "assistant" && last.parts.some((p) => p.type === "text" && p.text)) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await chat.stop(); // the connection drops mid-reply
  await sending;
  // A fresh page: the stored history ends with the user message; auto-resume.
  const userMessage = chat.stateRef.messages.find((m) => m.role === "user");
  chat = makeChat([userMessage]);
  data.push("(resumed)"); // data parts after this came with the replay
  await chat.resumeStream();
} else {
  process.stderr.write(`unknown scenario ${scenario}\n`);
  process.exit(2);
}

process.stdout.write(JSON.stringify({ messages: chat.stateRef.messages, data, errors }));
