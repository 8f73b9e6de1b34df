// Hospeda web app: small progressive enhancements of server-rendered pages.
// Every page works without this file; with it, pages update live (SSE),
// copy buttons copy, the Pix countdown counts. No inline scripts (CSP).
(() => {
  "use strict";
  const en = document.documentElement.lang === "en";
  const t = (pt, english) => (en ? english : pt);

  // --- copy buttons ---------------------------------------------------------------------------
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    const from = button.dataset.copyFrom && document.getElementById(button.dataset.copyFrom);
    const text = from ? from.value || from.textContent : button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      if (from && from.select) { from.select(); document.execCommand("copy"); }
    }
    const before = button.textContent;
    button.textContent = t("Copiado!", "Copied!");
    setTimeout(() => { button.textContent = before; }, 1500);
  });

  // --- countdowns (Pix expiry) --------------------------------------------------------------
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach((el) => {
      const left = Math.max(0, Math.floor((Date.parse(el.dataset.countdown) - Date.now()) / 1000));
      const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      const pad = (n) => String(n).padStart(2, "0");
      el.textContent = left === 0 ? t("expirado", "expired") : (h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`);
    });
  }
  if (document.querySelector("[data-countdown]")) { tick(); setInterval(tick, 1000); }

  // --- forms that send themselves (back from 3-D Secure) -------------------------------------
  const auto = document.querySelector("form[data-autosubmit]");
  if (auto) auto.requestSubmit();

  // --- the staff probe ----------------------------------------------------------------------
  const probe = document.getElementById("probe");
  if (probe) {
    probe.addEventListener("click", async () => {
      const out = document.getElementById("probe-out");
      out.textContent = t("Enviando…", "Sending…");
      const started = await (await fetch("/api/v1/ops/probes", { method: "POST" })).json();
      for (let i = 0; i < 100; i++) {
        const r = await fetch(started.status_url);
        if (r.ok) { out.textContent = JSON.stringify(await r.json(), null, 2); return; }
        await new Promise((res) => setTimeout(res, 100));
      }
      out.textContent = t("Sem resposta", "No answer");
    });
  }

  // --- live pages (Server-Sent Events) --------------------------------------------------------
  const live = document.body.dataset.live;
  if (!live || !window.EventSource) return;

  const STEPS = {
    "validate": ["Conferindo o pedido", "Checking the order"],
    "place": ["Escolhendo o servidor", "Choosing the server"],
    "username": ["Escolhendo o usuário", "Choosing the username"],
    "whm.createacct": ["Criando a conta de hospedagem", "Creating the hosting account"],
    "email.add_pop": ["Criando caixa de e-mail", "Creating a mailbox"],
    "mysql.create_database": ["Criando o banco de dados", "Creating the database"],
    "mysql.create_user": ["Criando o usuário do banco", "Creating the database user"],
    "mysql.set_privileges": ["Dando acesso ao banco", "Granting database access"],
  };
  const stepText = (step) => {
    const [head, detail] = String(step || "").split(":");
    const pair = STEPS[head];
    return pair ? t(...pair) + (detail ? ` (${detail})` : "") : step;
  };

  // which events matter to which page
  const WATCH = {
    services: ["provisioning.service.", "job."],
    service: ["provisioning.", "job.", "billing.subscription.", "billing.invoice.paid"],
    order: ["billing.order.", "billing.invoice."],
    invoices: ["billing.invoice.", "billing.payment."],
    invoice: ["billing.invoice.", "billing.payment."],
    dns: ["dns."],
    inbox: ["notify.inbox."],
  }[live] || [];
  const TYPES = [
    "job.queued", "job.step_started", "job.step_succeeded", "job.step_failed", "job.retry_scheduled",
    "job.succeeded", "job.failed", "job.dead_lettered", "job.retried_by_operator", "job.cancelled",
    "provisioning.service.activated", "provisioning.service.suspended", "provisioning.service.unsuspended",
    "provisioning.service.terminated", "provisioning.service.failed", "provisioning.service.package_changed",
    "provisioning.addon.enabled", "provisioning.addon.disabled", "provisioning.addon.changed",
    "dns.zone.created", "dns.zone.deleted", "dns.record.created", "dns.record.updated", "dns.record.deleted",
    "dns.record.rejected", "dns.delegation.pending", "dns.delegation.verified", "dns.delegation.failed",
    "dns.delegation.lost", "billing.order.placed", "billing.invoice.issued", "billing.invoice.paid",
    "billing.invoice.overdue", "billing.invoice.voided", "billing.invoice.refunded", "billing.payment.succeeded",
    "billing.payment.failed", "billing.payment.refunded", "billing.subscription.activated",
    "billing.subscription.renewed", "billing.subscription.changed", "billing.subscription.cancelled",
    "billing.subscription.suspended", "billing.subscription.undelivered", "billing.subscription.reactivated",
    "billing.subscription.terminated",
    "notify.inbox.item_created", "notify.inbox.item_marked",
  ];

  const detail = document.querySelector("[data-service-id]");
  const serviceId = detail && detail.dataset.serviceId;

  function mine(type, payload) {
    if (!WATCH.some((prefix) => type.startsWith(prefix))) return false;
    if (live !== "service") return true;
    if (type.startsWith("job.")) return payload.key === serviceId || payload.job_id === detail.dataset.jobId;
    if (type.startsWith("provisioning.")) return payload.service_id === serviceId;
    return true;
  }

  // a job step, as it happens (the refresh below then shows the server's view)
  function showStep(type, payload) {
    const list = document.getElementById("steps");
    const status = document.getElementById("live-status");
    let line = null;
    if (type === "job.step_started") line = `${stepText(payload.step)} — ${t("em andamento", "running")}`;
    if (type === "job.step_succeeded") line = `${stepText(payload.step)} — ${t("concluído", "done")}`;
    // the provider's own words are for staff (the page shows them to staff when it refreshes)
    if (type === "job.step_failed") line = `${stepText(payload.step)} — ${t("falhou", "failed")}`;
    if (type === "job.retry_scheduled") {
      line = `${t("Nova tentativa às", "Next attempt at")} ${new Date(payload.next_attempt_at).toLocaleTimeString()}`;
    }
    if (type === "job.succeeded") line = t("Tudo pronto!", "All done!");
    if (type === "job.failed" || type === "job.dead_lettered") {
      line = t("Não conseguimos concluir; nossa equipe foi avisada.", "We could not finish; our team has been told.");
    }
    if (!line) return;
    if (list) {
      const li = document.createElement("li");
      li.className = "step live-step";
      li.textContent = line;
      list.appendChild(li);
    }
    if (status) status.textContent = line;
  }

  // re-read this page and swap in its live regions (the server renders them)
  let pending = null;
  function refresh() {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const answer = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!answer.ok) return;
      const next = new DOMParser().parseFromString(await answer.text(), "text/html");
      document.querySelectorAll("[data-refresh][id]").forEach((region) => {
        const fresh = next.getElementById(region.id);
        if (!fresh) return;
        if (fresh.innerHTML !== region.innerHTML) region.innerHTML = fresh.innerHTML;
        Object.keys(region.dataset).forEach((k) => { if (!(k in fresh.dataset)) delete region.dataset[k]; });
        Object.assign(region.dataset, fresh.dataset);
      });
      if (document.querySelector("[data-countdown]")) tick();
    }, 250);
  }

  // a region that waits for something no event announces asks again now and then
  setInterval(() => { if (document.querySelector("[data-refresh][data-poll]")) refresh(); }, 2000);

  // EventSource reconnects by itself and sends Last-Event-ID: the gateway replays what was missed
  const source = new EventSource("/api/v1/events");
  const seen = new Set();
  TYPES.forEach((type) => source.addEventListener(type, (event) => {
    if (event.lastEventId && seen.has(event.lastEventId)) return;
    if (event.lastEventId) seen.add(event.lastEventId);
    let envelope;
    try { envelope = JSON.parse(event.data); } catch { return; }
    const payload = envelope.payload || {};
    if (!mine(type, payload)) return;
    if (live === "service") showStep(type, payload);
    refresh();
  }));
  document.documentElement.dataset.live = "on";
  source.addEventListener("open", () => {
    // what happened between this page's render and the stream's start (a form's
    // effect after its redirect, say) announced itself to no one: look once more
    if (!document.documentElement.dataset.liveOpen && WATCH.length) refresh();
    document.documentElement.dataset.liveOpen = "1";
  });
})();
