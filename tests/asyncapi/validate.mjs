// Validate an AsyncAPI document with the official parser (@asyncapi/parser, pinned in package.json).
//
//   node tests/asyncapi/validate.mjs docs/asyncapi.yaml
//
// Every diagnostic goes to stderr, one a line: `<severity> <code> <path>: <message>`.
// Exit 1 when any diagnostic is an error (or the parser produced no document); warnings, infos and
// hints are printed but do not fail here: tests/events/test_asyncapi.py reads them from stdout and
// decides (it accepts none).
// Stdout is one JSON object: {"diagnostics": [...], "messages": {<message id>: {"schemaFormat",
// "payload", "headers"}}}, each schema as the parser resolved and parsed it, without the
// `x-parser-*` annotations the parser adds (ids of anonymous schemas), so the Python test can
// compare the payloads with the schemas the hub serves.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const SEVERITY = {
  [DiagnosticSeverity.Error]: "error",
  [DiagnosticSeverity.Warning]: "warning",
  [DiagnosticSeverity.Information]: "info",
  [DiagnosticSeverity.Hint]: "hint",
};

function withoutParserAnnotations(value) {
  if (Array.isArray(value)) return value.map(withoutParserAnnotations);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith("x-parser-"))
      .map(([key, item]) => [key, withoutParserAnnotations(item)]),
  );
}

// A Multi Format Schema Object ({schemaFormat, schema}) or a plain Schema Object: the schema itself.
function schemaOf(model) {
  if (!model) return null;
  const json = model.json();
  const inner = json !== null && typeof json === "object" && typeof json.schema === "object" ? json.schema : json;
  return withoutParserAnnotations(inner);
}

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}
const text = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(text, { source: path });

const reported = diagnostics.map((diagnostic) => ({
  severity: SEVERITY[diagnostic.severity] ?? String(diagnostic.severity),
  code: String(diagnostic.code),
  path: diagnostic.path.join("/"),
  message: diagnostic.message,
}));
for (const { severity, code, path: where, message } of reported) {
  console.error(`${severity} ${code} ${where}: ${message}`);
}

const messages = {};
if (document) {
  for (const message of document.components().messages()) {
    messages[message.id()] = {
      schemaFormat: message.schemaFormat(),
      payload: schemaOf(message.payload()),
      headers: schemaOf(message.headers()),
    };
  }
}
console.log(JSON.stringify({ diagnostics: reported, messages }, null, 2));

const errors = reported.filter((diagnostic) => diagnostic.severity === "error").length;
if (!document || errors > 0) {
  console.error(`${path}: ${errors} error(s); the official AsyncAPI parser rejects it.`);
  process.exit(1);
}
console.error(`${path}: valid AsyncAPI ${document.version()} (${reported.length} diagnostic(s), none an error).`);
