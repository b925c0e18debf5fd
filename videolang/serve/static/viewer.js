// The viewer's page: plain DOM, no library, no network beyond this server (docs/serve.md).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const player = $("#player");
const state = { vid: null, details: null, duration: 0, models: {}, stopAt: null, browse: null, sortKey: null, sortAsc: true };

function fmt(t) {
  t = Math.max(0, Math.floor(t));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(s).padStart(2, "0")}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function message(text, kind = "error") {
  const box = $("#messages");
  box.replaceChildren(el("div", { class: kind }, text));
}

function clearMessage() { $("#messages").replaceChildren(); }

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = { error: `${response.status} ${response.statusText}` }; }
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}

function postJSON(path, data) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data || {}) });
}

// A job: POST starts it, then poll until done; `status` is the panel's progress line.
async function runJob(start, status) {
  let job = await start;
  status.hidden = false;
  while (job.status === "queued" || job.status === "running") {
    const waiting = job.status === "queued" ? `waiting${job.ahead ? ` (${job.ahead} ahead)` : ""}` : job.step;
    $("span", status).textContent = `${waiting}… ${job.seconds} s`;
    await new Promise(r => setTimeout(r, 300));
    job = await api(`/api/jobs/${job.id}`);
  }
  status.hidden = true;
  if (job.status === "error") throw new Error(job.error);
  return job.result;
}

function seek(t, play = true) {
  player.currentTime = t;
  if (play) player.play().catch(() => {});
}

function duration() { return state.duration || player.duration || 1; }

// ------------------------------------------------------------------ timeline
function drawSegments(row, segments, cls, label) {
  const track = $(`#row-${row} .track`);
  track.replaceChildren();
  for (const s of segments) {
    const left = 100 * s.start / duration(), width = 100 * Math.max(0.002, (s.end - s.start) / duration());
    const seg = el("div", { class: `seg ${cls || ""}`, title: label(s), style: `left:${left}%;width:${width}%` }, s.text || "");
    seg.dataset.start = s.start;
    seg.dataset.end = s.end;
    seg.addEventListener("click", ev => { ev.stopPropagation(); s.onclick ? s.onclick() : seek(s.start); });
    track.append(seg);
  }
}

function drawChapters(row, chapters) {
  drawSegments(row, chapters.map(c => ({ start: c.start, end: c.end, text: c.title })),
               "chapter", s => `${fmt(s.start)}-${fmt(s.end)} ${s.text}`);
}

function fillList(list, chapters) {
  list.replaceChildren(...chapters.map(c => el("li", { onclick: () => seek(c.start) },
    el("span", { class: "time" }, fmt(c.start)), c.title)));
}

function drawSaliency(points) {
  const line = $("#row-saliency polyline");
  if (!points || !points.length) { line.setAttribute("points", ""); return; }
  const values = points.map(p => p[1]), lo = Math.min(...values), hi = Math.max(...values);
  line.setAttribute("points", points.map(([t, x]) =>
    `${(1000 * t / duration()).toFixed(1)},${(95 - 90 * (hi > lo ? (x - lo) / (hi - lo) : 0.5)).toFixed(1)}`).join(" "));
}

for (const track of document.querySelectorAll("#timeline .track")) {
  track.addEventListener("click", ev => {
    const box = track.getBoundingClientRect();
    seek(duration() * (ev.clientX - box.left) / box.width, false);
  });
}

player.addEventListener("timeupdate", () => {
  const t = player.currentTime;
  if (state.stopAt !== null && t >= state.stopAt) { player.pause(); state.stopAt = null; }
  const head = $("#playhead"), track = $("#row-predicted .track");
  head.style.display = "block";
  head.style.left = `${track.offsetLeft + track.offsetWidth * t / duration()}px`;
  for (const seg of document.querySelectorAll("#row-predicted .seg, #row-true .seg")) {
    seg.classList.toggle("current", t >= +seg.dataset.start && t < +seg.dataset.end);
  }
  for (const li of document.querySelectorAll("#transcript li")) {
    li.classList.toggle("current", t >= +li.dataset.start && t < +li.dataset.end);
  }
});
player.addEventListener("loadedmetadata", () => { if (!state.duration) state.duration = player.duration; });

