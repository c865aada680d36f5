// Assemble an SSE body the way a real AI SDK client does.
// Usage: node assemble.mjs <ai5|ai6|ai7> <sse-file|-> [start-message.json]
// The bytes go through that version's DefaultChatTransport (chunk schema validation), then
// readUIMessageStream (the assembly useChat does). Prints
// {"message": <final UIMessage or null>, "errors": [<messages>], "chunks": [<chunk types>]}.
import { readFileSync } from "node:fs";

const [version, source, startPath] = process.argv.slice(2);
if (!["ai5", "ai6", "ai7"].includes(version) || !source) {
  process.stderr.write("usage: node assemble.mjs <ai5|ai6|ai7> <sse-file|-> [message.json]\n");
  process.exit(2);
}
const { DefaultChatTransport, readUIMessageStream } = await import(version);

const body = readFileSync(source === "-" ? 0 : source);
const startMessage = startPath ? JSON.parse(readFileSync(startPath, "utf8")) : undefined;

const transport = new DefaultChatTransport({
  api: "http://assemble.invalid/api/chat",
  fetch: async () =>
    new Response(body, {
      status: 200,
      headers: { "content-type": "text/event-stream", "x-vercel-ai-ui-message-stream": "v1" },
    }),
});

const errors = [];
const chunkTypes = [];
let message = null;
try {
  const chunks = await transport.sendMessages({
    chatId: "chat",
    messages: startMessage ? [startMessage] : [],
    abortSignal: new AbortController().signal,
    trigger: "submit-message",
    messageId: undefined,
  });
  const observed = chunks.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunkTypes.push(chunk.type);
        controller.enqueue(chunk);
      },
    }),
  );
  const snapshots = readUIMessageStream({
    message: startMessage,
    stream: observed,
    onError: (error) => errors.push(String(error?.message ?? error)),
  });
  for await (const snapshot of snapshots) {
    message = snapshot;
  }
} catch (error) {
  errors.push(String(error?.message ?? error));
}
process.stdout.write(JSON.stringify({ message, errors, chunks: chunkTypes }));
