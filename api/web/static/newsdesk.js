// Newsdesk web page: ask over POST /ask/stream and show the answer as its events arrive.
//
// Without this script the form posts to "/" and the server renders the answer. With it, the
// page reads the Server-Sent Events itself (EventSource can only GET). Article text is only
// ever put in the page with textContent / createElement, never parsed as HTML.
"use strict";

(() => {
  const form = document.getElementById("ask-form");
  if (!form || !window.fetch || !window.ReadableStream || !window.TextDecoder) {
    return; // the plain form POST still works
  }
  const $ = (id) => document.getElementById(id);
  const result = $("result");
  const status = $("status");
  const verdict = $("verdict");
  const hint = $("hint");
  const answerBox = $("answer");
  const sourcesBlock = $("sources-block");
  const sourcesList = $("sources");
  const dates = $("dates");
  const button = $("ask-button");
  const turns = $("turns");
  const asked = $("asked");
  const searched = $("searched");
  const conversationId = $("conversation-id");
  const newConversation = $("new-conversation");
  const STREAM_URL = form.dataset.stream;
  const READ_URL = form.dataset.read;
  const MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
  ];
  let controller = null;

  // ------------------------------------------------------------------ rendering

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function niceDate(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value || "");
    if (!m || +m[2] < 1 || +m[2] > 12) return value || null;
    return `${+m[3]} ${MONTHS[+m[2] - 1]} ${m[1]}`;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  function readHref(articleId, quote) {
    const path = articleId.split("/").map(encodeURIComponent).join("/");
    const query = quote ? `?${new URLSearchParams({ quote })}#quote` : "";
    return READ_URL + path + query;
  }

  function sourceItem(c) {
    const item = el("li", "source");
    item.id = `source-${c.n}`;
    item.append(el("span", "source-n", `[${c.n}]`));
    const body = el("div", "source-body");
    const title = el("a", "source-title", c.title || c.article_id);
    title.href = readHref(c.article_id, c.quote);
    body.append(title);
    const meta = el("p", "source-meta");
    const day = /^\d{4}-\d{2}-\d{2}/.exec(c.published_at || "");
    if (c.published_at) {
      const time = el("time", "source-date", niceDate(c.published_at));
      time.dateTime = day ? day[0] : "";
      meta.append(time);
    }
    if (c.source) meta.append(el("span", "source-name", c.source));
    const url = c.url && safeUrl(c.url);
    if (url) {
      const original = el("a", "source-original", "original");
      original.href = url;
      original.rel = "noopener noreferrer";
      meta.append(original);
    }
    body.append(meta, el("blockquote", "source-quote", c.quote));
    const copies = (c.copies || []).length;
    if (copies) {
      const s = copies > 1 ? "s" : "";
      body.append(el("p", "source-copies", `The same text is in ${copies} other article${s}.`));
    }
    item.append(body);
    return item;
  }

  // The answer text with each [n] of a known source as a link to it.
  function renderAnswer(text, numbers) {
    const p = el("p");
    const marker = /\[(\d{1,3})\]/g;
    let last = 0;
    let m;
    while ((m = marker.exec(text)) !== null) {
      if (!numbers.has(+m[1])) continue;
      if (m.index > last) p.append(document.createTextNode(text.slice(last, m.index)));
      const link = el("a", "cite", m[0]);
      link.href = `#source-${m[1]}`;
      p.append(link);
      last = m.index + m[0].length;
    }
    if (last < text.length) p.append(document.createTextNode(text.slice(last)));
    answerBox.replaceChildren(p);
  }

  function setState(state) {
    result.hidden = false;
    result.dataset.state = state;
    const notFound = state === "not-found";
    verdict.hidden = !notFound;
    hint.hidden = !notFound;
  }

  function say(message) {
    status.textContent = message;
    status.hidden = !message;
  }

  function showError(message) {
    setState("error");
    say(message);
  }

  // The finished turn in the result moves up into the conversation's earlier turns, its
  // ids and links renamed as the server names them (turn-k-source-n).
  function keepTurn() {
    const state = result.dataset.state;
    if (!asked.textContent || (state !== "answered" && state !== "not-found")) return;
    const k = turns.children.length + 1;
    const item = el("li", "turn");
    item.id = `turn-${k}`;
    item.append(el("p", "asked", asked.textContent));
    if (!searched.hidden) item.append(el("p", "searched", searched.textContent));
    const answer = el("div", `answer answer-${state}`);
    answer.append(...Array.from(answerBox.childNodes, (node) => node.cloneNode(true)));
    answer.querySelectorAll("a.cite").forEach((link) => {
      link.href = link.getAttribute("href").replace("#source-", `#turn-${k}-source-`);
    });
    item.append(answer);
    if (!dates.hidden) item.append(el("p", "dates", dates.textContent));
    if (sourcesList.children.length) {
      const list = el("ol", "sources");
      for (const source of sourcesList.children) {
        const copy = source.cloneNode(true);
        copy.id = `turn-${k}-${source.id}`;
        list.append(copy);
      }
      item.append(list);
    }
    turns.append(item);
    turns.hidden = false;
  }

  function remember(data, question) {
    if (!data.conversation_id) return;
    conversationId.value = data.conversation_id;
    newConversation.hidden = false;
    const query = new URLSearchParams({ conversation: data.conversation_id });
    window.history.replaceState(null, "", `${form.dataset.home}?${query}`);
    if (data.searched && data.searched !== question) {
      searched.textContent = `Searched as: ${data.searched}`;
      searched.hidden = false;
    }
  }

  // The same sentence as api/web/render.py's dates_note.
  function sayDates(sorted) {
    if (sorted.length < 2) return;
    const last = sorted[sorted.length - 1];
    dates.textContent = `The sources are from different days: ${niceDate(sorted[0])} to ${niceDate(last)}.`;
    dates.hidden = false;
  }

  function reset() {
    answerBox.replaceChildren();
    sourcesList.replaceChildren();
    sourcesBlock.hidden = true;
    dates.textContent = "";
    dates.hidden = true;
    result.dataset.pieces = "0";
  }

  // ------------------------------------------------------------------ errors

  function seconds(response, fallback) {
    const wait = parseInt(response.headers.get("Retry-After") || "", 10);
    return Number.isFinite(wait) && wait >= 0 ? wait : fallback;
  }

  function firstProblem(body) {
    const first = body && Array.isArray(body.errors) && body.errors[0];
    if (first && first.msg) return String(first.msg).replace(/^Value error, /, "");
    return (body && body.detail) || "";
  }

  async function errorMessage(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    const rid = (body && body.request_id) || response.headers.get("X-Request-ID");
    const code = response.status;
    if (code === 429) {
      return `Too many questions: try again in ${seconds(response, 60)} seconds.`;
    }
    if (code === 503) {
      return `The index is not ready: try again in ${seconds(response, 5)} seconds.`;
    }
    if (code === 422 || code === 413) {
      return firstProblem(body) || "The question could not be sent as it is.";
    }
    if (code >= 500) {
      const ref = rid ? ` (request id ${rid})` : "";
      return `The server could not answer${ref}: try again later.`;
    }
    return firstProblem(body) || `Unexpected answer from the server (HTTP ${code}).`;
  }

  // ------------------------------------------------------------------ Server-Sent Events

  // Feed text in; get each complete event as onEvent(type, data). Follows the SSE spec's line
  // rules: \r\n, \r or \n end a line, a blank line ends an event, ":" starts a comment.
  function sseParser(onEvent) {
    let buffer = "";
    let type = "";
    let data = [];
    function line(text) {
      if (text === "") {
        if (data.length) onEvent(type || "message", data.join("\n"));
        type = "";
        data = [];
        return;
      }
      if (text.startsWith(":")) return;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    return (chunk) => {
      buffer += chunk;
      // A trailing \r may be the first half of \r\n: keep it for the next chunk.
      const end = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, end).split(/\r\n|\r|\n/);
      buffer = lines.pop() + buffer.slice(end);
      lines.forEach(line);
    };
  }

  // ------------------------------------------------------------------ asking

  function payload() {
    const data = new FormData(form);
    const body = { question: String(data.get("question") || "") };
    const filters = {};
    for (const name of ["source", "since", "until"]) {
      const value = String(data.get(name) || "").trim();
      if (value) filters[name] = value;
    }
    if (Object.keys(filters).length) body.filters = filters;
    if (conversationId.value) body.conversation_id = conversationId.value;
    return body;
  }

  async function ask(body) {
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    keepTurn();
    reset();
    asked.textContent = body.question;
    asked.hidden = false;
    searched.textContent = "";
    searched.hidden = true;
    setState("loading");
    say("Searching the articles…");
    button.disabled = true;
    try {
      await stream(body, signal);
    } catch (err) {
      if (signal.aborted) return;
      showError("Cannot reach the Newsdesk server: check that it is running, then try again.");
    } finally {
      if (!signal.aborted) button.disabled = false;
    }
  }

  async function stream(body, signal) {
    const response = await fetch(STREAM_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) {
      if (response.status === 404 && body.conversation_id) {
        conversationId.value = ""; // the conversation is gone: the next question starts anew
        showError("This conversation expired or was deleted: ask again to start a new one.");
        return;
      }
      showError(await errorMessage(response));
      return;
    }
    const numbers = new Set();
    const days = new Set();
    let text = "";
    let draft = "";
    let finished = false;
    let pieces = 0;
    const feed = sseParser((type, raw) => {
      if (finished) return;
      let data;
      try {
        data = JSON.parse(raw);
      } catch (err) {
        return;
      }
      if (type === "draft") {
        // The model's words as it writes them (LLM mode): shown as provisional until the
        // verified answer replaces them.
        if (draft === "") {
          setState("drafting");
          say("Writing the answer; it is checked against the articles when done…");
        }
        draft += data.text || "";
        answerBox.replaceChildren(el("p", "draft", draft));
      } else if (type === "citation") {
        numbers.add(data.n);
        if (data.published_at) days.add(data.published_at.slice(0, 10));
        sourcesList.append(sourceItem(data));
        sourcesBlock.hidden = false;
      } else if (type === "answer") {
        if (pieces === 0) {
          setState("streaming");
          answerBox.replaceChildren();
          say("");
        }
        pieces += 1;
        result.dataset.pieces = String(pieces);
        text += data.text || "";
        renderAnswer(text, numbers);
      } else if (type === "done") {
        finished = true;
        remember(data, body.question);
        sayDates([...days].sort());
        setState(data.answered ? "answered" : "not-found");
        say("");
      } else if (type === "error") {
        finished = true;
        const ref = data.request_id ? ` (request id ${data.request_id})` : "";
        showError(`The server could not answer${ref}: ${data.detail || "unknown error"}`);
      }
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      feed(decoder.decode(value, { stream: true }));
    }
    feed(decoder.decode()); // an event the server did not end is dropped, as the spec says
    if (!finished && !signal.aborted) {
      showError("The answer was cut off: try again.");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = payload();
    if (!body.question.trim()) {
      showError("Type a question first.");
      return;
    }
    ask(body);
  });
  result.dataset.js = "ready";
  document.documentElement.classList.add("js");
})();
