// assistant-ui's AssistantChatTransport body sent by the real AI SDK client (DefaultChatTransport
// + readUIMessageStream, as AssistantChatTransport extends it): system, a frontend tool schema,
// callSettings, config and metadata; then the tool's result in a second request.
// Usage: node aui_chat.mjs <ai5|ai6|ai7> <baseUrl> <token> <chatId>
// Prints {"first": {message, chunks, finishReason, metadata}, "second": {...}, "errors": [...]}.
const [version, baseUrl, token, chatId] = process.argv.slice(2);
const { DefaultChatTransport, readUIMessageStream } = await import(version);

const tools = {
  get_location: {
    description: "The user's location",
    parameters: {
      type: "object",
      properties: { precision: { type: "string", enum: ["city", "exact"] } },
      required: ["precision"],
      additionalProperties: false,
    },
  },
};
const transport = new DefaultChatTransport({
  api: `${baseUrl}/api/chat`,
  headers: { Authorization: `Bearer ${token}` },
  body: {
    system: "You are a location helper.",
    tools,
    callSettings: { temperature: 0.3, maxTokens: 512 },
    config: { apiKey: "sk-from-the-browser", baseUrl: "http://127.0.0.1:9/v1" },
  },
});
const errors = [];

async function turn(messages, lastMessage) {
  const stream = await transport.sendMessages({
    chatId,
    messages,
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: undefined,
    metadata: { runConfig: { custom: { source: "conformance" } } },
    body: { metadata: { runConfig: { custom: { source: "conformance" } } } },
  });
  const chunks = [];
  const tee = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  let message;
  for await (const snapshot of readUIMessageStream({
    stream: tee,
    message: lastMessage,
    onError: (error) => errors.push(String(error?.message ?? error)),
  })) {
    message = snapshot;
  }
  const finish = chunks.find((c) => c.type === "finish");
  for (const c of chunks) if (c.type === "error") errors.push(c.errorText);
  return {
    message,
    chunks: chunks.map((c) => c.type),
    finishReason: finish?.finishReason ?? null,
    metadata: message?.metadata ?? null,
  };
}

const user = { id: "u1", role: "user", parts: [{ type: "text", text: "Where am I?" }] };
const first = await turn([user]);
const assistant = structuredClone(first.message);
const call = assistant.parts.find((p) => p.type === "tool-get_location");
if (call) {
  // What addToolOutput does in the browser once the frontend tool ran.
  call.state = "output-available";
  call.output = { city: "Paris" };
}
const second = await turn([user, assistant], structuredClone(assistant));
process.stdout.write(JSON.stringify({ first, second, errors }));
