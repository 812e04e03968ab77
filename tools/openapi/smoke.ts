// A smoke test of the client generated from Tern's OpenAPI document (openapi-typescript types, openapi-fetch calls):
// create two channels and a route, send a message, list messages, read the message with its history.
// Run by tests/Tern.Server.Tests/Api/OpenApiToolingTests.cs after `tsc`; prints one JSON line the test checks.
import createClient from "openapi-fetch";
import type { paths } from "./generated/tern-api.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const prefix = env("SMOKE_PREFIX");
const client = createClient<paths>({ baseUrl: env("TERN_URL"), headers: { Authorization: `Bearer ${env("TERN_KEY")}` } });

function fail(step: string, status: number, body: unknown): never {
  throw new Error(`${step}: ${status} ${JSON.stringify(body)}`);
}

const inbound = await client.POST("/v1/channels", { body: { id: `${prefix}-in`, secret: env("DEST_SECRET") } });
if (!inbound.data) fail("create inbound channel", inbound.response.status, inbound.error);
const outbound = await client.POST("/v1/channels", { body: { id: `${prefix}-out`, url: env("DEST_URL"), secret: env("DEST_SECRET") } });
if (!outbound.data) fail("create outbound channel", outbound.response.status, outbound.error);

const route = await client.POST("/v1/routes", { body: { id: `${prefix}-route`, from: inbound.data.id, to: [outbound.data.id] } });
if (!route.data) fail("create route", route.response.status, route.error);

const sent = await client.POST("/v1/messages", {
  body: { channel: outbound.data.id, chat: "customer-42", text: "hello from the generated client" },
  params: { header: { "Idempotency-Key": `${prefix}-send` } },
});
if (!sent.data) fail("send", sent.response.status, sent.error);

const listed = await client.GET("/v1/messages", { params: { query: { channel: outbound.data.id, page_size: 10 } } });
if (!listed.data) fail("list", listed.response.status, listed.error);
if (!listed.data.items?.some((m) => m.id === sent.data.id)) fail("list", listed.response.status, listed.data);

const one = await client.GET("/v1/messages/{id}", { params: { path: { id: sent.data.id } } });
if (!one.data) fail("get", one.response.status, one.error);
const history = one.data.history ?? [];
if (history.length === 0) fail("get: no history", one.response.status, one.data);

const missing = await client.GET("/v1/messages/{id}", { params: { path: { id: "no-such-message" } } });
if (missing.response.status !== 404 || !missing.error) fail("get a missing message", missing.response.status, missing.error);

console.log(JSON.stringify({
  inbound: inbound.data.inbound_path,
  route: route.data.id,
  sent: { status: sent.response.status, id: sent.data.id, channel: sent.data.channel },
  listed: listed.data.total,
  history: history.map((h) => h.status),
  missing: missing.error.status,
}));
