// Chipin admin: a little progressive enhancement over server-rendered pages. Everything works
// without it; with it, times read in local time, destructive buttons ask first, the menu folds
// on phones, and the webhook log and outbox can refresh themselves ("live").
(() => {
  "use strict";

  const LIVE_KEY = "chipin.admin.live";
  const LIVE_EVERY_MS = 1500;

  function localTimes(root) {
    for (const node of root.querySelectorAll("time[datetime]")) {
      const at = new Date(node.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) continue;
      node.title = node.textContent;
      node.textContent = at.toLocaleString();
    }
  }

  function confirmations() {
    document.addEventListener("submit", (event) => {
      const form = event.target;
      const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }

  function menu() {
    const button = document.querySelector(".nav-toggle");
    const nav = document.getElementById("nav");
    if (!button || !nav) return;
    button.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", String(open));
    });
  }

  // A region marked data-live refreshes itself while its "live" box is ticked, or on its own
  // while data-live-auto="1" (a message the worker has not handled yet).
  function live() {
    const region = document.querySelector("[data-live]");
    if (!region) return;
    const toggle = document.querySelector("[data-live-toggle]");
    if (toggle) toggle.checked = localStorage.getItem(LIVE_KEY) === "1";
    const wanted = () => (toggle !== null && toggle.checked) || region.dataset.liveAuto === "1";
    let timer = null;

    function stop() {
      if (toggle) toggle.checked = false;
      region.dataset.liveAuto = "";
    }

    async function refresh() {
      timer = null;
      if (!wanted()) return;
      if (!document.hidden) {
        try {
          const answer = await fetch(location.href, { credentials: "same-origin" });
          if (answer.redirected || !answer.ok) {
            stop(); // logged out or failing: the next click shows why
            return;
          }
          const page = new DOMParser().parseFromString(await answer.text(), "text/html");
          const fresh = page.getElementById(region.id);
          if (fresh) {
            localTimes(fresh);
            region.replaceChildren(...fresh.childNodes);
            region.dataset.liveAuto = fresh.dataset.liveAuto || "";
          }
        } catch (error) {
          console.warn("live refresh failed", error);
        }
      }
      if (wanted()) timer = setTimeout(refresh, LIVE_EVERY_MS);
    }

    if (toggle) {
      toggle.addEventListener("change", () => {
        localStorage.setItem(LIVE_KEY, toggle.checked ? "1" : "0");
        if (toggle.checked && timer === null) refresh();
      });
    }
    if (wanted()) timer = setTimeout(refresh, LIVE_EVERY_MS);
  }

  localTimes(document);
  confirmations();
  menu();
  live();
})();
