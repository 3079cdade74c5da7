// The inspector's script: reads the control API every second (pausable) and draws what it says.
// Everything the sandbox answers is data from its clients (request bodies, patient names, paths),
// so it is only ever put on the page as text (textContent, text nodes), never as markup.
(function () {
  "use strict";

  var TOKEN_KEY = "huskyvoice-sandbox-admin-token";
  var ADMIN_HEADER = "X-Sandbox-Admin-Token";
  var SESSION_HEADER = "X-Sandbox-Session";
  var DEFAULT_SESSION = "default";
  var INTERVAL_MS = 1000;
  var JOURNAL_LIMIT = 200;
  var DELIVERIES_LIMIT = 50;
  var FRAGMENT_KEYS = ["session", "operation", "status", "appointment", "from", "to"];
  var FILTERS = {operation: "filter-operation", status: "filter-status", appointment: "filter-appointment",
                 from: "range-from", to: "range-to"};

  var state = {session: DEFAULT_SESSION, operation: "", status: "", appointment: "", from: "", to: "",
               paused: false, needsToken: false, busy: false, timer: null, polls: 0};
  var PANELS = ["journal-list", "world-body", "forced-body", "deliveries-list"];
  var drawn = {};  // a panel's element id -> what it last drew, so an unchanged answer leaves it alone
  var opened = new Set();  // the exchanges and deliveries expanded, kept open across redraws
  var journal = [];  // the last journal read, oldest first
  var operations = "";

  function $(id) { return document.getElementById(id); }

  // An element with attributes and children; a string child becomes a text node, never markup.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attrs[name]; } else { node.setAttribute(name, attrs[name]); }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function fill(parent, children) { parent.replaceChildren.apply(parent, children); }

  function changed(panel, value) {
    var text = JSON.stringify(value);
    if (drawn[panel] === text) { return false; }
    drawn[panel] = text;
    return true;
  }

  // -- the address: the session and the filters live in the fragment (never sent to a server) --

  function readFragment() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.get("token")) { sessionStorage.setItem(TOKEN_KEY, params.get("token")); }
    FRAGMENT_KEYS.forEach(function (key) { state[key] = params.get(key) || ""; });
    state.session = state.session || DEFAULT_SESSION;
    Object.keys(FILTERS).forEach(function (key) { $(FILTERS[key]).value = state[key]; });
    writeFragment();  // the token leaves the address bar and the history at once
  }

  function writeFragment() {
    var params = new URLSearchParams();
    FRAGMENT_KEYS.forEach(function (key) {
      if (state[key] && !(key === "session" && state[key] === DEFAULT_SESSION)) { params.set(key, state[key]); }
    });
    var text = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (text ? "#" + text : ""));
  }

  // -- reading the control API -------------------------------------------------------------------

  function get(path, ofSession) {
    var headers = {};
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) { headers[ADMIN_HEADER] = token; }
    if (ofSession && state.session !== DEFAULT_SESSION) { headers[SESSION_HEADER] = state.session; }
    return fetch(path, {headers: headers, cache: "no-store"}).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (response.ok && body && body.success) { return body.data; }
        var error = new Error(body && body.error ? body.error.code + ": " + body.error.message
          : "HTTP " + response.status);
        error.status = response.status;
        throw error;
      });
    });
  }

  // One panel's read: its own failure is shown in it, but a refusal (403) stops everything.
  function panel(path, draw, where) {
    return get(path, true).then(draw, function (error) {
      if (error.status === 403) { throw error; }
      drawn[where] = null;
      fill($(where), [el("p", {"class": "error", text: error.message})]);
    });
  }

  function rangeQuery() {
    var params = new URLSearchParams();
    if (state.from) { params.set("date_from", state.from); }
    if (state.to) { params.set("date_to", state.to); }
    var text = params.toString();
    return text ? "?" + text : "";
  }

  function tick() {
    clearTimeout(state.timer);
    if (state.busy) { return; }
    state.busy = true;
    get("sessions", false).then(function (listing) {
      drawSessions(listing);
      // A session is created by the first request naming it: only a listed one is read, so
      // watching a session that ended does not bring it back.
      if (!listing.sessions.some(function (s) { return s.name === state.session; })) {
        PANELS.forEach(function (where) {
          drawn[where] = null;
          fill($(where), [el("p", {"class": "empty", text: "No session " + state.session + " to read."})]);
        });
        return null;
      }
      return Promise.all([
        panel("requests?limit=" + JOURNAL_LIMIT, drawJournal, "journal-list"),
        panel("inspector/calendar" + rangeQuery(), drawWorld, "world-body"),
        panel("forced-responses", drawForced, "forced-body"),
        panel("webhooks/deliveries?limit=" + DELIVERIES_LIMIT, drawDeliveries, "deliveries-list")
      ]);
    }).then(function () {
      state.polls += 1;
      document.body.dataset.polls = String(state.polls);
      setStatus(state.paused ? "paused" : "live", (state.paused ? "paused" : "live") + " · updated " +
        new Date().toLocaleTimeString());
    }, failed).then(function () {
      state.busy = false;
      schedule();
    });
  }

  function schedule() {
    clearTimeout(state.timer);
    if (!state.paused && !state.needsToken) { state.timer = setTimeout(tick, INTERVAL_MS); }
  }

  function failed(error) {
    if (error.status === 403) {
      state.needsToken = true;
      $("token-message").textContent = error.message;
      $("token-form").hidden = false;
      setStatus("token", "needs the admin token");
    } else {
      setStatus("error", "cannot reach the sandbox: " + error.message);
    }
  }

  function setStatus(name, text) {
    document.body.dataset.state = name;
    $("status").textContent = text;
  }

  // -- sessions ----------------------------------------------------------------------------------

  function drawSessions(listing) {
    $("session-name").textContent = "session: " + state.session;
    var known = listing.sessions.some(function (s) { return s.name === state.session; });
    $("session-note").hidden = known;
    $("session-note").textContent = known ? "" : "No session named " + state.session +
      " (yet): it starts with the first request naming it.";
    if (!changed("session-list", [state.session, listing])) { return; }
    fill($("session-list"), listing.sessions.map(function (s) {
      var button = el("button", {type: "button", "class": "session" + (s.name === state.session ? " current" : "")}, [
        el("strong", {text: s.name}),
        el("span", {text: s.appointments + " appointments · " + s.clock.now + (s.clock.frozen ? " (frozen)" : "")}),
        s.last_used ? el("span", {text: "last used " + s.last_used}) : null
      ]);
      button.addEventListener("click", function () { choose(s.name); });
      return el("li", {}, [button]);
    }));
  }

  function choose(name) {
    state.session = name;
    drawn = {};
    opened.clear();
    writeFragment();
    tick();
  }

  // -- the request journal -----------------------------------------------------------------------

  function drawJournal(entries) {
    journal = entries;
    var names = Array.from(new Set(entries.map(function (e) { return e.operation; }).filter(Boolean))).sort();
    if (names.join() !== operations) {
      operations = names.join();
      fill($("operations"), names.map(function (name) { return el("option", {value: name}); }));
    }
    drawExchanges();
  }

  function statusText(status) { return status === null ? "dropped" : String(status); }

  function matches(entry) {
    var operation = state.operation.trim().toLowerCase();
    var wanted = state.status.trim().toLowerCase();
    var appointment = state.appointment.trim();
    var status = statusText(entry.response.status);
    if (operation && (entry.operation || "").toLowerCase().indexOf(operation) === -1) { return false; }
    if (wanted && (/^[1-5]xx$/.test(wanted) ? status.charAt(0) !== wanted.charAt(0) || status === "dropped"
      : status !== wanted)) { return false; }
    return !appointment || (entry.appointment_id || "").indexOf(appointment) !== -1;
  }

  function drawExchanges() {
    var shown = journal.filter(matches).reverse();  // newest first
    var ids = shown.map(function (e) { return e.id; });
    if (!changed("journal-list", [state.operation, state.status, state.appointment, ids])) { return; }
    $("journal-count").textContent = shown.length + " of the last " + journal.length;
    fill($("journal-list"), shown.length ? shown.map(exchange) : [el("p", {"class": "empty",
      text: journal.length ? "No exchange matches the filters." : "No API request yet."})]);
  }

  function badge(status, kind) {
    return el("span", {"class": "badge " + kind, text: status});
  }

  function statusKind(status) {
    return status === null ? "dropped" : status >= 500 ? "s5xx" : status >= 400 ? "s4xx" : "s2xx";
  }

  function expandable(id, summary, body) {
    var details = el("details", {"data-id": id}, [el("summary", {}, summary), body]);
    details.open = opened.has(id);
    details.addEventListener("toggle", function () {
      if (details.open) { opened.add(id); } else { opened.delete(id); }
    });
    return details;
  }

  function exchange(entry) {
    var status = entry.response.status;
    var node = expandable("request-" + entry.id, [
      el("span", {"class": "time", text: entry.time.slice(11, 23)}),
      badge(statusText(status), statusKind(status)),
      el("span", {"class": "method", text: entry.method}),
      el("span", {"class": "path", text: entry.path + (entry.query ? "?" + entry.query : "")}),
      el("span", {"class": "operation", text: entry.operation || "(no operation)"}),
      entry.response.code ? el("span", {"class": "code", text: entry.response.code}) : null,
      entry.forced ? el("span", {"class": "tag forced", text: "forced"}) : null
    ], el("div", {"class": "exchange"}, [
      el("div", {}, [el("h3", {text: "Request"}), facts([
        [entry.method, entry.path + (entry.query ? "?" + entry.query : "")], ["key", entry.key || "none"],
        ["organization", entry.organization], ["appointment", entry.appointment_id],
        ["content type", entry.request.content_type]
      ]), json(entry.request.body)]),
      el("div", {}, [el("h3", {text: "Answer"}), facts([
        ["status", statusText(status)], ["code", entry.response.code], ["took", entry.duration_ms + " ms"],
        ["forced", entry.forced ? JSON.stringify(entry.forced) : null]
      ].concat(Object.keys(entry.response.headers).map(function (name) {
        return [name, entry.response.headers[name]];
      }))), json(entry.response.body)])
    ]));
    node.className = "entry";
    node.dataset.status = statusText(status);
    return node;
  }

  function plural(count, noun) { return count + " " + noun + (count === 1 ? "" : "s"); }

  function facts(pairs) {
    var items = [];
    pairs.forEach(function (pair) {
      if (pair[1] !== null && pair[1] !== undefined) {
        items.push(el("dt", {text: pair[0]}), el("dd", {text: String(pair[1])}));
      }
    });
    return el("dl", {}, items);
  }

  function json(value) {
    var text = value === null || value === undefined ? "(no body)"
      : typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return el("pre", {"class": "body", text: text});
  }

  // -- the world ---------------------------------------------------------------------------------

  function drawWorld(calendar) {
    if (!changed("world-body", calendar)) { return; }
    $("world-range").textContent = calendar.date_from + " to " + calendar.date_to;
    $("range-from").placeholder = calendar.date_from;
    fill($("world-body"), calendar.organizations.map(function (org) {
      return el("div", {"class": "org", "data-org": org.id}, [
        el("h3", {text: org.name + " · " + org.id + " · " + org.timezone}),
        el("div", {"class": "dates"}, org.dates.map(function (d) { return day(org, d); }))
      ]);
    }));
  }

  function day(org, d) {
    var closed = d.windows.length > 0 && d.windows.every(function (w) { return w.status !== "OPEN"; });
    var counts = Object.keys(d.appointments.by_status).sort().map(function (status) {
      return d.appointments.by_status[status] + " " + status;
    });
    var title = [d.day.slice(0, 3) + " " + d.date];
    if (closed) { title.push(el("span", {"class": "tag closed", text: "closed"})); }
    return el("div", {"class": "date" + (closed ? " closed" : ""), "data-date": d.date}, [
      el("h4", {}, title),
      el("p", {"class": "count", text: d.appointments.total
        ? plural(d.appointments.total, "appointment") + ": " + counts.join(", ") : "no appointments"}),
      el("ul", {"class": "windows"}, d.windows.map(windowRow)),
      d.appointments.listed.length ? booked(org, d) : null
    ]);
  }

  function booked(org, d) {
    var listed = d.appointments.listed;
    return expandable("date-" + org.id + "-" + d.date,
      [listed.length < d.appointments.total ? "the first " + listed.length : "list them"],
      el("ul", {"class": "appointments"}, listed.map(function (a) {
        return el("li", {}, [el("code", {text: a.appointment_id}),
          " " + [a.session + " " + a.batch, a.patient_name, a.status].join(" · ")]);
      })));
  }

  function windowRow(w) {
    var full = w.status === "OPEN" && w.filled_slots >= w.ai_slots;
    var share = w.ai_slots > 0 ? Math.min(1, w.filled_slots / w.ai_slots) : (w.filled_slots > 0 ? 1 : 0);
    var bar = el("span", {"class": "fill"});
    bar.style.width = (share * 100).toFixed(1) + "%";  // a style property, not markup: allowed by the page's CSP
    return el("li", {"class": "window " + w.status.toLowerCase() + (full ? " full" : ""), "data-window": w.calendar_id,
      title: w.start_time + "-" + w.end_time + " · window " + w.calendar_id + " · branch " + w.branch_id +
        " · max_slots " + w.max_slots}, [
      el("span", {"class": "label", text: w.session + " " + w.batch + " " + w.start_time}),
      el("span", {"class": "bar"}, [bar]),
      el("span", {"class": "fillcount", text: w.filled_slots + "/" + w.ai_slots}),
      w.status !== "OPEN" ? el("span", {"class": "tag " + w.status.toLowerCase(), text: w.status}) : null
    ]);
  }

  // -- forced responses and webhook deliveries ---------------------------------------------------

  function drawForced(rules) {
    if (!changed("forced-body", rules)) { return; }
    fill($("forced-body"), rules.length ? [el("ul", {"class": "rules"}, rules.map(function (rule) {
      var answer = rule.drop ? "drop" : rule.status === null ? "delay" : String(rule.status);
      var example = rule.example === null ? null : typeof rule.example === "object" ? JSON.stringify(rule.example)
        : rule.example;
      return el("li", {"data-id": rule.id}, [
        badge(answer, rule.status === null ? "dropped" : statusKind(rule.status)),
        el("strong", {text: " " + (rule.operation || "any operation")}),
        el("span", {text: [rule.appointment_id, example, rule.delay_ms ? "+" + rule.delay_ms + " ms" : null,
          rule.remaining + " left", rule.id].filter(Boolean).map(function (part) { return " · " + part; }).join("")})
      ]);
    }))] : [el("p", {"class": "empty", text: "None pending."})]);
  }

  var DELIVERY_KINDS = {delivered: "s2xx", pending: "s4xx", failed: "s5xx", cancelled: "dropped"};

  function drawDeliveries(deliveries) {
    if (!changed("deliveries-list", deliveries)) { return; }
    $("deliveries-count").textContent = deliveries.length ? deliveries.length + " (newest first)" : "";
    fill($("deliveries-list"), deliveries.length ? deliveries.slice().reverse().map(function (d) {
      var node = expandable("delivery-" + d.delivery_id, [
        el("span", {"class": "time", text: d.created_at.slice(11, 23)}),
        badge(d.status, DELIVERY_KINDS[d.status] || "dropped"),
        el("span", {"class": "method", text: d.event}),
        el("span", {"class": "path", text: d.endpoint_id + " → " + d.url}),
        el("span", {"class": "operation", text: plural(d.attempts.length, "attempt")})
      ], el("div", {"class": "exchange"}, [
        el("div", {}, [el("h3", {text: "Attempts"}), el("ol", {"class": "attempts"}, d.attempts.map(function (a) {
          return el("li", {}, [badge(a.status === null ? "no answer" : String(a.status),
            a.status === null ? "s5xx" : statusKind(a.status)),
            " " + a.at + " · " + a.latency_ms + " ms" + (a.error ? " · " + a.error : "")]);
        }))]),
        el("div", {}, [el("h3", {text: "Payload"}), json(d.payload)])
      ]));
      node.className = "delivery";
      node.dataset.status = d.status;
      return node;
    }) : [el("p", {"class": "empty", text: "No delivery yet."})]);
  }

  // -- the controls ------------------------------------------------------------------------------

  function start() {
    readFragment();
    window.addEventListener("hashchange", function () { readFragment(); drawn = {}; tick(); });
    ["operation", "status", "appointment"].forEach(function (key) {
      $(FILTERS[key]).addEventListener("input", function (event) {
        state[key] = event.target.value;
        writeFragment();
        drawExchanges();
      });
    });
    ["from", "to"].forEach(function (key) {
      $(FILTERS[key]).addEventListener("change", function (event) {
        state[key] = event.target.value;
        writeFragment();
        tick();
      });
    });
    $("pause").addEventListener("click", function () {
      state.paused = !state.paused;
      $("pause").textContent = state.paused ? "Resume" : "Pause";
      setStatus(state.paused ? "paused" : "live", state.paused ? "paused" : "live");
      schedule();
    });
    $("refresh").addEventListener("click", tick);
    $("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value);
      $("token").value = "";
      $("token-form").hidden = true;
      state.needsToken = false;
      tick();
    });
    tick();
  }

  start();
}());
