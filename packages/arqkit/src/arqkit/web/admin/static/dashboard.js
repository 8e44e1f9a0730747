// The live dashboard: one EventSource (`/admin/events`) feeds every panel; replays go through the
// admin API with the session cookie. Data is put in the page with textContent only, never as HTML.
"use strict";

const SPAN_MS = 5 * 60 * 1000;
const history = []; // {t, depth, done, failed}: what the chart shows
let previous = null; // the last snapshot, to turn counters into rates
const failures = { offset: 0, limit: 10, jobId: "", seen: null }; // the grouped failures' page and search
const ERROR_CHARS = 160; // an error's first line, cut there; the whole text is in the cell's title
const tracked = new Map(); // new job id -> its row in "Replayed"

const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fillTable(id, rows, columns, emptyText) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(emptyText, "empty");
    td.colSpan = columns;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const row of rows) body.append(row);
}

function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  return new Date(ms).toLocaleString();
}

function jobLink(jobId) {
  const td = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = jobId;
  button.addEventListener("click", () => showJob(jobId));
  td.append(button);
  return td;
}

function fullErrorText(error) {
  return error ? `${error.type}: ${error.message}` : "";
}

// httpx and friends add lines such as "For more information check: ...": a table shows the first line.
function errorText(error) {
  if (!error) return "";
  const line = String(error.message).split("\n", 1)[0].trim();
  const short = line.length > ERROR_CHARS ? `${line.slice(0, ERROR_CHARS - 1)}…` : line;
  return `${error.type}: ${short}`;
}

function errorCell(error) {
  const td = cell(errorText(error), "error");
  td.title = fullErrorText(error);
  return td;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) window.location.reload(); // the session expired: back to the login
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(typeof body.detail === "string" ? body.detail : response.statusText);
    error.detail = body.detail; // a 422's list: what is wrong, and where
    throw error;
  }
  return body;
}

function render(snapshot) {
  const sum = (key) => snapshot.queues.reduce((total, q) => total + q[key], 0);
  $("total-queued").textContent = sum("queued");
  $("total-deferred").textContent = sum("deferred");
  $("total-in-progress").textContent = sum("in_progress");
  $("dead-count").textContent = snapshot.dead_letter_count;
  $("workers-alive").textContent = snapshot.workers.length;

  let done = 0;
  let failed = 0;
  if (previous) {
    const seconds = Math.max(0.001, (snapshot.at_ms - previous.at_ms) / 1000);
    done = Math.max(0, snapshot.totals.jobs_completed - previous.totals.jobs_completed) / seconds;
    failed = Math.max(0, snapshot.totals.jobs_failed - previous.totals.jobs_failed) / seconds;
  }
  previous = snapshot;
  $("throughput").textContent = done.toFixed(1);
  history.push({ t: snapshot.at_ms, depth: sum("queued"), done, failed });
  while (history.length && history[0].t < snapshot.at_ms - SPAN_MS) history.shift();
  drawHistory();

  fillTable("queues", snapshot.queues.map((q) => {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    tr.append(cell(q.name), cell(q.queued, "queued"), cell(q.deferred), cell(q.in_progress),
      cell(`${q.oldest_queued_age_seconds.toFixed(1)} s`), cell(q.workers_alive), ...pauseCells(q));
    return tr;
  }), 8, "no queues");

  fillTable("workers", snapshot.workers.map((w) => {
    const tr = document.createElement("tr");
    tr.append(cell(w.worker_id), cell(w.host), cell(w.pid), cell(w.queue), cell(w.jobs_running),
      cell(ago(w.last_seen * 1000)));
    return tr;
  }), 6, "no live worker");

  const newest = snapshot.recent_failures[0];
  const seen = newest ? `${newest.job_id}@${newest.finished_at_ms}` : "";
  if (seen !== failures.seen) { // a new failure: the groups changed
    failures.seen = seen;
    loadFailureGroups();
  }

  fillTable("dead-letters", snapshot.dead_letters.map((letter) => {
    const tr = document.createElement("tr");
    tr.dataset.jobId = letter.job_id;
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "replay";
    button.textContent = "Replay…";
    button.addEventListener("click", () => confirmReplayOne(letter));
    action.append(button, editButton(letter), discardButton(letter));
    tr.append(jobLink(letter.job_id), cell(letter.function),
      argsCell({ args: letter.args, kwargs: letter.keyword_args }),
      errorCell(letter.error), cell(letter.tries), cell(ago(letter.failed_at_ms)), action);
    return tr;
  }), 7, "no dead letters");
}

