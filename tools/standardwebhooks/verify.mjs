// Verifies Standard Webhooks signatures with the standardwebhooks package (pinned in package-lock.json), independently of Tern's code.
// stdin:  a JSON array of { "secret": "whsec_...", "headers": { "webhook-id", "webhook-timestamp", "webhook-signature" }, "body_base64": "..." }
// stdout: a JSON array of the same length: null where the package verified the item, else its error message.
// Exit 0 when it ran (whatever the verdicts); 2, with the reason on stderr, when the input is not that shape.
import { Webhook } from "standardwebhooks";

const usage = "expected a JSON array of { secret: string, headers: { string: string }, body_base64: string }";

function fail(reason) {
  process.stderr.write(`verify.mjs: ${reason}\n`);
  process.exit(2);
}

function isStrictBase64(text) {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);

let items;
try {
  items = JSON.parse(Buffer.concat(chunks).toString("utf8"));
} catch (error) {
  fail(`stdin is not JSON (${error.message}); ${usage}`);
}
if (!Array.isArray(items)) fail(`stdin is not an array; ${usage}`);

const checks = items.map((item, index) => {
  const where = `item ${index}`;
  if (item === null || typeof item !== "object" || Array.isArray(item)) fail(`${where} is not an object; ${usage}`);
  const { secret, headers, body_base64: bodyBase64 } = item;
  if (typeof secret !== "string") fail(`${where}: secret is not a string`);
  if (headers === null || typeof headers !== "object" || Array.isArray(headers)) fail(`${where}: headers is not an object`);
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") fail(`${where}: header ${name} is not a string`);
  }
  if (typeof bodyBase64 !== "string" || !isStrictBase64(bodyBase64)) fail(`${where}: body_base64 is not base64`);
  return { secret, headers, body: Buffer.from(bodyBase64, "base64") };
});

// The package signs payload.toString() re-encoded as UTF-8 (dist/index.js, sign), whether given a string or a Buffer:
// the bytes are exact only when they are valid UTF-8. Other bytes would be checked as U+FFFD, so they are refused here.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const verdicts = checks.map(({ secret, headers, body }) => {
  try {
    strictUtf8.decode(body);
  } catch {
    return "verify.mjs: the body is not valid UTF-8, which standardwebhooks 1.1.1 cannot check byte for byte";
  }
  try {
    // jsonParse: false — only the signature is judged; a body that is not JSON is still a signed body.
    new Webhook(secret).verify(body, headers, { jsonParse: false });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
});

process.stdout.write(`${JSON.stringify(verdicts)}\n`);
