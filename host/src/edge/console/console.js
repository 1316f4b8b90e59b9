// The MindFlow clinician console (served at /console/ by the host; see
// host/src/edge/console/mod.rs for the security model).
//
// - The access and refresh tokens live only in this script's memory: never web storage
//   nor a cookie. Every API call sets `Authorization: Bearer` itself and sends
//   no cookie (`credentials: "omit"`), so a request another site makes the browser send is
//   anonymous: that is the CSRF defence. A reload signs out.
// - Every piece of data reaches the page through `textContent` or text nodes, never as HTML
//   (the Content-Security-Policy requires Trusted Types and allows no policy, so an HTML
//   sink would throw).
// - A 401 tries the refresh token once, then returns to the sign-in form; a 403 after
//   signing in means the account is not an administrator.
"use strict";

(() => {
  const API = "/api/v1";
  const session = { access: null, refresh: null, email: null };
  let components = [];

  const $ = (id) => document.getElementById(id);

  // Problems the page itself meets are counted on <html> (data-csp-violations,
  // data-script-errors) for whoever looks: the browser test reads them.
  const counts = { cspViolations: 0, scriptErrors: 0 };
  document.addEventListener("securitypolicyviolation", () => {
    counts.cspViolations += 1;
    document.documentElement.dataset.cspViolations = String(counts.cspViolations);
  });
  window.addEventListener("error", () => {
    counts.scriptErrors += 1;
    document.documentElement.dataset.scriptErrors = String(counts.scriptErrors);
  });

  /** An element with a class, text and children (strings become text nodes). */
  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const opts = options || {};
    if (opts.className) node.className = opts.className;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.data) {
      for (const [key, value] of Object.entries(opts.data)) node.dataset[key] = String(value);
    }
    if (opts.type) node.type = opts.type;
    if (opts.id) node.id = opts.id;
    if (opts.disabled) node.disabled = true;
    if (opts.title) node.title = String(opts.title);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function table(id, headings, rows) {
    const head = el("tr", null, ...headings.map((h) => el("th", { text: h })));
    const body = el("tbody", null, ...rows);
    return el("table", { id }, el("thead", null, head), body);
  }

  function cell(value, className) {
    return el("td", { text: value === null || value === undefined ? "—" : value, className });
  }

  function setStatus(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function problemText(answer) {
    const data = answer.data || {};
    return data.detail || data.title || `the server answered ${answer.status}`;
  }

  /** Thrown when the session ended and the sign-in form is back. */
  class SessionEnded extends Error {}

  async function request(method, path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json, application/problem+json" };
    if (session.access && !opts.anonymous) headers.Authorization = `Bearer ${session.access}`;
    let body;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      headers["Content-Type"] = opts.contentType || "application/octet-stream";
      body = opts.body;
    }
    const response = await fetch(API + path, {
      method,
      headers,
      body,
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { detail: text.slice(0, 300) };
      }
    }
    return { status: response.status, ok: response.ok, data };
  }

  async function refreshSession() {
    if (!session.refresh) return false;
    const answer = await request("POST", "/auth/refresh", {
      anonymous: true,
      json: { refresh_token: session.refresh },
    });
    if (!answer.ok || !answer.data || !answer.data.access_token) return false;
    session.access = answer.data.access_token;
    session.refresh = answer.data.refresh_token || null;
    return true;
  }

  /** An admin API call: refreshes once on 401, then signs out. */
  async function admin(method, path, options) {
    let answer = await request(method, `/admin${path}`, options);
    if (answer.status === 401 && (await refreshSession())) {
      answer = await request(method, `/admin${path}`, options);
    }
    if (answer.status === 401) {
      showSignIn("Your session has ended: sign in again.");
      throw new SessionEnded();
    }
    if (answer.status === 403) {
      showSignIn(notAdmin());
      throw new SessionEnded();
    }
    return answer;
  }

  function notAdmin() {
    return `${session.email || "This account"} is not an administrator: the console needs an account with the admin role.`;
  }

  function forget() {
    session.access = null;
    session.refresh = null;
    session.email = null;
    components = [];
  }

  function showSignIn(message) {
    const refresh = session.refresh;
    forget();
    if (refresh) {
      // End the server's session too; nothing waits for it.
      request("POST", "/auth/logout", { anonymous: true, json: { refresh_token: refresh } }).catch(
        () => {},
      );
    }
    $("console-view").hidden = true;
    $("who").hidden = true;
    $("who-email").textContent = "";
    $("components").replaceChildren();
    $("report").replaceChildren();
    $("report-section").hidden = true;
    $("audit").tBodies[0].replaceChildren();
    $("sign-in-view").hidden = false;
    $("sign-in-error").textContent = message || "";
    setStatus("", false);
    $("password").value = "";
  }

  async function signIn(event) {
    event.preventDefault();
    const email = $("email").value.trim();
    const password = $("password").value;
    $("sign-in-error").textContent = "";
    const button = $("sign-in");
    button.disabled = true;
    try {
      const answer = await request("POST", "/auth/login", {
        anonymous: true,
        json: { email, password },
      });
      if (!answer.ok || !answer.data || !answer.data.access_token) {
        $("sign-in-error").textContent =
          answer.status === 401 ? "The email or password is wrong." : problemText(answer);
        return;
      }
      session.access = answer.data.access_token;
      session.refresh = answer.data.refresh_token || null;
      session.email = (answer.data.user && answer.data.user.email) || email;
      $("password").value = "";
      await loadComponents();
      $("sign-in-view").hidden = true;
      $("console-view").hidden = false;
      $("who").hidden = false;
      $("who-email").textContent = session.email;
      setStatus(`Signed in as ${session.email}.`, false);
      await loadAudit();
    } catch (error) {
      if (!(error instanceof SessionEnded)) {
        $("sign-in-error").textContent = `Cannot sign in: ${error.message}`;
      }
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    showSignIn("Signed out.");
  }

  // Components and versions.

  async function loadComponents() {
    const answer = await admin("GET", "/components");
    if (!answer.ok) {
      setStatus(`Cannot list components: ${problemText(answer)}`, true);
      return;
    }
    components = (answer.data && answer.data.items) || [];
    renderComponents();
  }

  function renderComponents() {
    const nodes = components.map((component) => {
      const versions = [...(component.versions || [])].sort((a, b) =>
        String(b.installed_at).localeCompare(String(a.installed_at)),
      );
      const rows = versions.map((version) => {
        const active = version.version === component.active_version;
        const report = version.gate_report;
        const gate = report
          ? el("td", {
              text: report.passed ? "passed" : "refused",
              className: report.passed ? "passed" : "refused",
            })
          : cell(null);
        const actions = el(
          "td",
          null,
          el("button", {
            type: "button",
            className: "activate",
            text: active ? "Active" : "Activate",
            disabled: active || version.status === "rejected",
            data: { component: component.name, version: version.version },
          }),
          " ",
          report
            ? el("button", {
                type: "button",
                className: "show-report",
                text: "Report",
                data: { component: component.name, version: version.version },
              })
            : null,
        );
        return el(
          "tr",
          {
            className: active ? "active-row" : "",
            data: { version: version.version, active: active ? "true" : "false" },
          },
          cell(version.version, "mono"),
          cell(active ? "active" : version.status, "status"),
          cell(version.installed_at),
          cell(version.installed_by),
          el("td", {
            className: "mono",
            text: String(version.sha256 || "").slice(0, 12),
            title: version.sha256,
          }),
          gate,
          actions,
        );
      });
      return el(
        "div",
        { className: "component", data: { component: component.name } },
        el(
          "h3",
          null,
          el("span", { text: component.name }),
          " ",
          el("span", { className: "badge", text: component.kind }),
        ),
        el(
          "p",
          null,
          "Active version: ",
          el("strong", { className: "active-version mono", text: component.active_version || "none" }),
          " ",
          el("button", {
            type: "button",
            className: "rollback",
            text: "Roll back",
            data: { component: component.name },
          }),
        ),
        table(
          null,
          ["Version", "Status", "Installed", "By", "SHA-256", "Gate", ""],
          rows,
        ),
      );
    });
    $("components").replaceChildren(...nodes);

    const select = $("upload-component");
    const chosen = select.value || "crisis-rules";
    select.replaceChildren(
      ...components.map((c) => el("option", { text: c.name, data: { kind: c.kind } })),
    );
    if (components.some((c) => c.name === chosen)) select.value = chosen;
  }

  function versionOf(name, label) {
    const component = components.find((c) => c.name === name);
    return component && (component.versions || []).find((v) => v.version === label);
  }

  async function onComponentsClick(event) {
    const button = event.target.closest("button");
    if (!button || button.disabled) return;
    const name = button.dataset.component;
    const label = button.dataset.version;
    if (button.classList.contains("show-report")) {
      const version = versionOf(name, label);
      if (version && version.gate_report) showReport(name, label, version.gate_report);
      return;
    }
    button.disabled = true;
    try {
      if (button.classList.contains("activate")) {
        const answer = await admin("POST", `/components/${encodeURIComponent(name)}/activate`, {
          json: { version: label },
        });
        if (answer.ok) setStatus(`Activated ${name} ${label}.`, false);
        else setStatus(`Cannot activate ${name} ${label}: ${problemText(answer)}`, true);
      } else if (button.classList.contains("rollback")) {
        const answer = await admin("POST", `/components/${encodeURIComponent(name)}/rollback`);
        if (answer.ok) {
          const active = answer.data && answer.data.active && answer.data.active.version;
          setStatus(`Rolled ${name} back to ${active || "the previous version"}.`, false);
        } else {
          setStatus(`Cannot roll ${name} back: ${problemText(answer)}`, true);
        }
      }
      await loadComponents();
      await loadAudit();
    } catch (error) {
      if (!(error instanceof SessionEnded)) setStatus(`Failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  // Uploads and gate reports.

  async function upload(event) {
    event.preventDefault();
    const name = $("upload-component").value;
    const label = $("upload-version").value.trim();
    const file = $("upload-file").files[0];
    if (!name || !label || !file) {
      setStatus("Choose a component, a version label and a file.", true);
      return;
    }
    const button = $("upload");
    button.disabled = true;
    setStatus(`Uploading ${name} ${label} and running its gate…`, false);
    try {
      const answer = await admin(
        "POST",
        `/components/${encodeURIComponent(name)}/versions?version=${encodeURIComponent(label)}`,
        { body: file, contentType: "application/wasm" },
      );
      const report = answer.data && answer.data.gate_report;
      if (answer.ok) {
        setStatus(
          `Installed ${name} ${label}: the gate ${report && !report.passed ? "refused it" : "passed"}. It is not active until you activate it.`,
          false,
        );
      } else {
        setStatus(`Upload of ${name} ${label} refused: ${problemText(answer)}`, true);
      }
      if (report) showReport(name, label, report);
      await loadComponents();
      await loadAudit();
    } catch (error) {
      if (!(error instanceof SessionEnded)) setStatus(`Upload failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  function percent(value) {
    return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "—";
  }

  function caseTable(id, cases, withEffect) {
    const headings = ["Case", "Expected", "Active", "Candidate"];
    if (withEffect) headings.push("Effect");
    headings.push("Text");
    const rows = cases.map((c) => {
      const cells = [
        cell(c.id, "mono"),
        cell(c.expected),
        cell(c.active),
        cell(c.candidate),
      ];
      if (withEffect) cells.push(cell(c.effect, c.effect === "better" || c.effect === "worse" ? c.effect : ""));
      cells.push(cell(c.text));
      return el("tr", { data: { case: c.id } }, ...cells);
    });
    return table(id, headings, rows);
  }

  function showReport(name, label, report) {
    const parts = [
      el(
        "p",
        null,
        el("strong", { className: "mono", text: `${name} ${label}` }),
        ": ",
        el("span", {
          id: "report-verdict",
          className: report.passed ? "passed" : "refused",
          text: report.passed ? "gate passed" : "gate refused",
        }),
        el("span", { className: "muted", text: ` (gate: ${report.gate})` }),
      ),
    ];
    const details = report.details || {};
    if (report.gate === "crisis-rules") parts.push(...crisisReport(details));
    else parts.push(genericReport(details));
    $("report").replaceChildren(...parts);
    $("report-section").hidden = false;
  }

  function crisisReport(d) {
    const parts = [];
    if (d.error) parts.push(el("p", { className: "error", text: d.error }));
    const reasons = d.reasons || [];
    if (reasons.length) {
      parts.push(el("ul", { id: "report-reasons" }, ...reasons.map((r) => el("li", { className: "refused", text: r }))));
    }
    if (d.per_severity) {
      parts.push(
        el("p", {
          text: `${d.cases} labelled cases. Recall on high + imminent: ${percent(d.high_imminent_recall)} (floor ${percent(d.recall_floor)}). ${d.compared_with_active ? "Compared with the active version." : "No active version to compare with."}`,
        }),
      );
      const active = d.active_per_severity || null;
      const rows = ["none", "low", "moderate", "high", "imminent"].map((severity) => {
        const now = d.per_severity[severity] || {};
        const before = (active && active[severity]) || {};
        return el(
          "tr",
          { data: { severity } },
          cell(severity),
          cell(now.cases, "num"),
          cell(active ? percent(before.recall) : "—", "num"),
          cell(percent(now.recall), "num recall"),
          cell(active ? percent(before.precision) : "—", "num"),
          cell(percent(now.precision), "num precision"),
        );
      });
      parts.push(el("h3", { text: "Recall and precision per severity" }));
      parts.push(
        table(
          "report-severity",
          ["Severity", "Cases", "Recall (active)", "Recall (candidate)", "Precision (active)", "Precision (candidate)"],
          rows,
        ),
      );
    }
    const regressions = d.regressions || [];
    parts.push(el("h3", { text: `Regressions (${regressions.length})` }));
    parts.push(
      regressions.length
        ? caseTable("report-regressions", regressions, false)
        : el("p", { id: "report-regressions", className: "muted", text: "None: the candidate catches every high or imminent case the active version catches." }),
    );
    const missed = d.missed || [];
    if (missed.length) {
      parts.push(el("h3", { text: `High or imminent cases the candidate misses (${missed.length})` }));
      parts.push(caseTable("report-missed", missed, false));
    }
    const changed = d.changed || [];
    parts.push(el("h3", { text: `Cases whose answer changed (${changed.length})` }));
    parts.push(
      changed.length
        ? caseTable("report-changed", changed, true)
        : el("p", { id: "report-changed", className: "muted", text: "None." }),
    );
    return parts;
  }

  function genericReport(details) {
    const rows = Object.entries(details).map(([key, value]) =>
      el("tr", null, cell(key), cell(typeof value === "string" ? value : JSON.stringify(value), "mono")),
    );
    return table("report-details", ["Detail", "Value"], rows);
  }

  // The audit log.

  async function loadAudit() {
    const answer = await admin("GET", "/audit?limit=100");
    if (!answer.ok) {
      setStatus(`Cannot read the audit log: ${problemText(answer)}`, true);
      return;
    }
    const entries = [...((answer.data && answer.data.items) || [])].sort((a, b) =>
      String(b.created_at).localeCompare(String(a.created_at)),
    );
    $("audit").tBodies[0].replaceChildren(
      ...entries.map((entry) =>
        el(
          "tr",
          { data: { action: entry.action } },
          cell(entry.created_at),
          cell(entry.actor),
          cell(entry.action, "mono action"),
          cell(entry.target, "mono"),
          cell(entry.details ? JSON.stringify(entry.details) : null, "mono"),
        ),
      ),
    );
  }

  function guarded(action) {
    return (event) => {
      action(event).catch((error) => {
        if (!(error instanceof SessionEnded)) setStatus(`Failed: ${error.message}`, true);
      });
    };
  }

  $("sign-in-form").addEventListener("submit", guarded(signIn));
  $("sign-out").addEventListener("click", guarded(signOut));
  $("upload-form").addEventListener("submit", guarded(upload));
  $("components").addEventListener("click", guarded(onComponentsClick));
  $("reload-components").addEventListener("click", guarded(loadComponents));
  $("reload-audit").addEventListener("click", guarded(loadAudit));
  document.documentElement.dataset.ready = "true";
})();
