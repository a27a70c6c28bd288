// The playground: try the API from a browser, at the stack's own address. Plain JavaScript, no build
// step, no other host: the forms are made from the API's own schemas (GET /v1/operations, and the
// Output model of /v1/openapi.json), the image goes straight to S3 with a presigned POST, and the
// job is followed until it ends. The API key stays in this tab (sessionStorage).
"use strict";

const $ = (id) => document.getElementById(id);
const API = new URL($("playground").dataset.api, location.href); // …/v1/
const KEY_STORAGE = "imagejobs.apiKey";
const FINISHED = ["succeeded", "failed"];
const catalogue = { operations: new Map(), presets: new Map(), formats: new Map(), output: null };
let upload = null; // {file, id}: an upload is reused by every job on the same file
let lastRequest = null; // {url, body}: what the snippets show
let snippetKind = "curl";
let counter = 0;

// ---- small DOM helpers ---------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const uniqueId = (prefix) => `${prefix}-${++counter}`;

/** Text with its `code` spans (as the API's descriptions write them) shown as code. */
function prose(text) {
  return text.split("`").map((part, i) => (i % 2 ? el("code", {}, part) : part));
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function bytes(count) {
  if (count < 1000) return `${count} bytes`;
  const units = ["kB", "MB", "GB"];
  let value = count / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

// ---- JSON schema -> form fields ------------------------------------------------------------------

/** The alternatives a value may take (anyOf / oneOf flattened), without null. */
function branches(schema) {
  const alternatives = schema.anyOf || schema.oneOf;
  if (!alternatives) return [schema];
  return alternatives.flatMap(branches).filter((branch) => branch.type !== "null");
}

function range(branch) {
  const low = branch.minimum ?? branch.exclusiveMinimum;
  const high = branch.maximum ?? branch.exclusiveMaximum;
  if (low !== undefined && high !== undefined) return ` from ${low} to ${high}`;
  if (branch.exclusiveMinimum !== undefined) return ` above ${low}`;
  if (low !== undefined) return ` of at least ${low}`;
  if (high !== undefined) return ` up to ${high}`;
  return "";
}

/** What a branch accepts, in words. */
function rule(branch) {
  if (branch.const !== undefined) return `"${branch.const}"`;
  if (branch.enum) return `one of ${branch.enum.join(", ")}`;
  if (branch.type === "integer") return `a whole number${range(branch)}`;
  if (branch.type === "number") return `a number${range(branch)}`;
  if (branch.type === "array") return "whole numbers separated by commas";
  if (branch.examples) return `text such as ${branch.examples.join(", ")}`;
  if (branch.pattern) return `text matching ${branch.pattern}`;
  if (branch.maxLength !== undefined) return `text of ${branch.minLength ?? 0} to ${branch.maxLength} characters`;
  return "text";
}

/** Whether the text typed in a field is a value of this branch. */
function fits(branch, raw) {
  if (branch.const !== undefined) return raw === String(branch.const);
  if (branch.enum) return branch.enum.map(String).includes(raw);
  if (branch.type === "integer" || branch.type === "number") {
    if (!/^-?\d+(\.\d+)?$/.test(raw)) return false;
    const n = Number(raw);
    return (
      (branch.type === "number" || Number.isInteger(n)) &&
      (branch.minimum === undefined || n >= branch.minimum) &&
      (branch.maximum === undefined || n <= branch.maximum) &&
      (branch.exclusiveMinimum === undefined || n > branch.exclusiveMinimum) &&
      (branch.exclusiveMaximum === undefined || n < branch.exclusiveMaximum)
    );
  }
  if (branch.type === "array") {
    const items = raw.split(",").map((item) => item.trim());
    return items.length >= (branch.minItems ?? 1) && items.length <= (branch.maxItems ?? Infinity) &&
      items.every((item) => fits(branch.items || { type: "integer" }, item));
  }
  const length = [...raw].length;
  return (
    (branch.minLength === undefined || length >= branch.minLength) &&
    (branch.maxLength === undefined || length <= branch.maxLength) &&
    (branch.pattern === undefined || new RegExp(branch.pattern, "u").test(raw))
  );
}

/** A value of the JSON request from what was typed, by the branch it fits. */
function parse(alternatives, raw) {
  const branch = alternatives.find((candidate) => fits(candidate, raw)) || alternatives[0];
  if (branch.type === "integer" || branch.type === "number") return Number(raw);
  if (branch.type === "array") return raw.split(",").map((item) => Number(item.trim()));
  return raw;
}

/** The control a property gets: a select, a checkbox, a number input, or text (checked against the schema). */
function kindOf(only) {
  if (only?.enum) return "enum";
  if (only?.type === "boolean") return "boolean";
  if (only?.type === "integer" || only?.type === "number") return "number";
  return "text";
}

/** One form field for one property of a schema: its control, hint and error, and its value. */
class Field {
  constructor(name, schema, required) {
    this.name = name;
    this.schema = schema;
    this.required = required;
    this.branches = branches(schema);
    const id = uniqueId(name);
    const only = this.branches.length === 1 ? this.branches[0] : null;
    this.kind = kindOf(only);
    // numbers or lists typed as text: say what they may be
    const typed = this.kind === "text" && this.branches.some((branch) => branch.type !== "string");
    const rules = typed ? `Give ${this.branches.map(rule).join(", or ")}.` : "";
    const hint = [schema.description, rules].filter(Boolean).join(" ");
    this.input = this.control(id, only);
    this.error = el("p", { class: "error", id: `${id}-error`, hidden: true });
    const hintNode = hint ? el("p", { class: "hint", id: `${id}-hint` }, ...prose(hint)) : null;
    this.input.setAttribute("aria-describedby", [hintNode && `${id}-hint`, `${id}-error`].filter(Boolean).join(" "));
    const label = el("label", { for: id }, name, required ? el("span", { class: "required" }, " (required)") : null);
    this.node = this.kind === "boolean"
      ? el("div", { class: "field checkbox" }, this.input, label, hintNode, this.error)
      : el("div", { class: "field" }, label, this.input, hintNode, this.error);
    this.input.addEventListener("input", () => this.check());
    this.input.addEventListener("change", () => this.check());
  }

  control(id, only) {
    const fallback = this.schema.default;
    if (this.kind === "enum") {
      const select = el("select", { id, required: this.required });
      if (fallback === undefined || fallback === null) {
        select.append(el("option", { value: "" }, this.required ? "Choose…" : "—"));
      }
      for (const value of only.enum) {
        select.append(el("option", { value, selected: value === fallback }, String(value)));
      }
      return select;
    }
    if (this.kind === "boolean") return el("input", { id, type: "checkbox", checked: fallback === true });
    const placeholder = fallback ?? this.branches.find((branch) => branch.examples)?.examples[0];
    if (this.kind === "number") {
      const low = only.minimum ?? only.exclusiveMinimum;
      const high = only.maximum ?? only.exclusiveMaximum;
      const whole = only.type === "integer";
      return el("input", {
        id, type: "number", required: this.required, min: low, max: high, placeholder,
        step: whole ? 1 : "any", inputmode: whole ? "numeric" : "decimal",
      });
    }
    const strings = this.branches.every((branch) => branch.type === "string");
    const longest = Math.max(...this.branches.map((branch) => branch.maxLength ?? 0));
    return el("input", {
      id, type: "text", required: this.required, placeholder, spellcheck: "false",
      maxlength: strings && longest > 0 ? longest : undefined,
    });
  }

  get raw() {
    return this.kind === "boolean" ? this.input.checked : this.input.value.trim();
  }

  set raw(value) {
    if (this.kind === "boolean") this.input.checked = Boolean(value);
    else this.input.value = value;
  }

  /** Marks the field invalid (for the browser's own check on submit) when it holds no valid value. */
  check() {
    this.clearError();
    const raw = this.raw;
    const ok = this.kind === "boolean" || raw === "" || this.branches.some((branch) => fits(branch, raw));
    this.input.setCustomValidity(ok ? "" : `Give ${this.branches.map(rule).join(", or ")}.`);
  }

  /** The value to send, or undefined to leave the property out (empty, or the default). */
  value() {
    const raw = this.raw;
    if (this.kind === "boolean") return raw === Boolean(this.schema.default) ? undefined : raw;
    if (raw === "") return undefined;
    if (this.kind === "enum") return raw === String(this.schema.default) && !this.required ? undefined : raw;
    return parse(this.branches, raw);
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.input.setAttribute("aria-invalid", "true");
  }

  clearError() {
    this.error.hidden = true;
    this.input.removeAttribute("aria-invalid");
  }

  focus() {
    this.input.focus();
  }
}

function fieldsOf(schema, skip = []) {
  return Object.entries(schema.properties)
    .filter(([name]) => !skip.includes(name))
    .map(([name, property]) => new Field(name, property, (schema.required || []).includes(name)));
}

// ---- the outputs builder -------------------------------------------------------------------------

function moveButtons(item, label, afterRemoval) {
  const up = el("button", { type: "button", "aria-label": `Move ${label} up` }, "↑");
  const down = el("button", { type: "button", "aria-label": `Move ${label} down` }, "↓");
  const remove = el("button", { type: "button", "aria-label": `Remove ${label}` }, "Remove");
  up.addEventListener("click", () => {
    if (item.previousElementSibling) item.previousElementSibling.before(item);
    up.focus();
    changed();
  });
  down.addEventListener("click", () => {
    if (item.nextElementSibling) item.nextElementSibling.after(item);
    down.focus();
    changed();
  });
  remove.addEventListener("click", () => {
    item.remove();
    afterRemoval.focus();
    changed();
  });
  return el("div", { class: "item-buttons" }, up, down, remove);
}

function operationItem(type, addButton) {
  const schema = catalogue.operations.get(type);
  const fields = fieldsOf(schema, ["type"]);
  const error = el("p", { class: "error", hidden: true });
  const fieldset = el(
    "fieldset",
    { class: "operation" },
    el("legend", {}, type),
    schema.description ? el("p", { class: "hint" }, ...prose(schema.description.split("\n")[0])) : null,
    error,
    ...fields.map((field) => field.node),
  );
  const item = el("li", {}, fieldset);
  fieldset.append(moveButtons(item, `operation ${type}`, addButton));
  item.operation = { type, fields, error };
  return item;
}

function outputItem(name) {
  const schema = catalogue.output;
  const nameField = new Field("name", schema.properties.name, true);
  nameField.raw = name;
  const formatField = new Field("format", schema.properties.format, true);
  formatField.raw = catalogue.formats.has("webp") ? "webp" : formatField.input.options[1].value;
  const options = el("div", { class: "options" });
  const operations = el("ol", { class: "operations" });
  const picker = el("select", { id: uniqueId("operation"), "aria-label": "Operation to add" },
    ...[...catalogue.operations.keys()].map((type) => el("option", { value: type }, type)));
  const add = el("button", { type: "button" }, "Add operation");
  const error = el("p", { class: "error", hidden: true });
  const legend = el("legend", {}, "Output");
  const fieldset = el(
    "fieldset", { class: "output" }, legend, error, nameField.node, formatField.node, options,
    el("h3", {}, "Operations, in order"), operations,
    el("div", { class: "add-operation" }, picker, add),
  );
  const item = el("li", {}, fieldset);
  fieldset.append(moveButtons(item, "this output", $("add-output")));
  item.output = { nameField, formatField, operations, error, optionFields: [] };

  const showOptions = () => {
    const kept = Object.fromEntries(item.output.optionFields.map((field) => [field.name, field.raw]));
    const format = catalogue.formats.get(formatField.raw);
    item.output.optionFields = (format ? format.options : [])
      .filter((option) => schema.properties[option])
      .map((option) => new Field(option, schema.properties[option], false));
    for (const field of item.output.optionFields) if (field.name in kept) field.raw = kept[field.name];
    options.replaceChildren(...item.output.optionFields.map((field) => field.node));
  };
  formatField.input.addEventListener("change", () => {
    showOptions();
    changed();
  });
  add.addEventListener("click", () => {
    const operation = operationItem(picker.value, add);
    operations.append(operation);
    operation.querySelector("input, select")?.focus();
    changed();
  });
  showOptions();
  return item;
}

function addOutput() {
  const taken = new Set([...$("outputs").children].map((item) => item.output.nameField.raw));
  let n = 1;
  while (taken.has(`output-${n}`)) n += 1;
  const item = outputItem(`output-${n}`);
  $("outputs").append(item);
  item.output.formatField.focus();
  changed();
}

// ---- the request ---------------------------------------------------------------------------------

/** The job request the form describes, and where each of its paths is shown in the form. */
function collect(uploadId) {
  const places = new Map([["source", uploadField], ["upload", uploadField], ["preset", presetField]]);
  const body = { source: { upload_id: uploadId || "upl_…" } };
  const preset = $("preset").value;
  if (preset) {
    body.preset = preset;
    return { body, places };
  }
  body.outputs = [...$("outputs").children].map((item, i) => {
    const { nameField, formatField, optionFields, operations, error } = item.output;
    places.set(`outputs[${i}]`, {
      showError: (message) => showBlockError(error, message),
      focus: () => nameField.focus(),
    });
    const output = {};
    for (const field of [nameField, formatField, ...optionFields]) {
      places.set(`outputs[${i}].${field.name}`, field);
      const value = field.value();
      if (value !== undefined) output[field.name] = value;
    }
    output.operations = [...operations.children].map((entry, j) => {
      const { type, fields, error: operationError } = entry.operation;
      const path = `outputs[${i}].operations[${j}]`;
      places.set(path, {
        showError: (message) => showBlockError(operationError, message),
        focus: () => (fields[0] || nameField).focus(),
      });
      const operation = { type };
      for (const field of fields) {
        places.set(`${path}.${field.name}`, field);
        const value = field.value();
        if (value !== undefined) operation[field.name] = value;
      }
      return operation;
    });
    if (output.operations.length === 0) delete output.operations;
    return output;
  });
  return { body, places };
}

function showBlockError(node, message) {
  node.textContent = message;
  node.hidden = false;
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function pythonLiteral(value, indent = "") {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}    `;
  const items = Array.isArray(value)
    ? value.map((item) => `${inner}${pythonLiteral(item, inner)}`)
    : Object.entries(value).map(([key, item]) => `${inner}${JSON.stringify(key)}: ${pythonLiteral(item, inner)}`);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return items.length ? `${open}\n${items.join(",\n")},\n${indent}${close}` : `${open}${close}`;
}

function snippet(kind, { url, body }) {
  const json = JSON.stringify(body, null, 2);
  if (kind === "python") {
    return [
      "import os", "", "import requests", "",
      "response = requests.post(",
      `    ${JSON.stringify(url)},`,
      '    headers={"X-API-Key": os.environ["IMAGEJOBS_API_KEY"]},',
      `    json=${pythonLiteral(body, "    ")},`,
      ")", "print(response.status_code, response.json())", "",
    ].join("\n");
  }
  if (kind === "javascript") {
    return [
      `const response = await fetch(${JSON.stringify(url)}, {`,
      '  method: "POST",',
      '  headers: {"X-API-Key": process.env.IMAGEJOBS_API_KEY, "Content-Type": "application/json"},',
      `  body: JSON.stringify(${json.replaceAll("\n", "\n  ")}),`,
      "});", "console.log(response.status, await response.json());", "",
    ].join("\n");
  }
  return [
    `curl -s ${shellQuote(url)} \\`,
    '  -H "X-API-Key: $IMAGEJOBS_API_KEY" \\',
    "  -H 'Content-Type: application/json' \\",
    `  -d ${shellQuote(json)}`, "",
  ].join("\n");
}

function showSnippet() {
  if (!lastRequest) return;
  $("snippet").firstElementChild.textContent = snippet(snippetKind, lastRequest);
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.setAttribute("aria-pressed", String(button.dataset.copy === snippetKind));
  }
}

/** Called on every change of the form: the outputs are renumbered and the snippets follow. */
function changed() {
  [...$("outputs").children].forEach((item, i) => {
    item.querySelector("legend").textContent = `Output ${i + 1}`;
  });
  const { body } = collect(upload && upload.file === $("file").files[0] ? upload.id : null);
  lastRequest = { url: new URL("jobs", API).href, body };
  $("no-outputs").hidden = $("outputs").children.length > 0;
  showSnippet();
}

async function copySnippet(kind) {
  snippetKind = kind;
  showSnippet();
  const text = $("snippet").textContent;
  const names = { curl: "curl", python: "Python", javascript: "JavaScript" };
  try {
    await navigator.clipboard.writeText(text);
    $("copied").textContent = `Copied as ${names[kind]}.`;
  } catch {
    const selection = getSelection();
    selection.selectAllChildren($("snippet"));
    $("copied").textContent = `Shown as ${names[kind]} and selected: press Ctrl+C (⌘C) to copy.`;
  }
}

// ---- talking to the API --------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details || [];
  }
}

async function call(method, path, body) {
  const headers = {};
  const key = $("key").value.trim();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(new URL(path, API), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const fallback = { code: `http_${response.status}`, message: text.slice(0, 300) };
    throw new ApiError(response.status, data?.error || fallback);
  }
  return data;
}

function contentType(file) {
  if (file.type) return file.type;
  const extension = file.name.split(".").pop().toLowerCase();
  for (const format of catalogue.formats.values()) {
    if ((format.extensions || []).includes(extension) && format.content_type) return format.content_type;
  }
  return "application/octet-stream";
}

async function uploadFile(file) {
  if (upload && upload.file === file) return upload.id;
  status(`Uploading ${file.name} (${bytes(file.size)}) to S3…`);
  let form;
  try {
    const described = { filename: file.name, content_type: contentType(file), size_bytes: file.size };
    form = await call("POST", "uploads", described);
  } catch (error) {
    if (error instanceof ApiError) {
      const details = error.details.length ? error.details : [{ message: error.message }];
      error.details = details.map((detail) => ({ path: "upload", message: detail.message }));
    }
    throw error;
  }
  const data = new FormData();
  for (const [name, value] of Object.entries(form.fields)) data.append(name, value);
  data.append("file", file);
  const sent = await fetch(form.url, { method: "POST", body: data });
  if (!sent.ok) {
    const message = `S3 refused the upload (HTTP ${sent.status})`;
    throw new ApiError(sent.status, { code: "upload_refused", message, details: [{ path: "upload", message }] });
  }
  upload = { file, id: form.upload_id };
  return upload.id;
}

function status(text) {
  $("status").textContent = text;
}

function clearProblems() {
  $("problems").replaceChildren();
  for (const node of document.querySelectorAll(".error")) node.hidden = true;
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** Where the form shows a path of the request: its field, or the nearest part holding it. */
function placeOf(places, path) {
  let current = path;
  while (current) {
    if (places.has(current)) return places.get(current);
    const shorter = current.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    if (shorter === current) return undefined;
    current = shorter;
  }
  return undefined;
}

/** Shows an API error: each detail on the field its path names (or the nearest enclosing part). */
function showProblems(error, places) {
  const list = el("ul");
  const details = error.details.length ? error.details : [{ path: "", message: error.message }];
  let first = null;
  for (const detail of details) {
    const place = placeOf(places, detail.path || "");
    place?.showError(detail.message);
    first = first || place;
    const text = `${detail.path ? `${detail.path}: ` : ""}${detail.message}`;
    if (place) {
      const link = el("button", { type: "button", class: "link" }, text);
      link.addEventListener("click", () => place.focus());
      list.append(el("li", {}, link));
    } else {
      list.append(el("li", {}, text));
    }
  }
  $("problems").replaceChildren(el("p", {}, `${error.code}: ${error.message}`), list);
  first?.focus();
}

// ---- running a job -------------------------------------------------------------------------------

async function run(event) {
  event.preventDefault();
  clearProblems();
  const file = $("file").files[0];
  if (!$("preset").value && $("outputs").children.length === 0) {
    showProblems({ code: "no_outputs", message: "add an output, or pick a preset", details: [] }, new Map());
    $("add-output").focus();
    return;
  }
  $("run").disabled = true;
  const started = performance.now();
  let places = collect(null).places;
  try {
    const uploadId = await uploadFile(file);
    const request = collect(uploadId);
    places = request.places;
    lastRequest = { url: new URL("jobs", API).href, body: request.body };
    showSnippet();
    status("Creating the job…");
    let job = await call("POST", "jobs", request.body);
    while (!FINISHED.includes(job.status)) {
      status(`Job ${job.id}: ${job.status.replaceAll("_", " ")}…`);
      await sleep(400);
      job = await call("GET", `jobs/${job.id}`);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (job.status === "failed") {
      status(`Job ${job.id} failed after ${seconds} s.`);
      showProblems({ code: job.error.code, message: job.error.message, details: [] }, places);
      return;
    }
    const count = `${job.outputs.length} output${job.outputs.length === 1 ? "" : "s"}`;
    status(`Job ${job.id} succeeded in ${seconds} s: ${count}.`);
    showResults(job, file);
  } catch (error) {
    if (!(error instanceof ApiError)) {
      status("");
      const message = `the request did not complete (${error.message})`;
      showProblems({ code: "network", message, details: [] }, places);
      return;
    }
    if (error.status === 401) error.details = [{ path: "key", message: error.message }];
    if (error.details.some((d) => d.path.startsWith("source"))) upload = null; // upload again next time
    status(`The API answered ${error.status}.`);
    showProblems(error, new Map([...places, ["key", keyField]]));
  } finally {
    $("run").disabled = false;
  }
}

function figure({ label, src, format, width, height, size, saving, download }) {
  const image = el("img", { src, alt: `${label}: ${format}, ${width}×${height} pixels`, decoding: "async" });
  const preview = el("div", { class: "preview" }, image);
  image.addEventListener("error", () => {
    preview.replaceChildren(el("p", { class: "hint" }, `This browser does not show ${format} images.`));
  });
  const facts = el("ul", { class: "facts" },
    el("li", {}, format),
    el("li", {}, `${width}×${height} px`),
    el("li", { title: `${size} bytes` }, bytes(size)),
    saving === undefined ? null : el("li", { class: saving >= 0 ? "smaller" : "larger" },
      saving >= 0 ? `${saving}% smaller` : `${-saving}% larger`));
  const role = download ? "data-output" : "data-original";
  return el("figure", { [role]: label, "data-width": width, "data-height": height },
    preview, el("figcaption", {}, el("strong", {}, label), facts,
      download ? el("a", { href: download, download: "" }, `Download ${label}`) : null));
}

function showResults(job, file) {
  const source = job.source || {};
  const originalBytes = source.bytes || file.size;
  const original = figure({
    label: "original", src: $("file-preview").src, format: source.format || contentType(file),
    width: source.width, height: source.height, size: originalBytes,
  });
  const outputs = job.outputs.map((output) => figure({
    label: output.name, src: output.url, format: output.format, width: output.width, height: output.height,
    size: output.bytes, saving: Math.round((1 - output.bytes / originalBytes) * 100), download: output.url,
  }));
  $("results").replaceChildren(original, ...outputs);
  $("results-section").hidden = false;
}

// ---- the page ------------------------------------------------------------------------------------

/** A field of the page itself (key, image, preset), where errors of its paths are shown. */
function pageField(id) {
  return {
    showError: (message) => {
      showBlockError($(`${id}-error`), message);
      $(id).setAttribute("aria-invalid", "true");
    },
    focus: () => $(id).focus(),
  };
}

const keyField = pageField("key");
const uploadField = pageField("file");
const presetField = pageField("preset");

function chooseFile(file) {
  $("file-name").textContent = file ? `${file.name} · ${bytes(file.size)}` : "";
  const preview = $("file-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = !file;
  if (file) preview.src = URL.createObjectURL(file);
  changed();
}

function wireDropZone() {
  const zone = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) {
      $("file").files = event.dataTransfer.files;
      chooseFile($("file").files[0]);
    }
  });
  $("file").addEventListener("change", () => chooseFile($("file").files[0]));
}

function showPreset() {
  const preset = catalogue.presets.get($("preset").value);
  $("builder").disabled = Boolean(preset);
  $("builder").hidden = Boolean(preset);
  $("preset-hint").textContent = preset
    ? `${preset.description} Outputs: ${preset.outputs.map((o) => `${o.name} (${o.format})`).join(", ")}.`
    : "A preset is a name for ordinary outputs (GET /v1/presets).";
  changed();
}

async function start() {
  let operations, presets, formats, openapi;
  try {
    [operations, presets, formats, openapi] = await Promise.all(
      ["operations", "presets", "formats", "openapi.json"].map((path) => call("GET", path)),
    );
  } catch (error) {
    $("loading").textContent = `The catalogues did not load: ${error.message}`;
    return;
  }
  for (const entry of operations.operations) catalogue.operations.set(entry.type, entry.parameters);
  for (const preset of presets.presets) catalogue.presets.set(preset.name, preset);
  for (const format of formats.formats) catalogue.formats.set(format.name, format);
  catalogue.output = openapi.components.schemas.Output;
  for (const name of catalogue.presets.keys()) $("preset").append(el("option", { value: name }, name));

  $("key").value = sessionStorage.getItem(KEY_STORAGE) || "";
  $("key").addEventListener("input", () => sessionStorage.setItem(KEY_STORAGE, $("key").value.trim()));
  $("preset").addEventListener("change", showPreset);
  $("add-output").addEventListener("click", addOutput);
  $("job").addEventListener("submit", run);
  $("job").addEventListener("input", changed);
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copySnippet(button.dataset.copy));
  }
  wireDropZone();
  $("loading").hidden = true;
  $("playground").classList.add("ready");
  $("job").hidden = false;
  $("request-section").hidden = false;
  changed();
}

start();
