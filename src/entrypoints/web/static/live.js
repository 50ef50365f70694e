// Live updates for the dashboard: follow the job's Server-Sent Events and, on each change,
// re-fetch this page and swap in its regions (rendered and escaped by the server). Falls back
// to polling every data-poll milliseconds when EventSource is missing or refused. A region
// marked data-sticky (the cancel form) is kept while the fresh page still has its form.
(function () {
  "use strict";
  const main = document.getElementById("live");
  if (!main) return;
  let busy = false;
  let again = false;
  let timer = null;

  function finished() {
    return main.dataset.finished === "true";
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(location.href, { cache: "no-store" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of main.querySelectorAll(".region")) {
        const next = fresh.getElementById(region.id);
        const keep = "sticky" in region.dataset && next && next.querySelector("form");
        if (next && !keep && !region.contains(document.activeElement)) {
          region.replaceWith(document.importNode(next, true));
        }
      }
      const live = fresh.getElementById("live");
      if (live && live.dataset.finished) main.dataset.finished = live.dataset.finished;
      wireCancel();
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  function poll() {
    if (timer !== null || !main.dataset.poll) return;
    timer = setInterval(function () {
      if (finished()) { clearInterval(timer); return; }
      refresh();
    }, Number(main.dataset.poll));
  }

  function follow(url) {
    if (!window.EventSource) { poll(); return; }
    const source = new EventSource(url);
    source.onmessage = function (event) {
      const summary = JSON.parse(event.data);
      refresh();
      if (summary.is_finished) source.close();
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) poll();
    };
  }

  function wireCancel() {
    const form = document.getElementById("cancel");
    if (!form || form.dataset.wired) return;
    form.dataset.wired = "yes";
    form.hidden = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const result = form.elements.result;
      const response = await fetch(form.dataset.api, {
        method: "POST",
        headers: {
          "Authorization": "Bearer " + form.elements.token.value,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ reason: form.elements.reason.value }),
      });
      const answer = await response.json();
      result.textContent = response.ok ? "cancelled" : answer.detail;
      if (response.ok) { form.elements.token.blur(); refresh(); }
    });
  }

  wireCancel();
  if (main.dataset.events && !finished()) follow(main.dataset.events);
  else if (!main.dataset.events) poll();
})();
