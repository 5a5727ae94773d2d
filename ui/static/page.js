() => {
  // A click on [n] in an answer shows that answer's source n in the sources panel:
  // open its turn and card, scroll it into view and flash it.
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("a.cite");
    if (!link) return;
    ev.preventDefault();
    ev.stopPropagation();
    const id = (link.getAttribute("href") || "").replace(/^#/, "");
    const card = document.getElementById(id);
    if (!card) return;
    document.querySelectorAll("#sources details.src.active").forEach((el) => el.classList.remove("active"));
    for (let el = card; el; el = el.parentElement && el.parentElement.closest("details")) el.open = true;
    card.classList.add("active");
    // scroll the panel (not the page) so the highlighted sentence is in view
    const target = card.querySelector("mark") || card;
    const box = card.closest(".sources");
    if (box) {
      const top = box.getBoundingClientRect().top;
      const cardTop = card.getBoundingClientRect().top - top;
      const markTop = target.getBoundingClientRect().top - top;
      const markBottom = target.getBoundingClientRect().bottom - top;
      // the card's title when the highlighted sentence fits below it, else the sentence
      box.scrollTop += markBottom - cardTop < box.clientHeight - 16 ? cardTop - 8 : markTop - box.clientHeight / 3;
    }
    const rect = box ? box.getBoundingClientRect() : null;
    if (rect && (rect.top < 0 || rect.bottom > window.innerHeight)) box.scrollIntoView({ block: "nearest" });
    // on a narrow screen the panel sits below the chat: offer the way back to the [n] clicked
    const r = link.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight) showBack(link);
  }, true);
  // Gradio labels each message with its raw Markdown/HTML ("bot's message: <a class=...>\\[1\\]</a>");
  // a screen reader gets the text as shown instead
  const roles = [["bot's message:", "Answer:"], ["user's message:", "Question:"]];
  const relabel = (el) => {
    const label = el.getAttribute("aria-label") || "";
    const role = roles.find(([raw, clean]) => label.startsWith(raw) || label.startsWith(clean));
    if (!role) return;
    const want = `${role[1]} ${el.innerText.replace(/\s+/g, " ").trim()}`;
    if (label !== want) el.setAttribute("aria-label", want);
  };
  new MutationObserver((changes) => {
    const seen = new Set();
    for (const c of changes) {
      const node = c.target.nodeType === 1 ? c.target : c.target.parentElement;
      const msg = node && node.closest && node.closest("[aria-label]");
      if (msg && !seen.has(msg)) { seen.add(msg); relabel(msg); }
      if (c.type === "childList") c.addedNodes.forEach((n) => n.querySelectorAll && n.querySelectorAll("[aria-label]").forEach(relabel));
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["aria-label"] });
  let backTo = null;
  const back = document.createElement("button");
  back.id = "back-to-answer";
  back.type = "button";
  back.textContent = "↩ Back to the answer";
  back.hidden = true;
  document.body.appendChild(back);
  // kept by its href: the chat may re-render the message (new nodes) after the click
  const showBack = (link) => { backTo = link.getAttribute("href"); back.hidden = false; };
  back.addEventListener("click", () => {
    back.hidden = true;
    const link = backTo && document.querySelector(`#chat a.cite[href="${CSS.escape(backTo)}"]`);
    if (!link) return;
    const bring = () => link.scrollIntoView({ block: "center" });
    bring();
    link.focus({ preventScroll: true });
    setTimeout(() => {  // the chat's own scrolling may move it again meanwhile
      const r = link.getBoundingClientRect();
      if (r.bottom < 0 || r.top > window.innerHeight) bring();
    }, 300);
  });
  // "copy as Markdown": the answer and its numbered sources as clean Markdown, not the page's markup.
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("a.copy-md");
    if (!link) return;
    ev.preventDefault();
    ev.stopPropagation();
    const b64 = (link.getAttribute("href") || "").replace(/^#copy:/, "");
    const text = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const done = () => { const was = link.textContent; link.textContent = "copied ✓"; setTimeout(() => { link.textContent = was; }, 1500); };
    const fallback = () => {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }, true);
  // A results table: a click on a column header sorts by it (numbers numerically),
  // "table as CSV" downloads the rows as shown.
  document.addEventListener("click", (ev) => {
    const th = ev.target.closest && ev.target.closest("table.claims th");
    if (th) {
      const table = th.closest("table");
      const col = Array.from(th.parentElement.children).indexOf(th);
      const asc = th.dataset.dir !== "asc";
      table.querySelectorAll("th").forEach((h) => delete h.dataset.dir);
      th.dataset.dir = asc ? "asc" : "desc";
      const key = (tr) => {
        const td = tr.children[col];
        const n = parseFloat(td.dataset.sort !== undefined ? td.dataset.sort : td.textContent.replace(/[\[\]]/g, ""));
        return Number.isNaN(n) ? td.textContent.trim().toLowerCase() : n;
      };
      const rows = Array.from(table.tBodies[0].rows);
      rows.sort((a, b) => { const x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
      rows.forEach((r) => table.tBodies[0].appendChild(r));
      return;
    }
    const link = ev.target.closest && ev.target.closest("a.table-csv");
    if (!link) return;
    ev.preventDefault();
    const table = link.parentElement.querySelector("table.claims");
    const quote = (t) => /[",\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
    const csv = Array.from(table.rows).map((tr) => Array.from(tr.cells).map((c) => quote(c.textContent.trim())).join(",")).join("\n");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([csv + "\n"], { type: "text/csv" }));
    a.download = "results-table.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }, true);
}
