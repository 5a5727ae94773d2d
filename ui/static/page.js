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
  }, true);
}