function argsCell(value) {
  const text = JSON.stringify(value);
  const td = cell(text, "args clip");
  td.title = text;
  return td;
}

function drawHistory() {
  const chart = $("chart");
  window.drawChart(chart, history, [
    { key: "depth", color: "#2563eb" },
    { key: "done", color: "#15803d" },
    { key: "failed", color: "#b42318" },
  ], SPAN_MS);
  chart.dataset.points = String(history.length);
  chart.dataset.from = history.length ? String(history[0].t) : "";
}

// The minutes before the page opened, from the samples the API keeps in Redis (/admin/throughput).
async function loadHistory() {
  const samples = await api("/admin/throughput");
  let before = null;
  for (const sample of samples) {
    const seconds = before ? Math.max(0.001, (sample.at_ms - before.at_ms) / 1000) : 1;
    const rate = (key) => (before ? Math.max(0, sample[key] - before[key]) / seconds : 0);
    history.push({ t: sample.at_ms, depth: sample.queued, done: rate("completed"), failed: rate("failed") });
    before = sample;
  }
  if (before) previous = { at_ms: before.at_ms, totals: { jobs_completed: before.completed, jobs_failed: before.failed } };
  drawHistory();
}

function groupRow(group) {
  const tr = document.createElement("tr");
  const example = document.createElement("td");
  example.className = "example";
  const link = jobLink(group.example.job_id).firstChild;
  const message = document.createElement("div");
  message.className = "error";
  message.textContent = errorText(group.example.error);
  message.title = fullErrorText(group.example.error);
  example.append(link, message);
  tr.append(cell(group.function, "function"), cell(group.error_type, "error-type"), cell(group.count, "count"),
    cell(ago(group.first_seen_ms)), cell(ago(group.last_seen_ms)), example);
  return tr;
}

async function loadFailureGroups() {
  const params = new URLSearchParams({ limit: failures.limit, offset: failures.offset });
  if (failures.jobId) params.set("job_id", failures.jobId);
  try {
    const page = await api(`/admin/failures?${params}`);
    fillTable("failure-groups", page.items.map(groupRow), 6, failures.jobId ? "no failure of such a job" : "no failure");
    const last = Math.min(page.total, page.offset + page.items.length);
    $("failures-page").textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : "";
    $("failures-newer").disabled = page.offset === 0;
    $("failures-older").disabled = last >= page.total;
  } catch (error) {
    $("failures-page").textContent = String(error.message);
  }
}

function pageFailures(step) {
  failures.offset = Math.max(0, failures.offset + step * failures.limit);
  loadFailureGroups();
}

function confirm(title, summary, items, action = "Replay") {
  $("confirm-title").textContent = title;
  $("confirm-replay").textContent = action;
  $("confirm-summary").textContent = summary;
  $("confirm-items").replaceChildren(...items.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
  const dialog = $("confirm-dialog");
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

const describe = (letter) => `${letter.job_id} · ${letter.function} · ${errorText(letter.error)}`;

async function confirmReplayOne(letter) {
  if (!(await confirm("Replay this job?", "It is enqueued again as a new job:", [describe(letter)]))) return;
  const job = await api(`/admin/dead-letters/${encodeURIComponent(letter.job_id)}/replay`, { method: "POST" });
  track(letter.job_id, job.job_id, letter.function);
}

async function confirmReplayWindow(event) {
  event.preventDefault();
  const seconds = Number($("window-seconds").value);
  const asked = Date.now();
  const window_ = await api(`/admin/dead-letters/window?since_seconds=${seconds}&limit=20`);
  if (!window_.count) {
    await confirm("Nothing to replay", "No job failed in that window.", []);
    return;
  }
  const more = window_.count - window_.items.length;
  const items = window_.items.map(describe).concat(more > 0 ? [`… and ${more} more`] : []);
  const summary = `${window_.count} dead letter(s) will be enqueued again (plus any that fail before you confirm):`;
  if (!(await confirm(`Replay ${window_.count} job(s)?`, summary, items))) return;
  const since = seconds + Math.ceil((Date.now() - asked) / 1000); // the same window start as the preview
  // Bounded requests (the server replays at most `limit` per request), resumed at the same window end.
  let window = { since_seconds: since };
  for (;;) {
    const result = await api("/admin/dead-letters/replay", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(window),
    });
    result.job_ids.forEach((jobId) => track("(window)", jobId, ""));
    if (!result.remaining || !result.count) break;
    window = { since_seconds: since, until_ms: result.until_ms };
  }
}

// Replay with edited arguments: the letter's arguments by name to edit as JSON, the server's diff of the
// checked arguments, then a confirmation. Any change to the text asks for a new diff before replaying.
const editing = { letter: null, kwargs: null };

function editButton(letter) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary edit";
  button.textContent = "Edit…";
  button.addEventListener("click", () => openEdit(letter).catch((error) => window.alert(error.message)));
  return button;
}

