// Baseline: the AI SDK pipeline the Vercel ai-chatbot runs for POST /api/chat, without a DB.
// streamText (OpenAI-compatible provider -> the fake upstream, ai-chatbot's four tools,
// stepCountIs(5)) merged into createUIMessageStream (with an onFinish that receives the
// assembled message, where ai-chatbot saves it) and piped as the UI message stream (SSE).
// Plain node:http instead of Next.js, so this baseline is, if anything, flattered.
//   PORT=9200 UPSTREAM_URL=http://127.0.0.1:9100/v1 node server.mjs
import http from "node:http";
import { randomUUID } from "node:crypto";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import {
  convertToModelMessages,
  createUIMessageStream,
  pipeUIMessageStreamToResponse,
  stepCountIs,
  streamText,
  tool,
} from "ai";
import { z } from "zod";

const port = Number(process.env.PORT || 9200);
const provider = createOpenAICompatible({
  name: "fake",
  baseURL: process.env.UPSTREAM_URL || "http://127.0.0.1:9100/v1",
  apiKey: "bench",
  includeUsage: true,
});

const SYSTEM =
  "You are a friendly assistant! Keep your responses concise and helpful. " +
  "When asked to write, create, or help with something, use the document tools. " +
  "About the origin of user's request: lat: undefined, lon: undefined, city: undefined.";

const noop = async () => ({ ok: true });
const tools = {
  getWeather: tool({
    description: "Get the current weather at a location",
    inputSchema: z.object({
      latitude: z.number().optional(),
      longitude: z.number().optional(),
      city: z.string().describe("City name (e.g., 'San Francisco')").optional(),
    }),
    needsApproval: true,
    execute: noop,
  }),
  createDocument: tool({
    description: "Create a document for a writing or content creation activities.",
    inputSchema: z.object({ title: z.string(), kind: z.enum(["text", "code", "sheet"]) }),
    execute: noop,
  }),
  updateDocument: tool({
    description: "Update a document with the given description.",
    inputSchema: z.object({ id: z.string(), description: z.string() }),
    execute: noop,
  }),
  requestSuggestions: tool({
    description: "Request suggestions for a document",
    inputSchema: z.object({ documentId: z.string() }),
    execute: noop,
  }),
};

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const server = http.createServer(async (req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.end("ok");
    return;
  }
  if (req.method !== "POST" || req.url !== "/api/chat") {
    res.statusCode = 404;
    res.end();
    return;
  }
  let body;
  try {
    body = await readJson(req);
  } catch {
    res.statusCode = 400;
    res.end('{"code":"bad_request:api"}');
    return;
  }
  const uiMessages = body.messages ?? [body.message];
  const stream = createUIMessageStream({
    generateId: randomUUID,
    execute: async ({ writer }) => {
      const result = streamText({
        model: provider.chatModel(body.selectedChatModel),
        system: SYSTEM,
        messages: await convertToModelMessages(uiMessages),
        stopWhen: stepCountIs(5),
        tools,
      });
      writer.merge(result.toUIMessageStream({ sendReasoning: true }));
    },
    onError: () => "Oops, an error occurred!",
    onFinish: async ({ messages }) => {
      void messages; // ai-chatbot saves these here
    },
  });
  pipeUIMessageStreamToResponse({ response: res, stream });
});

server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`node baseline on ${port}\n`);
});