// ------------------------------------------------------------------ videos
function showTranscript(cues) {
  $("#transcript").replaceChildren(...cues.map(c => {
    const li = el("li", { onclick: () => seek(c.start) }, el("span", { class: "time" }, fmt(c.start)), c.text);
    li.dataset.start = c.start;
    li.dataset.end = c.end;
    return li;
  }));
}

function setTrack(vid, chapters) {
  for (const t of player.querySelectorAll("track")) t.remove();
  const track = el("track", { kind: "chapters", label: "predicted chapters", srclang: "en",
                              src: `/api/videos/${encodeURIComponent(vid)}/chapters.vtt`, default: "" });
  player.append(track);
  track.track.mode = "hidden";  // loaded (its cues readable) without drawing over the video
}

function resetPanels() {
  for (const row of ["predicted", "true", "windows", "span"]) $(`#row-${row} .track`).replaceChildren();
  drawSaliency(null);
  for (const id of ["#chapter-list", "#true-list", "#windows", "#transcript", "#probabilities", "#chapter-notes", "#browse-detail"]) {
    $(id).replaceChildren();
  }
  for (const t of player.querySelectorAll("track")) t.remove();
}

async function openVideo(vid) {
  clearMessage();
  resetPanels();
  state.vid = vid;
  state.stopAt = null;
  $("#video-select").value = vid;
  let details;
  try { details = await api(`/api/videos/${encodeURIComponent(vid)}`); } catch (e) { message(e.message); return; }
  if (state.vid !== vid) return;
  state.details = details;
  state.duration = details.duration || 0;
  player.src = details.media;
  drawChapters("true", details.chapters);
  fillList($("#true-list"), details.chapters);
  showTranscript(details.transcript);
  $("#query-examples").replaceChildren(...details.chapters.map(c => el("option", { value: c.title })));
  const examples = $("#question-examples");
  examples.replaceChildren(el("option", { value: "" }, details.questions.length ? "a question of the dataset…" : "(no dataset question)"),
    ...details.questions.map((q, i) => el("option", { value: i }, q.question)));
  if (state.browse && state.browse.rows.some(r => r.video_id === vid)) showBrowseItem(vid);
  if (state.models.chapters && state.models.chapters.state === "ready") await predictChapters(vid);
}

async function predictChapters(vid) {
  try {
    const result = await runJob(postJSON(`/api/videos/${encodeURIComponent(vid)}/chapters`), $("#chapters-status"));
    if (state.vid !== vid) return;
    state.duration = result.duration || state.duration;
    drawChapters("predicted", result.chapters);
    drawChapters("true", state.details.chapters);
    fillList($("#chapter-list"), result.chapters);
    $("#chapter-notes").textContent = result.notes.join("; ");
    setTrack(vid, result.chapters);
    if (!state.details.transcript.length) showTranscript(result.transcript);
  } catch (e) { if (state.vid === vid) message(`chapters: ${e.message}`); }
}

async function loadVideos(select) {
  const videos = await api("/api/videos");
  const box = $("#video-select");
  box.replaceChildren(el("option", { value: "" }, videos.length ? "pick a video…" : "(no dataset video: upload one)"),
    ...videos.map(v => el("option", { value: v.id }, `${v.id}${v.split ? ` (${v.split})` : ""}${v.title ? ` ${v.title}` : ""}`)));
  if (select) box.value = select;
}

$("#video-select").addEventListener("change", ev => { if (ev.target.value) openVideo(ev.target.value); });