function previewPath(letter) {
  return `/admin/dead-letters/${encodeURIComponent(letter.job_id)}/replay/preview`;
}

function postJson(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

async function openEdit(letter) {
  const preview = await postJson(previewPath(letter), {});
  editing.letter = letter;
  editing.kwargs = null;
  $("edit-title").textContent = `Replay ${letter.job_id} (${letter.function}) with edited arguments`;
  $("edit-kwargs").value = JSON.stringify(preview.before, null, 2);
  showEditErrors([]);
  $("edit-diff").hidden = true;
  $("edit-confirm").disabled = true;
  $("edit-dialog").showModal();
}

function showEditErrors(messages) {
  $("edit-errors").replaceChildren(...messages.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
}

function describeDetail(error) {
  if (!Array.isArray(error.detail)) return [error.message];
  return error.detail.map((item) => `${item.loc.slice(2).join(".") || "arguments"}: ${item.msg}`);
}

async function previewEdit() {
  $("edit-confirm").disabled = true;
  $("edit-diff").hidden = true;
  let kwargs;
  try {
    kwargs = JSON.parse($("edit-kwargs").value);
  } catch (error) {
    showEditErrors([`not JSON: ${error.message}`]);
    return;
  }
  try {
    const preview = await postJson(previewPath(editing.letter), { kwargs });
    showEditErrors(preview.changes.length ? [] : ["no argument changed"]);
    fillTable("edit-diff", preview.changes.map((change) => {
      const tr = document.createElement("tr");
      tr.dataset.field = change.field;
      const shown = (value, present) => (present ? JSON.stringify(value) : "(none)");
      tr.append(cell(change.field), cell(shown(change.before, change.change !== "added"), "before"),
        cell(shown(change.after, change.change !== "removed"), "after"));
      return tr;
    }), 3, "no changes");
    $("edit-diff").hidden = false;
    editing.kwargs = preview.after;
    $("edit-confirm").disabled = false;
  } catch (error) {
    showEditErrors(describeDetail(error));
  }
}

async function confirmEdit() {
  const letter = editing.letter;
  const body = { kwargs: editing.kwargs };
  const operator = $("edit-operator").value.trim();
  if (operator) body.operator = operator;
  try {
    const job = await postJson(`/admin/dead-letters/${encodeURIComponent(letter.job_id)}/replay`, body);
    $("edit-dialog").close();
    track(letter.job_id, job.job_id, letter.function);
  } catch (error) {
    showEditErrors(describeDetail(error));
  }
}

$("edit-preview").addEventListener("click", previewEdit);
$("edit-confirm").addEventListener("click", confirmEdit);
$("edit-kwargs").addEventListener("input", () => { $("edit-confirm").disabled = true; });

// Pause and discard: a queue's state and a dead letter's row come back with the next snapshot.
function pauseCells(queue) {
  const action = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary pause";
  button.textContent = queue.paused ? "Resume" : "Pause";
  button.addEventListener("click", () => {
    const verb = queue.paused ? "resume" : "pause";
    api(`/admin/queues/${encodeURIComponent(queue.priority)}/${verb}`, { method: "POST" })
      .catch((error) => window.alert(error.message));
  });
  action.append(button);
  return [stateCell(queue), action];
}

// Jobs waiting with no live worker is a problem whether or not the queue is paused: say it first.
function stateCell(queue) {
  const state = queue.unserved ? "no worker: jobs wait" : queue.paused ? "paused" : "running";
  const td = cell(state, queue.unserved || queue.paused ? "state error" : "state");
  if (queue.unserved) td.title = `${queue.queued} job(s) wait and no live worker serves ${queue.name}`;
  return td;
}

function discardButton(letter) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary discard";
  button.textContent = "Discard…";
  button.addEventListener("click", async () => {
    if (!(await confirm("Discard this dead letter?", "It is dropped for good, never run again:",
      [describe(letter)], "Discard"))) return;
    await api(`/admin/dead-letters/${encodeURIComponent(letter.job_id)}`, { method: "DELETE" })
      .catch((error) => window.alert(error.message));
  });
  return button;
}

function track(originalId, jobId, functionName) {
  const tr = document.createElement("tr");
  tr.dataset.jobId = jobId;
  tr.append(cell(originalId), jobLink(jobId), cell(functionName), cell("queued", "status"));
  const body = $("replays").querySelector("tbody");
  body.prepend(tr);
  tracked.set(jobId, tr);
}

async function refreshTracked() {
  for (const [jobId, tr] of tracked) {
    try {
      const detail = await api(`/admin/jobs/${encodeURIComponent(jobId)}`);
      const status = detail.status ? detail.status.status : "expired";
      const td = tr.querySelector(".status");
      td.textContent = status;
      td.className = `status status-${status}`;
      if (detail.status) tr.children[2].textContent = detail.status.function;
      if (["complete", "failed", "aborted", "expired"].includes(status)) tracked.delete(jobId);
    } catch (error) {
      tr.querySelector(".status").textContent = String(error.message);
    }
  }
}

// A flow (flows.py) as a tree: its status, then each stage's steps (a stage's steps run at once).
function flowTree(flow) {
  const lines = [`flow ${flow.job_id}: ${flow.status} (on failure: ${flow.on_failure})`];
  let stage = 0;
  for (const step of flow.steps) {
    if (step.stage !== stage) {
      stage = step.stage;
      lines.push(`└─ stage ${stage}`);
    }
    lines.push(`   ├─ ${step.function}  ${step.status}  ${step.job_id}`);
  }
  return lines.join("\n");
}

async function showJob(jobId) {
  $("job-title").textContent = `Job ${jobId}`;
  $("job-body").textContent = "loading…";
  $("job-dialog").showModal();
  try {
    const detail = await api(`/admin/jobs/${encodeURIComponent(jobId)}`);
    const tracebacks = detail.failed_tries.map((t) => `--- try ${t.try}: ${t.type}: ${t.message}\n${t.traceback || ""}`);
    const letter = detail.dead_letter && detail.dead_letter.traceback ? [`--- final failure\n${detail.dead_letter.traceback}`] : [];
    const audits = [["replayed from", detail.replayed_from], ["replayed as", detail.replay]]
      .filter(([, record]) => record)
      .map(([label, record]) => `--- ${label} ${label === "replayed as" ? record.job_id : record.replay_of}\n${JSON.stringify(record, null, 2)}`);
    const tree = detail.status && detail.status.steps ? [flowTree(detail.status)] : [];
    $("job-body").textContent = [...tree, JSON.stringify(detail.status, null, 2), ...audits, ...tracebacks, ...letter].join("\n\n");
  } catch (error) {
    $("job-body").textContent = String(error.message);
  }
}

function connect() {
  const events = new EventSource("/admin/events");
  events.addEventListener("snapshot", (event) => {
    $("connection").textContent = "live";
    $("connection").className = "badge on";
    render(JSON.parse(event.data));
  });
  events.addEventListener("unavailable", () => {
    $("connection").textContent = "queue unavailable";
    $("connection").className = "badge off";
  });
  events.addEventListener("error", () => {
    $("connection").textContent = "reconnecting…";
    $("connection").className = "badge off";
    if (events.readyState === EventSource.CLOSED) window.location.reload(); // e.g. the session expired
  });
}

$("window-form").addEventListener("submit", confirmReplayWindow);
$("failure-search").addEventListener("submit", (event) => {
  event.preventDefault();
  failures.jobId = $("failure-job-id").value.trim();
  if (failures.jobId.startsWith("flow-")) showJob(failures.jobId); // a flow: its tree
  failures.offset = 0;
  loadFailureGroups();
});
$("failures-newer").addEventListener("click", () => pageFailures(-1));
$("failures-older").addEventListener("click", () => pageFailures(1));
$("sign-out").addEventListener("click", async () => {
  await fetch("/admin/session", { method: "DELETE", credentials: "same-origin" });
  window.location.reload();
});
$("chart-minutes").textContent = String(SPAN_MS / 60000);
setInterval(refreshTracked, 1000);
loadHistory().catch(() => {}).finally(connect); // the chart's past first, then the live points after it
