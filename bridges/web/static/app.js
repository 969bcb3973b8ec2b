// chat-bridge web chat. The answers are untrusted text: this script never
// assigns innerHTML or similar; it builds DOM nodes and sets textContent,
// and links only http(s) URLs.
"use strict";
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("f");
  const input = document.getElementById("q");
  const stopBtn = document.getElementById("stop");
  const statusEl = document.getElementById("status");
  const bubbles = new Map(); // message id -> element
  let typingEl = null;
  let statusText = ""; // the progress line shown in the typing bubble
  let typingOn = false; // the bridge's typing indicator
  const me = browserID();

  // browserID returns this browser's ID for the chat, kept in
  // localStorage; null without localStorage (the cookie then serves).
  function browserID() {
    const key = "chat-bridge-web-" + (log.dataset.instance || "");
    try {
      let id = localStorage.getItem(key);
      if (!/^[0-9a-f]{32}$/.test(id || "")) {
        id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
        localStorage.setItem(key, id);
      }
      return id;
    } catch (e) {
      return null;
    }
  }

  // ---- Markdown (a safe subset) -------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function safeURL(s) {
    try {
      const u = new URL(s.trim());
      if (u.protocol === "http:" || u.protocol === "https:") return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function link(label, href, parent) {
    const a = el("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    inline(label, a, true);
    parent.appendChild(a);
  }

  // inline renders s into parent: `code`, **bold**, *em*, _em_, ~~del~~,
  // [label](url), bare http(s) URLs and backslash escapes. Inside a link
  // (inLink), no further links are made.
  function inline(s, parent, inLink) {
    let text = "";
    const flush = () => { if (text) { parent.appendChild(document.createTextNode(text)); text = ""; } };
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (c === "\\" && i + 1 < s.length && /[\\`*_{}\[\]()#+\-.!~|>]/.test(s[i + 1])) {
        text += s[i + 1]; i += 2; continue;
      }
      if (c === "`") {
        let n = 0; while (s[i + n] === "`") n++;
        const fence = "`".repeat(n);
        const end = s.indexOf(fence, i + n);
        if (end > i) {
          flush();
          parent.appendChild(el("code", null, s.slice(i + n, end)));
          i = end + n; continue;
        }
        text += fence; i += n; continue;
      }
      const pair = s.startsWith("**", i) ? "**" : s.startsWith("__", i) ? "__" : s.startsWith("~~", i) ? "~~" : null;
      if (pair) {
        const end = s.indexOf(pair, i + 2);
        if (end > i + 2) {
          flush();
          const e = el(pair === "~~" ? "del" : "strong");
          inline(s.slice(i + 2, end), e, inLink);
          parent.appendChild(e);
          i = end + 2; continue;
        }
      }
      if ((c === "*" || c === "_") && s[i + 1] && !/\s/.test(s[i + 1]) && (c === "*" || i === 0 || /\W/.test(s[i - 1]))) {
        let end = i + 1;
        while ((end = s.indexOf(c, end)) > 0 && (/\s/.test(s[end - 1]) || s[end + 1] === c)) end++;
        if (end > i + 1 && (c === "*" || end + 1 >= s.length || /\W/.test(s[end + 1]))) {
          flush();
          const e = el("em");
          inline(s.slice(i + 1, end), e, inLink);
          parent.appendChild(e);
          i = end + 1; continue;
        }
      }
      if (c === "[" && !inLink) {
        const m = matchLink(s, i);
        if (m) {
          flush();
          const href = safeURL(m.url);
          if (href) link(m.label, href, parent);
          else inline(m.label, parent, inLink);
          i = m.end; continue;
        }
      }
      if (!inLink && (c === "h" || c === "H") && /^https?:\/\//i.test(s.slice(i, i + 8))) {
        let j = i; while (j < s.length && !/[\s<>"]/.test(s[j])) j++;
        let url = s.slice(i, j);
        while (/[.,;:!?)\]'*_]$/.test(url) && !(url.endsWith(")") && url.includes("("))) url = url.slice(0, -1);
        const href = safeURL(url);
        if (href) { flush(); link(url, href, parent); i += url.length; continue; }
      }
      text += c; i++;
    }
    flush();
  }

  // matchLink parses [label](url) at s[i] == "[".
  function matchLink(s, i) {
    let depth = 0, j = i;
    for (; j < s.length; j++) {
      if (s[j] === "\\") { j++; continue; }
      if (s[j] === "[") depth++;
      else if (s[j] === "]" && --depth === 0) break;
    }
    if (j >= s.length || s[j + 1] !== "(") return null;
    let k = j + 2, paren = 1;
    for (; k < s.length; k++) {
      if (s[k] === "(") paren++;
      else if (s[k] === ")" && --paren === 0) break;
      else if (s[k] === " " || s[k] === "\n") { if (!/^\s*"/.test(s.slice(k))) return null; }
    }
    if (k >= s.length) return null;
    let url = s.slice(j + 2, k).trim();
    const t = url.search(/\s+"/); // [label](url "title")
    if (t > 0) url = url.slice(0, t);
    return { label: s.slice(i + 1, j), url: url.replace(/^<|>$/g, ""), end: k + 1 };
  }

  const reFence = /^\s{0,3}(`{3,}|~{3,})\s*(\S*)/;
  const reHeading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const reItem = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const reRule = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
  const reQuote = /^\s{0,3}>\s?(.*)$/;

  // blocks renders Markdown text into parent.
  function blocks(src, parent) {
    const lines = src.replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (line.trim() === "") { i++; continue; }
      if ((m = reFence.exec(line))) {
        const fence = m[1];
        const body = [];
        i++;
        while (i < lines.length && !lines[i].trim().startsWith(fence[0].repeat(fence.length))) body.push(lines[i++]);
        i++; // closing fence (or the end while streaming)
        const pre = el("pre");
        const code = el("code", null, body.join("\n"));
        if (m[2]) code.dataset.lang = m[2];
        pre.appendChild(code);
        parent.appendChild(pre);
        continue;
      }
      if ((m = reHeading.exec(line))) {
        const h = el("h" + Math.min(6, m[1].length + 1));
        inline(m[2], h);
        parent.appendChild(h);
        i++; continue;
      }
      if (reRule.test(line)) { parent.appendChild(el("hr")); i++; continue; }
      if (reQuote.test(line)) {
        const q = [];
        while (i < lines.length && (m = reQuote.exec(lines[i]))) { q.push(m[1]); i++; }
        const bq = el("blockquote");
        blocks(q.join("\n"), bq);
        parent.appendChild(bq);
        continue;
      }
      if ((m = reItem.exec(line))) {
        const ordered = /\d/.test(m[2]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
        const indent = m[1].length;
        let item = null, body = [];
        const end = () => { if (item) { blocks(body.join("\n"), item); list.appendChild(item); } };
        while (i < lines.length) {
          const l = lines[i];
          const im = reItem.exec(l);
          if (im && im[1].length <= indent + 1 && /\d/.test(im[2]) === ordered) {
            end(); item = el("li"); body = [im[3]]; i++; continue;
          }
          if (l.trim() === "") {
            if (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1])) { body.push(""); i++; continue; }
            break;
          }
          if (/^\s+\S/.test(l) || (!im && !reFence.test(l) && !reHeading.test(l) && !reQuote.test(l) && item)) {
            body.push(l.replace(/^\s{1,4}/, "")); i++; continue;
          }
          break;
        }
        end();
        parent.appendChild(list);
        continue;
      }
      // A paragraph: lines up to a blank line or another block; single
      // line breaks are kept (chat answers use them).
      const p = el("p");
      let first = true;
      while (i < lines.length && lines[i].trim() !== "" &&
             (first || !(reFence.test(lines[i]) || reHeading.test(lines[i]) || reQuote.test(lines[i]) || reItem.test(lines[i]) || reRule.test(lines[i])))) {
        if (!first) p.appendChild(el("br"));
        inline(lines[i].trim(), p);
        first = false;
        i++;
      }
      parent.appendChild(p);
    }
  }

  // ---- The transcript -------------------------------------------------

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function render(msg) {
    const stick = nearBottom();
    let b = bubbles.get(msg.id);
    if (!b) {
      b = el("div", "msg " + (msg.role === "user" ? "user" : "bot"));
      b.dataset.id = msg.id;
      b.dataset.role = msg.role;
      bubbles.set(msg.id, b);
      log.insertBefore(b, typingEl && typingEl.parentNode === log ? typingEl : null);
    }
    if (b.dataset.text === msg.text && b.dataset.final === String(msg.final)) return;
    b.dataset.text = msg.text;
    b.dataset.final = String(msg.final);
    b.classList.toggle("streaming", msg.role !== "user" && !msg.final);
    b.classList.toggle("plain", !!msg.plain);
    b.replaceChildren();
    if (msg.role === "user" || msg.plain) b.textContent = msg.text;
    else blocks(msg.text, b);
    updateStop();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function setTyping(on) {
    if (on && !typingEl) {
      typingEl = el("div", "msg bot typing", "…");
      typingEl.id = "typing";
      showStatusIn(typingEl);
      log.appendChild(typingEl);
      log.scrollTop = log.scrollHeight;
    } else if (!on && typingEl) {
      typingEl.remove();
      typingEl = null;
    }
    updateStop();
  }

  // setStatus shows a progress line ("Searching the knowledge base…") in
  // the coming answer's place, the typing bubble, until the answer's first
  // text replaces it; "" goes back to the typing dots. Text, never markup.
  function setStatus(text) {
    statusText = text || "";
    setTyping(typingOn || !!statusText);
    if (typingEl) showStatusIn(typingEl);
  }

  function showStatusIn(b) {
    b.textContent = statusText || "…";
    b.classList.toggle("statusline", !!statusText);
  }

  function updateStop() {
    stopBtn.hidden = !(typingEl || log.querySelector(".msg.bot.streaming"));
  }

  function notice(text) {
    const n = el("div", "msg notice", text);
    log.appendChild(n);
    log.scrollTop = log.scrollHeight;
  }

  // ---- Talking to the bridge -----------------------------------------

  function connect() {
    const es = new EventSource(me ? "api/events?browser=" + me : "api/events");
    es.addEventListener("open", () => { statusEl.textContent = "online"; statusEl.className = "status ok"; });
    es.addEventListener("error", () => { statusEl.textContent = "reconnecting…"; statusEl.className = "status off"; });
    es.addEventListener("msg", (ev) => render(JSON.parse(ev.data)));
    es.addEventListener("typing", (ev) => {
      typingOn = JSON.parse(ev.data).on;
      setTyping(typingOn || !!statusText);
    });
    es.addEventListener("status", (ev) => setStatus(JSON.parse(ev.data).text));
  }

  async function send(text) {
    try {
      const r = await fetch("api/send", {
        method: "POST",
        headers: me ? { "Content-Type": "application/json", "X-Chat-Browser": me } : { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ text: text }),
      });
      if (!r.ok) {
        let msg = "Could not send (" + r.status + ")";
        try { const j = await r.json(); if (j.error) msg += ": " + j.error; } catch (e) { /* no JSON */ }
        notice(msg);
        return false;
      }
      return true;
    } catch (e) {
      notice("Could not send: the chat server is not reachable.");
      return false;
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.style.height = "";
    if (!(await send(text))) input.value = text;
    input.focus();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  function grow() {
    input.style.height = "";
    if (input.scrollHeight > input.clientHeight) input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
  }
  input.addEventListener("input", grow);
  stopBtn.addEventListener("click", () => send("/stop"));

  window.chatBridge = { renderMarkdown: (text, into) => { into.replaceChildren(); blocks(text, into); } };
  connect();
  input.focus();
})();