$("#upload").addEventListener("change", async ev => {
  const file = ev.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const status = $("#chapters-status");
  status.hidden = false;
  $("span", status).textContent = `uploading ${file.name}…`;
  try {
    const entry = await api("/api/upload", { method: "POST", body: form });
    status.hidden = true;
    await loadVideos(entry.id);
    await openVideo(entry.id);
  } catch (e) {
    status.hidden = true;
    message(`upload: ${e.message}`);
  }
  ev.target.value = "";
});

// ------------------------------------------------------------------ moments
function showWindows(windows, saliency) {
  const play = w => () => { state.stopAt = w[1]; seek(w[0]); };
  drawSegments("windows", windows.map((w, i) => ({ start: w[0], end: w[1], text: `${i + 1}`, onclick: play(w) })),
               "window", s => `${fmt(s.start)}-${fmt(s.end)}`);
  $("#windows").replaceChildren(...windows.map(w => el("li", { onclick: play(w) },
    el("span", { class: "time" }, `${fmt(w[0])}-${fmt(w[1])}`), `score ${w[2].toFixed(3)}`)));
  drawSaliency(saliency);
}

$("#ground-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const vid = state.vid;
  if (!vid) { message("pick or upload a video first"); return; }
  clearMessage();
  try {
    const result = await runJob(postJSON(`/api/videos/${encodeURIComponent(vid)}/ground`, { query: $("#query").value }),
                                $("#moment-panel .status"));
    if (state.vid !== vid) return;
    if (!result.windows.length) message("the model gave no well-formed window for this query", "warning");
    showWindows(result.windows, result.saliency);
  } catch (e) { message(`moment: ${e.message}`); }
});

// ------------------------------------------------------------------ questions
$("#question-examples").addEventListener("change", ev => {
  const q = state.details && state.details.questions[+ev.target.value];
  if (!q) return;
  $("#question").value = q.question;
  $("#answers").value = q.answers.join("\n");
  $("#ts").value = q.ts ? `${q.ts[0]}-${q.ts[1]}` : "";
});

$("#ask-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const vid = state.vid;
  if (!vid) { message("pick or upload a video first"); return; }
  clearMessage();
  const answers = $("#answers").value.split("\n").map(a => a.trim()).filter(Boolean);
  try {
    const result = await runJob(postJSON(`/api/videos/${encodeURIComponent(vid)}/ask`,
                                         { question: $("#question").value, answers, ts: $("#ts").value || null }),
                                $("#question-panel .status"));
    if (state.vid !== vid) return;
    $("#probabilities").replaceChildren(...result.answers.map((a, i) => el("div", { class: `bar-row${i === result.pred ? " chosen" : ""}` },
      el("span", {}, i === result.pred ? "★" : ""), el("span", { class: "answer" }, a),
      el("div", {}, el("div", { class: "bar", style: `width:${(100 * result.probabilities[i]).toFixed(1)}%` })),
      el("span", { class: "pct" }, `${(100 * result.probabilities[i]).toFixed(1)}%`))));
    drawSegments("span", result.ts ? [{ start: result.ts[0], end: result.ts[1], text: "ts" }] : [], "span",
                 s => `${fmt(s.start)}-${fmt(s.end)}`);
  } catch (e) { message(`question: ${e.message}`); }
});

// ------------------------------------------------------------------ browse
function cell(value, key) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return value;
  return ["n_predictions", "n_references", "queries", "questions"].includes(key) ? String(value) : (100 * value).toFixed(1);
}

function renderBrowse() {
  const table = state.browse;
  const key = state.sortKey;
  const rows = [...table.rows].sort((a, b) => {
    const x = a[key], y = b[key];
    const order = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
    return state.sortAsc ? order : -order;
  });
  $("#browse-table thead").replaceChildren(el("tr", {}, ...table.columns.map(c => {
    const th = el("th", { onclick: () => { state.sortAsc = state.sortKey === c.key ? !state.sortAsc : true; state.sortKey = c.key; renderBrowse(); } }, c.label);
    th.dataset.key = c.key;
    if (c.key === key) th.classList.add(state.sortAsc ? "sorted-asc" : "sorted-desc");
    return th;
  })));
  const known = new Set([...$("#video-select").options].map(o => o.value));
  $("#browse-table tbody").replaceChildren(...rows.map(r => {
    const tr = el("tr", { onclick: () => known.has(r.video_id) ? openVideo(r.video_id) : (message(`${r.video_id}: no media file in this dataset`), showBrowseItem(r.video_id)) },
      ...table.columns.map(c => el("td", {}, cell(r[c.key], c.key))));
    tr.dataset.vid = r.video_id;
    tr.classList.toggle("selected", r.video_id === state.vid);
    return tr;
  }));
}

async function showBrowseItem(vid) {
  for (const tr of document.querySelectorAll("#browse-table tbody tr")) tr.classList.toggle("selected", tr.dataset.vid === vid);
  let item;
  try { item = await api(`/api/browse/${encodeURIComponent(vid)}`); } catch (e) { return; }
  const box = $("#browse-detail");
  box.replaceChildren(el("h3", {}, `${vid} in ${state.browse.predictions}`));
  if (item.task === "chapters") {
    drawChapters("predicted", item.predicted);
    drawChapters("true", item.true);
    fillList($("#chapter-list"), item.predicted);
    box.append(el("p", { class: "notes" }, "predicted chapters from the file; true ones from the references"));
  } else if (item.task === "grounding") {
    box.append(el("ol", { class: "clickable" }, ...item.queries.map(q => el("li", { onclick: () => {
      showWindows(q.windows, null);
      drawSegments("span", q.true.map(([s, e]) => ({ start: s, end: e, text: "true" })), "span", s => `${fmt(s.start)}-${fmt(s.end)}`);
    } }, q.query, el("span", { class: "time" }, q.windows.length ? ` top ${fmt(q.windows[0][0])}-${fmt(q.windows[0][1])}` : " no window"),
      el("span", { class: "time" }, `true ${q.true.map(([s, e]) => `${fmt(s)}-${fmt(e)}`).join(", ")}`)))));
  } else {
    box.append(el("ol", {}, ...item.questions.map(q => el("li", {}, q.question, " ",
      el("span", { class: "time" }, `predicted: ${q.answers[q.pred] ?? "none"}; true: ${q.answers[q.answer] ?? "?"}`)))));
  }
}

async function loadBrowse() {
  let table = await api("/api/browse");
  while (table.status !== "done" || !table.rows) {
    if (table.status === "error") { message(`browse: ${table.error}`); return; }
    $("#browse").hidden = false;
    $("#browse-info").textContent = `${table.step}… ${table.seconds} s`;
    await new Promise(r => setTimeout(r, 500));
    table = await api("/api/browse");
  }
  state.browse = table;
  state.sortKey = table.sort;
  state.sortAsc = true;  // worst first
  $("#browse").hidden = false;
  $("#browse-info").textContent = `${table.rows.length} videos: ${table.predictions} against ${table.references} ` +
    "(scores x100; click a column to sort, a row to open the video)";
  renderBrowse();
}

// ------------------------------------------------------------------ start
async function refreshModels() {
  const info = await api("/api/info");
  state.models = info.models;
  $("#models").replaceChildren(...Object.values(info.models).map(m => el("li", { class: m.state, title: m.message || m.checkpoint || "" },
    `${m.task}: ${m.state === "absent" ? "no checkpoint" : m.state}`)));
  const errors = Object.values(info.models).filter(m => m.state === "error").map(m => m.message).concat(info.problems);
  if (errors.length) message(errors.join(" | "), "warning");
  return info;
}

(async function start() {
  let info = await refreshModels();
  await loadVideos();
  while (Object.values(info.models).some(m => m.state === "loading")) {
    await new Promise(r => setTimeout(r, 300));
    info = await refreshModels();
  }
  document.body.dataset.ready = "true";
  if (info.browse) await loadBrowse();
})();
