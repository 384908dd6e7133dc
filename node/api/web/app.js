// app.js -- the Kula web wallet: a business's account, history, payments,
// signatures and votes; the network's console; an auditor's view.  It talks
// to the node it was served by: GET /web/session (who, the CSRF token),
// POST /web/rpc (JSON-RPC methods that read), POST /web/pay, /web/vote,
// /web/open, /web/sign, /web/statement (and GET /web/statement, its
// progress, and /web/statement/file, the download), and the event stream
// GET /events.  Every text of
// the ledger (names, memos, labels) reaches the page through textContent,
// never as markup.
"use strict";
(function () {
  const S = { csrf: "", unit: "", decimals: 0, me: null, names: {}, members: [],
              history: [], historyNext: null, samples: { height: [], mempool: [], age: [] },
              notes: 0, lastBlock: 0 };
  const $ = function (id) { return document.getElementById(id); };

  // ---- building the page ----
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells, classes) {
    const tr = document.createElement("tr");
    cells.forEach(function (c, i) {
      const td = c instanceof Node ? document.createElement("td") : el("td", c);
      if (c instanceof Node) td.appendChild(c);
      if (classes && classes[i]) td.className = classes[i];
      tr.appendChild(td);
    });
    return tr;
  }
  function showError(msg) {
    const e = $("error");
    e.textContent = msg;
    e.hidden = !msg;
  }

  // ---- amounts, names, dates ----
  function amount(minor) {
    const neg = minor < 0, v = Math.abs(minor);
    const d = S.decimals, p = Math.pow(10, d);
    const whole = Math.floor(v / p), frac = String(v % p).padStart(d, "0");
    return (neg ? "-" : "") + whole + (d > 0 ? "." + frac : "");
  }
  function units(minor) { return amount(minor) + " " + S.unit; }
  function who(id) {
    const n = S.names[id];
    return n ? "#" + id + " " + n : "#" + id;
  }
  function utc(ms) {
    if (!ms) return "";
    return new Date(ms).toISOString().replace("T", " ").slice(0, 16);
  }

  // ---- talking to the node ----
  function request(path, opts) {
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 401) loggedOut(j.error);
        if (!r.ok) throw new Error(j.error || (j.error && j.error.message) || ("the node answered " + r.status));
        return j;
      });
    }, function () { throw new Error("the node does not answer: is kulad running?"); });
  }
  function post(path, body) {
    return request(path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": S.csrf },
      body: JSON.stringify(body) });
  }
  let rpcId = 0;
  function rpc(method, params) {
    return fetch("/web/rpc", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": S.csrf },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method: method, params: params || {} })
    }).then(function (r) {
      return r.json().then(function (j) {
        if (r.status === 401) loggedOut(j.error);
        if (j.error) throw new Error(typeof j.error === "string" ? j.error : j.error.message);
        return j.result;
      });
    }, function () { throw new Error("the node does not answer: is kulad running?"); });
  }
  function loggedOut(why) {
    S.out = true;
    $("live").textContent = "logged out";
    $("live").className = "live";
    if (events) events.close();
    showError((why || "Your session ended.") + "");
    $("relogin-key").textContent = S.key || "NAME";
    $("relogin").hidden = false;
  }
  // a new login address from kula web: only one of this node's
  function relogin(ev) {
    ev.preventDefault();
    const u = $("relogin-url").value.trim();
    if (u.indexOf(location.origin + "/login#") !== 0 || !/#[0-9a-f]{64}$/.test(u)) {
      $("relogin-result").textContent = "That is not a login address of this node: it starts with " +
        location.origin + "/login# and ends with 64 hex digits.";
      return;
    }
    location.assign(u);
  }

  // ---- session, kept alive while the page is open ----
  function session() {
    return request("/web/session", { credentials: "same-origin" }).then(function (s) {
      S.csrf = s.csrf; S.unit = s.unit; S.decimals = s.decimals; S.key = s.key; S.pubkey = s.pubkey;
      $("network").textContent = s.network;
      document.querySelectorAll(".unit").forEach(function (u) { u.textContent = s.unit; });
      return s;
    });
  }

  function loadMembers() {
    return rpc("members", {}).then(function (list) {
      S.members = list;
      const dl = $("member-names");
      dl.replaceChildren();
      list.forEach(function (m) {
        S.names[m.id] = m.name;
        const o = document.createElement("option");
        o.value = m.name;
        dl.appendChild(o);
      });
    });
  }

  function loadMe() {
    return rpc("member", { member: S.pubkey }).then(function (m) {
      S.me = m;
      $("who").textContent = who(m.id) + " (key " + S.key + ")";
      $("member-name").textContent = m.name;
      $("member-sector").textContent = "member #" + m.id + ", " + m.sector;
    }, function (e) {
      $("who").textContent = "key " + S.key;
      $("member-name").textContent = "Key " + S.key + " is not a member yet";
      throw e;
    });
  }

  // ---- account ----
  function describe(e) {
    const t = e.tx || {}, me = S.me.id;
    let what = t.kind || "?", withWhom = "", amt = null;
    if (e.kind === "clearing-settlement") {
      // no transaction: a clearing paid what the debtor still owed from its credit
      const paid = e.from === me;
      what = e.description; withWhom = who(paid ? e.to : e.from); amt = paid ? -e.amount : e.amount;
    } else if (t.kind === "transfer") {
      if (t.from === me) { what = "paid"; withWhom = who(t.to); amt = -t.amount; }
      else { what = "received"; withWhom = who(t.from); amt = t.amount; }
    } else if (t.kind === "exchange") {
      const mine = t.from === me;
      withWhom = who(mine ? t.counterparty : t.from);
      what = "barter: " + (mine ? t.gives : t.receives) + " for " + (mine ? t.receives : t.gives);
      const diff = t.gives_value - t.receives_value; // from pays the counterparty when < 0
      amt = mine ? -Math.max(-diff, 0) + Math.max(diff, 0) : Math.max(-diff, 0) - Math.max(diff, 0);
    } else if (t.kind === "vote") {
      what = "voted " + (t.approve ? "yes" : "no");
    } else if (t.from !== me) {
      withWhom = who(t.from);
    }
    return { date: utc(e.time_ms), what: what, with: withWhom, memo: t.memo || "", amount: amt };
  }
  function entryRow(e) {
    const d = describe(e);
    return row([d.date, d.what, d.with, d.memo, d.amount === null ? "" : amount(d.amount)],
               [null, null, null, "memo", "num"]);
  }
  function loadAccount() {
    if (!S.me) return Promise.resolve();
    return Promise.all([rpc("balance", { member: S.me.id }), rpc("history", { member: S.me.id, limit: 5 })])
      .then(function (x) {
        const b = x[0];
        $("balance").textContent = units(b.balance);
        $("available").textContent = units(b.available);
        $("credit-limit").textContent = units(b.credit_limit);
        const tb = $("latest");
        tb.replaceChildren();
        x[1].entries.forEach(function (e) { tb.appendChild(entryRow(e)); });
      });
  }

  // ---- history: search and a period ----
  function loadHistory(more) {
    if (!S.me) return Promise.resolve();
    const p = { member: S.me.id, limit: 100 };
    if (more && S.historyNext) { p.before_height = S.historyNext.before_height; p.before_index = S.historyNext.before_index; }
    return rpc("history", p).then(function (h) {
      S.history = more ? S.history.concat(h.entries) : h.entries;
      S.historyNext = h.next;
      drawHistory();
    });
  }
  function drawHistory() {
    const q = $("history-search").value.trim().toLowerCase();
    const from = $("history-from").value, to = $("history-to").value;
    const tb = $("history-rows");
    tb.replaceChildren();
    let shown = 0;
    S.history.forEach(function (e) {
      const d = describe(e), day = d.date.slice(0, 10);
      if (from && day < from) return;
      if (to && day > to) return;
      if (q && (d.what + " " + d.with + " " + d.memo).toLowerCase().indexOf(q) < 0) return;
      tb.appendChild(entryRow(e));
      shown++;
    });
    $("history-more").hidden = !S.historyNext;
    $("history-info").textContent = shown + " of " + S.history.length + " entries loaded" +
      (S.historyNext ? "; older ones: 'Older entries'" : "");
  }

  // ---- the statement, made by the node: POST /web/statement starts it, GET
  // /web/statement says how far it is, GET /web/statement/file is the file ----
  let stmtPoll = null;
  function showStatement(st, fresh) {
    const res = $("stmt-result"), link = $("stmt-link");
    $("stmt-button").disabled = st.state === "running";
    link.hidden = true;
    res.className = "result";
    if (st.state === "none") {
      res.textContent = st.busy ? "The node is making another member's statement: busy, try again in a moment." : "";
      return;
    }
    if (st.state === "running") {
      res.textContent = "Making your statement " + st.file + ": the node has read " + num(st.height) +
        " of " + num(st.of) + " blocks.";
      pollStatement(fresh);
      return;
    }
    if (st.error || st.rows === undefined) {
      res.textContent = "No statement: " + (st.error || "it was stopped before it was made (the node is shutting down).");
      res.className = "result error";
      return;
    }
    res.className = "result ok";
    res.textContent = "Your statement is ready: " + st.file + ", " + num(st.rows) + " rows, " + num(st.bytes) +
      " bytes, up to block " + num(st.of) + (fresh ? "; your browser downloads it." : ".");
    link.textContent = "Download " + st.file + (fresh ? " again" : "");
    link.setAttribute("download", st.file);
    link.hidden = false;
    if (fresh) link.click();
  }
  function pollStatement(fresh) {
    if (stmtPoll) return;
    stmtPoll = setTimeout(function () {
      request("/web/statement", { credentials: "same-origin" }).then(function (st) {
        stmtPoll = null;
        showStatement(st, fresh);
      }, function (e) { stmtPoll = null; showError(e.message); });
    }, 500);
  }
  function loadStatement() {
    return request("/web/statement", { credentials: "same-origin" }).then(function (st) { showStatement(st, false); });
  }
  function startStatement(ev) {
    ev.preventDefault();
    const res = $("stmt-result");
    $("stmt-button").disabled = true;
    res.textContent = "Asking the node for your statement\u2026";
    res.className = "result";
    post("/web/statement", { from: $("stmt-from").value, to: $("stmt-to").value, format: $("stmt-format").value })
      .then(function (st) { showStatement(st, true); }, function (e) {
        $("stmt-button").disabled = false;
        res.textContent = e.message;
        res.className = "result error";
      });
  }

  // ---- pay ----
  function pay(ev) {
    ev.preventDefault();
    const res = $("pay-result");
    res.textContent = "Paying…";
    res.className = "result";
    $("pay-button").disabled = true;
    post("/web/pay", { to: $("pay-to").value.trim(), amount: $("pay-amount").value.trim(),
                       memo: $("pay-memo").value, passphrase: $("pay-pass").value })
      .then(function (r) {
        res.textContent = "Paid " + r.amount + " " + r.unit + " to " + r.to +
          "; waiting for the next block (transaction " + r.id.slice(0, 12) + "…).";
        res.className = "result ok";
        $("pay-amount").value = ""; $("pay-memo").value = "";
      }, function (e) {
        res.textContent = e.message;
        res.className = "result error";
      }).finally(function () { $("pay-pass").value = ""; $("pay-button").disabled = false; });
  }

  function feedback(ev) {
    ev.preventDefault();
    const res = $("fb-result");
    res.textContent = "Sending…";
    res.className = "result";
    post("/web/feedback", { about: $("fb-about").value.trim(), rating: Number($("fb-rating").value),
                            comment: $("fb-comment").value, passphrase: $("fb-pass").value })
      .then(function (r) {
        res.textContent = "Your rating " + r.rating + " of 5 was sent; it counts from the next block.";
        res.className = "result ok";
      }, function (e) {
        res.textContent = e.message;
        res.className = "result error";
      }).finally(function () { $("fb-pass").value = ""; });
  }

  // ---- sign a transaction file ----
  let signFile = null;
  function readFile() {
    const f = $("sign-file").files[0];
    if (f) return f.text();
    return Promise.resolve($("sign-text").value);
  }
  function openFile(ev) {
    ev.preventDefault();
    readFile().then(function (text) {
      try { return JSON.parse(text); } catch (e) {
        throw new Error("this is not a transaction file (not JSON): open the file kula wrote with --out");
      }
    }).then(showFile, function (e) {
      $("sign-view").hidden = true;
      $("sign-result").textContent = e.message;
      $("sign-result").className = "result error";
    });
  }
  // what a file says, in the words of kula sign, before it is signed
  function showFile(file) {
    $("sign-result").textContent = "";
    $("sign-result").className = "result";
    $("sign-out").hidden = true;
    signFile = file;
    return post("/web/open", { file: signFile }).then(function (v) {
      $("sign-view").hidden = false;
      $("sign-network").textContent = v.network;
      $("sign-you").textContent = v.you;
      $("sign-words").textContent = v.words;
      $("sign-fields").textContent = v.fields;
      const exp = v.expires_ms;
      $("sign-validity").textContent = exp ? ("valid until " + utc(exp) + " UTC; amounts in " + S.unit) : "";
      $("sign-missing").textContent = v.missing.length ? "still to sign: " + v.missing.join(", ") : "every required member has signed";
      $("sign-refused").hidden = !v.refused;
      $("sign-refused").textContent = v.refused ? "Your node would refuse it now: " + v.refused : "";
      $("sign-form").hidden = !v.required || v.signed || !!v.refused;
      if (!v.required) $("sign-result").textContent = "Your key is not one of those who must sign it.";
      else if (v.signed) $("sign-result").textContent = "You have signed it already.";
    }).catch(function (e) {
      $("sign-view").hidden = true;
      $("sign-result").textContent = e.message;
      $("sign-result").className = "result error";
    });
  }
  function signIt(ev) {
    ev.preventDefault();
    const res = $("sign-result");
    res.textContent = "Signing…";
    res.className = "result";
    post("/web/sign", { file: signFile, passphrase: $("sign-pass").value }).then(function (r) {
      if (r.submitted) {
        res.textContent = "Signed and submitted: every required member has signed. Transaction " + r.id.slice(0, 12) + "… waits for the next block.";
        res.className = "result ok";
        $("sign-form").hidden = true;
      } else {
        res.textContent = r.left ? "Signed. It waits on this node for the members still to sign; " +
          "members of other nodes need this file:" : r.error ? "Signed, but not submitted: " + r.error :
          "Signed. Give this file to the members still to sign:";
        res.className = "result ok";
        const out = $("sign-out");
        out.value = JSON.stringify(r.file, null, 2);
        out.hidden = false;
      }
    }, function (e) {
      res.textContent = e.message;
      res.className = "result error";
    }).finally(function () { $("sign-pass").value = ""; });
  }

  // ---- transactions left with the node for my signature ----
  function loadRequests() {
    if (!S.me) return Promise.resolve();
    return request("/web/requests", { credentials: "same-origin" }).then(function (list) {
      const tb = $("sign-requests");
      tb.replaceChildren();
      if (!list.length) tb.appendChild(row(["nothing waits for your signature", "", "", "", ""]));
      list.forEach(function (r) {
        const b = el("button", "Show and sign");
        b.type = "button";
        b.className = "sign-request";
        b.addEventListener("click", function () {
          showFile(r.file).then(function () { $("sign-view").scrollIntoView(); });
        });
        const tr = row([who(r.from), r.id.slice(0, 12) + "…", utc(r.left_ms),
                        r.expires_ms ? utc(r.expires_ms) : "", b]);
        tr.dataset.tx = r.id;
        tb.appendChild(tr);
      });
    });
  }

  // ---- invoices: payment requests, accepted and paid in one click ----
  function invoiceAction(inv, action) {
    const res = $("inv-result");
    res.textContent = action === "pay" ? "Paying…" : "Accepting…";
    res.className = "result";
    post("/web/invoice", { invoice: inv.id, action: action, passphrase: $("inv-pass").value })
      .then(function (r) {
        res.textContent = (action === "pay" ? "Paid " + r.amount + " " + S.unit + " of invoice " :
          "Accepted invoice ") + inv.reference + "; it counts from the next block.";
        res.className = "result ok";
      }, function (e) {
        res.textContent = e.message;
        res.className = "result error";
      });
  }
  function loadInvoices() {
    if (!S.me) return Promise.resolve();
    return rpc("invoices", { member: S.me.id }).then(function (list) {
      const owed = $("inv-owed"), issued = $("inv-issued");
      owed.replaceChildren();
      issued.replaceChildren();
      list.slice().reverse().forEach(function (inv) {
        const cells = [inv.reference, units(inv.amount), units(inv.residual),
                       inv.due ? utc(inv.due) : "-", inv.status];
        if (inv.debtor === S.me.id) {
          const act = el("span");
          const add = function (label, action) {
            const b = el("button", label);
            b.type = "button";
            b.className = "inv-" + action;
            b.addEventListener("click", function () { invoiceAction(inv, action); });
            act.appendChild(b);
          };
          if (inv.status === "issued" || inv.status === "disputed") add("Accept", "accept");
          else if (inv.status === "accepted" && inv.residual > 0) add("Pay " + units(inv.residual), "pay");
          const tr = row([who(inv.issuer)].concat(cells, [act]), [null, null, "num", "num", null, null, null]);
          tr.dataset.reference = inv.reference;
          owed.appendChild(tr);
        } else {
          issued.appendChild(row([who(inv.debtor)].concat(cells), [null, null, "num", "num", null, null]));
        }
      });
    });
  }

  // ---- agreements: pool, rule, payout table ----
  function ruleWords(r) {
    if (!r) return "?";
    if (r.kind === "weights") return "fixed weights " + r.weights.join(":");
    if (r.kind === "pro-rata") return "pro rata to the contributions";
    if (r.kind === "shapley") return "Shapley value of the declared coalitions";
    return r.kind;
  }
  function loadAgreements() {
    if (!S.me) return Promise.resolve();
    return rpc("agreements", { member: S.me.id }).then(function (list) {
      const box = $("agreement-list");
      box.replaceChildren();
      if (!list.length) box.appendChild(el("p", "You are a party to no agreement yet.", "hint"));
      list.forEach(function (a) {
        const sec = el("div", null, "agreement");
        sec.dataset.agreement = a.id;
        sec.appendChild(el("h2", a.title + " (" + a.label + ")"));
        sec.appendChild(el("p", a.status + "; pool " + units(a.pool) + "; shared by " + ruleWords(a.rule) +
          "; settlements so far: " + a.settlements, "hint"));
        const t = el("table", null, "rows");
        const head = el("thead");
        head.appendChild(row(["Party", "Contributed", "Received", "Share of the pool now"],
                             [null, "num", "num", "num"]));
        t.appendChild(head);
        const body = el("tbody");
        a.parties.forEach(function (p) {
          body.appendChild(row([who(p.member), units(p.contributed), units(p.received),
                                p.share_of_pool === undefined ? "-" : units(p.share_of_pool)],
                               [null, "num", "num", "num"]));
        });
        t.appendChild(body);
        sec.appendChild(t);
        box.appendChild(sec);
      });
    });
  }

  // ---- proposals and votes ----
  function actionWords(a) {
    if (!a) return "?";
    const parts = [a.action || a.kind || "?"];
    ["name", "member", "param", "value", "credit_limit"].forEach(function (k) {
      if (a[k] !== undefined) parts.push(k + " " + (k === "member" ? who(a[k]) : a[k]));
    });
    return parts.join(", ");
  }
  function loadProposals() {
    return rpc("proposals", {}).then(function (list) {
      const tb = $("proposal-rows");
      tb.replaceChildren();
      list.slice().reverse().forEach(function (p) {
        const buttons = document.createElement("span");
        if (p.status === "open") {
          [["yes", true], ["no", false]].forEach(function (b) {
            const btn = el("button", "Vote " + b[0]);
            btn.type = "button";
            btn.className = "vote-" + b[0];
            btn.dataset.proposal = p.id;
            btn.addEventListener("click", function () { vote(p.id, b[1]); });
            buttons.appendChild(btn);
          });
        }
        const tr = row([p.id.slice(0, 8), actionWords(p.action), who(p.proposer),
                        p.yes + " yes, " + p.no + " no", p.status, buttons]);
        tr.dataset.proposal = p.id;
        tb.appendChild(tr);
      });
    });
  }
  function vote(id, yes) {
    const res = $("vote-result");
    res.textContent = "Voting…";
    res.className = "result";
    post("/web/vote", { proposal: id, approve: yes, passphrase: $("vote-pass").value }).then(function () {
      res.textContent = "Your vote " + (yes ? "yes" : "no") + " on " + id.slice(0, 8) + " was sent; it counts from the next block.";
      res.className = "result ok";
    }, function (e) {
      res.textContent = e.message;
      res.className = "result error";
    });
  }

  // ---- notifications ----
  function note(text) {
    const li = el("li");
    li.appendChild(el("span", utc(Date.now()), "when"));
    li.appendChild(el("span", text, "what"));
    $("notes").prepend(li);
    // a page open for hours keeps the latest 200 (memory stays bounded)
    while ($("notes").children.length > 200) $("notes").lastChild.remove();
    S.notes++;
    $("note-count").textContent = "(" + S.notes + ")";
  }
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 300);
  }
  let events = null;
  function listen() {
    if (events) events.close();
    events = new EventSource("/events");
    events.onopen = function () { $("live").textContent = "live"; $("live").className = "live on"; };
    events.onerror = function () {
      $("live").textContent = "reconnecting…";
      $("live").className = "live";
      if (events.readyState === EventSource.CLOSED && !S.out)
        setTimeout(function () { session().then(listen, function () {}); }, 5000);
    };
    events.addEventListener("payment", function (m) {
      const d = JSON.parse(m.data);
      note("Payment received: " + units(d.amount) + " from " + who(d.from.id) + (d.memo ? ": " + d.memo : ""));
      refreshSoon();
    });
    events.addEventListener("invoice", function (m) {
      const d = JSON.parse(m.data);
      note("Invoice received: " + units(d.amount) + " from " + who(d.from.id) + ": see Invoices");
      refreshSoon();
    });
    events.addEventListener("proposal", function (m) {
      const d = JSON.parse(m.data);
      note("A proposal was opened by " + who(d.from.id) + ": see Proposals");
      refreshSoon();
    });
    events.addEventListener("settled", function (m) {
      const d = JSON.parse(m.data);
      note("An agreement of yours was settled: " + d.agreement.slice(0, 8));
      refreshSoon();
    });
    events.addEventListener("signature", function (m) {
      const d = JSON.parse(m.data);
      note("Signature requested by " + who(d.from.id) + " for transaction " + d.id.slice(0, 12) + "…: see To sign");
      refreshSoon();
    });
    events.addEventListener("health", function (m) {
      const d = JSON.parse(m.data);
      note("The node's health is now " + d.state + (d.reason ? ": " + d.reason : ""));
      refreshSoon();
    });
    events.addEventListener("block", function (m) {
      S.lastBlock = JSON.parse(m.data).height;
      const txs = JSON.parse(m.data).txs;
      if (current() !== "auditor") { if (txs > 0) refreshSoon(); return; }
      if (S.out) return;
      loadLedgerState().catch(function (e) { showError(e.message); });
      if (txs > 0) auditorSoon();
    });
  }

  // ---- the network (operator) ----
  function sample(list, v) { list.push(v); if (list.length > 120) list.shift(); }
  function loadStatus() {
    return rpc("status", {}).then(function (s) {
      sample(S.samples.height, s.height);
      sample(S.samples.mempool, s.mempool_size);
      sample(S.samples.age, Math.round(s.health.last_block_age_ms / 1000));
      $("op-health").textContent = s.health.state;
      $("op-health").className = "big health-" + s.health.state;
      $("op-reason").textContent = s.health.reason;
      $("op-height").textContent = s.height;
      $("op-mempool").textContent = s.mempool_size + " (" + s.mempool_bytes + " bytes)";
      $("op-peers").textContent = s.peers;
      return s;
    });
  }
  function loadOperator() {
    return loadStatus().then(function (s) {
      KulaCharts.line($("chart-height"), S.samples.height);
      KulaCharts.line($("chart-mempool"), S.samples.mempool);
      KulaCharts.line($("chart-age"), S.samples.age);
      const heights = [];
      for (let h = s.height; h >= 1 && heights.length < 10; h--) heights.push(h);
      return Promise.all([rpc("peers", {})].concat(heights.map(function (h) { return rpc("block", { height: h, limit: 0 }); })));
    }).then(function (x) {
      const peers = x[0], blocks = x.slice(1);
      const pt = $("op-peer-rows");
      pt.replaceChildren();
      peers.forEach(function (p) { pt.appendChild(row([p.addr, p.direction, p.height, p.score], [null, null, "num", "num"])); });
      if (!peers.length) pt.appendChild(row(["no peer connected", "", "", ""]));
      const bt = $("op-blocks");
      bt.replaceChildren();
      const last = {}, vote = {};
      blocks.forEach(function (b) {
        bt.appendChild(row([b.height, utc(b.time_ms), who(b.proposer), b.ntxs], ["num", null, null, "num"]));
        if (last[b.proposer] === undefined) last[b.proposer] = b.height;
        // the precommits that finalised its parent: each validator's last vote
        const lc = b.last_commit;
        if (lc) lc.signers.forEach(function (v) {
          if (vote[v] === undefined || lc.height > vote[v].height) vote[v] = lc;
        });
      });
      const vt = $("op-validators");
      vt.replaceChildren();
      S.members.filter(function (m) { return m.voting_power > 0; }).forEach(function (m) {
        const v = vote[m.id];
        vt.appendChild(row([who(m.id), m.voting_power,
          v ? "precommit for height " + v.height + " (round " + v.round + ")" : "none in the last 10 blocks",
          last[m.id] !== undefined ? "height " + last[m.id] : "none in the last 10 blocks"], [null, "num", null, null]));
      });
    });
  }

  // ---- auditor ----
  // The value flows of a transaction between two members, as kula report
  // counts them (include/kula/audit/analytics.h): a transfer's amount; each
  // side of an exchange hands over max(gives, receives).
  function flows(t) {
    if (t.kind === "transfer" && t.from !== t.to) return [[t.from, t.to, t.amount]];
    if (t.kind === "exchange" && t.from !== t.counterparty) {
      const v = Math.max(t.gives_value || 0, t.receives_value || 0);
      return [[t.from, t.counterparty, v], [t.counterparty, t.from, v]];
    }
    return [];
  }
  function auditVerdict(st, sum) {
    if (sum !== 0)
      return "Not consistent: the balances sum to " + units(sum) + ", not 0. Stop trading on this " +
        "node and run kula audit on its data directory.";
    return "Consistent: the balances sum to 0 (read at height " + st.height + "), as mutual credit must. " +
      "A sum alone is not a verification: verify from the genesis below.";
  }
  // The ledger's state: on every block while the page shows (one request).
  // Loads overlap (a block arrives while one runs): only the latest one
  // started may draw, so an older answer never hides a newer one.
  let auditorGen = 0, stateGen = 0, auditedAt = 0, auditTimer = null;
  // the whole page again after new transactions, at most every 10 s: for
  // 200 members it is 202 requests
  function auditorSoon() {
    if (auditTimer) return;
    auditTimer = setTimeout(function () {
      auditTimer = null;
      if (current() === "auditor") refresh();
    }, Math.max(300, auditedAt + 10000 - Date.now()));
  }
  function showLedgerState(st) {
    $("au-height").textContent = st.height;
    $("au-tip-time").textContent = st.height ? "made " + utc(st.tip_time_ms) + " UTC" : "no block yet";
    $("au-tip").textContent = st.tip_hash;
    $("au-root").textContent = st.state_root;
  }
  function loadLedgerState() {
    const gen = ++stateGen;
    return rpc("ledger_state", {}).then(function (st) { if (gen === stateGen) showLedgerState(st); });
  }
  // The figures drawn: f = { source, members (count), pairs [{a, b, value}],
  // volume, txs, days [{day, transactions, volume}], givers and partners
  // [{id, name, value}], graph [{id, label}] }.
  function drawFigures(f) {
    const n = f.members, possible = n * (n - 1) / 2;
    const label = function (m) { return m.name ? "#" + m.id + " " + m.name : who(m.id); };
    f.pairs.forEach(function (p) { p.words = units(p.value); });
    $("au-figures-source").textContent = f.source;
    $("au-figures-source").className = f.verified ? "verdict result ok" : "hint";
    $("au-pairs").textContent = f.pairs.length;
    $("au-density").textContent = "density " + (possible ? (100 * f.pairs.length / possible).toFixed(1) : "0") +
      "% of the " + possible + " possible pairs";
    $("au-volume").textContent = units(f.volume);
    $("au-volume-words").textContent = f.txs + " transactions counted " + f.counted;
    KulaCharts.graph($("au-graph"), f.graph, f.pairs);
    const days = f.days.slice(-30);
    KulaCharts.bars($("au-chart-volume"), days.map(function (d) { return d.day; }),
                    days.map(function (d) { return d.volume; }), days.map(function (d) { return units(d.volume); }));
    KulaCharts.bars($("au-chart-txs"), days.map(function (d) { return d.day; }),
                    days.map(function (d) { return d.transactions; }), days.map(function (d) { return String(d.transactions); }));
    KulaCharts.bars($("au-chart-given"), f.givers.map(label), f.givers.map(function (m) { return m.value; }),
                    f.givers.map(function (m) { return units(m.value); }));
    KulaCharts.bars($("au-chart-partners"), f.partners.map(label), f.partners.map(function (m) { return m.value; }),
                    f.partners.map(function (m) { return String(m.value); }));
  }
  // The figures of the node's audit (audit_status's "figures").
  function verifiedFigures(st) {
    const g = st.figures, r = st.result;
    return { verified: true, members: g.members, pairs: g.graph.pairs, volume: g.volume, txs: g.transactions,
      counted: "(the whole ledger, up to height " + g.height + ")",
      source: "These figures come from the whole ledger, verified: the node replayed all " + num(r.blocks) +
        " blocks up to height " + num(g.height) + " after checking every one of them.",
      days: g.days, givers: g.givers, partners: g.partners,
      graph: g.graph.members.map(function (m) { return { id: m.id, label: "#" + m.id + " " + m.name }; }) };
  }
  function loadAuditor() {
    const gen = ++auditorGen, sgen = ++stateGen;
    auditedAt = Date.now();
    const latest = function () { return gen === auditorGen; };
    return Promise.all([rpc("ledger_state", {}), loadMembers(), rpc("audit_status", {})]).then(function (x) {
      if (!latest()) return null;
      const st = x[0], ms = S.members.slice(0, 200);
      let sum = 0;
      S.members.forEach(function (m) { sum += m.balance; });
      if (sgen === stateGen) showLedgerState(st);
      showAudit(x[2]);
      $("au-verdict").textContent = auditVerdict(st, sum);
      $("au-verdict").className = "verdict " + (sum === 0 ? "result ok" : "error");
      $("au-members").textContent = S.members.length + (S.members.length > 200 ? " (the first 200 drawn)" : "");
      $("au-sum").textContent = units(sum);
      $("au-sum-words").textContent = sum === 0 ? "0, as mutual credit must: every payment moves credit between members" : "not 0: the ledger is inconsistent";
      KulaCharts.bars($("au-balances"), ms.map(function (m) { return who(m.id); }),
                      ms.map(function (m) { return m.balance; }), ms.map(function (m) { return units(m.balance); }));
      if (x[2].figures) return null; // the whole ledger's, drawn by showAudit
      return Promise.all(ms.map(function (m) { return rpc("history", { member: m.id, limit: 50 }); }));
    }).then(function (hs) {
      if (hs === null || !latest() || auditFigures) return;
      const ms = S.members.slice(0, 200);
      const seen = {}, pairs = {}, given = {}, partners = {}, days = {};
      let volume = 0, txs = 0;
      hs.forEach(function (h) {
        h.entries.forEach(function (e) {
          if (!e.id || seen[e.id]) return; // a clearing's payment is no transaction
          seen[e.id] = 1;
          txs++;
          const day = utc(e.time_ms).slice(0, 10);
          if (!days[day]) days[day] = { day: day, transactions: 0, volume: 0 };
          days[day].transactions++;
          flows(e.tx || {}).forEach(function (f) {
            const a = Math.min(f[0], f[1]), b = Math.max(f[0], f[1]), k = a + "-" + b;
            if (!pairs[k]) {
              pairs[k] = { a: a, b: b, value: 0 };
              partners[a] = (partners[a] || 0) + 1; partners[b] = (partners[b] || 0) + 1;
            }
            pairs[k].value += f[2];
            given[f[0]] = (given[f[0]] || 0) + f[2];
            days[day].volume += f[2];
            volume += f[2];
          });
        });
      });
      const top = function (by) {
        return ms.filter(function (m) { return by[m.id]; })
          .sort(function (p, q) { return by[q.id] - by[p.id] || p.id - q.id; }).slice(0, 15)
          .map(function (m) { return { id: m.id, value: by[m.id] }; });
      };
      drawFigures({ verified: false, members: S.members.length, volume: volume, txs: txs,
        pairs: Object.keys(pairs).map(function (k) { return pairs[k]; }),
        counted: "(each member's latest 50)",
        source: "Quick figures, not verified: from each member's latest 50 entries, for the first 200 " +
          "members.  Verify from the genesis for the figures of the whole ledger.",
        days: Object.keys(days).sort().map(function (d) { return days[d]; }),
        givers: top(given), partners: top(partners),
        graph: ms.map(function (m) { return { id: m.id, label: who(m.id) }; }) });
    });
  }

  // ---- the node's audit from the genesis (JSON-RPC audit, audit_status) ----
  // What each failed check means (kula_audit_check_name, include/kula/audit/audit.h).
  const CHECK_WORDS = {
    store: "a block is missing or cannot be read",
    decode: "a block or a transaction in it does not decode",
    link: "the block's link to its parent (network, height, previous hash, time or proposer)",
    txs_root: "the block's transactions root",
    commit: "a commit: its hash, the 2/3 of voting power or a precommit signature",
    signature: "a transaction's signature or its set of signers",
    transaction: "a transaction breaks a ledger rule",
    state_root: "the state root after the block",
    distribution: "a settlement's shares, recomputed apart from the ledger",
    internal: "the audit itself could not go on"
  };
  let auditPoll = null, auditFigures = null;
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function pollAudit() {
    if (auditPoll) return;
    auditPoll = setTimeout(function () {
      rpc("audit_status", {}).then(function (st) {
        auditPoll = null;
        showAudit(st);
      }, function (e) { auditPoll = null; showError(e.message); });
    }, 500);
  }
  function showAudit(st) {
    const v = $("au-audit"), c = $("au-audit-checked"), b = $("au-verify");
    b.disabled = st.state === "running";
    if (st.state === "none") {
      v.textContent = "Not verified yet by the node: press \u201cVerify from the genesis\u201d.";
      v.className = "verdict";
      c.textContent = "";
      return;
    }
    if (st.state === "running") {
      v.className = "verdict";
      v.textContent = st.phase === "figures"
        ? "Every block verified; now counting the report's figures over the whole ledger: block " +
          num(st.height) + " of " + num(st.of) + "."
        : "Verifying from the genesis: verified " + num(st.height) + " of " + num(st.of) + " blocks.";
      c.textContent = "";
      pollAudit();
      return;
    }
    const r = st.result;
    if (!r) {
      v.textContent = "The audit was stopped before it finished (the node is shutting down).";
      v.className = "verdict error";
      return;
    }
    if (r.ok) {
      v.textContent = "Verified from the genesis: all " + num(r.blocks) + " blocks up to height " +
        num(r.tip_height) + " hold.  It reached tip hash " + r.tip_hash + " and state root " + r.state_root + ".";
      v.className = "verdict result ok";
      c.textContent = "Checked: every transaction signature (" + num(r.tx_signatures) + "), every commit (" +
        num(r.commit_signatures) + " precommit signatures), every block's link to its parent and " +
        "transactions root, every ledger rule for " + num(r.transactions) + " transactions, every state root, " +
        "and every settlement's shares (" + num(r.settlements) + "), in " + r.seconds.toFixed(1) + " s.";
    } else {
      const f = r.failure;
      v.textContent = "NOT verified: block " + num(f.height) + " fails the check of " +
        (CHECK_WORDS[f.check] || f.check) + " (" + f.check + "): " + f.error + ".  Do not trust " +
        "this node's ledger from that block on; run kula audit on its data directory and compare " +
        "with another node's.";
      v.className = "verdict error";
      c.textContent = r.tip_height > 0
        ? "Blocks 1 to " + num(r.tip_height) + " passed every check (tip hash " + r.tip_hash +
          ", state root " + r.state_root + ")."
        : "No block before it: the genesis state root is " + r.state_root + ".";
    }
    if (st.figures && current() === "auditor") {
      auditFigures = st;
      drawFigures(verifiedFigures(st));
    }
  }
  function startAudit() {
    $("au-verify").disabled = true;
    rpc("audit", {}).then(showAudit, function (e) { $("au-verify").disabled = false; showError(e.message); });
  }

  // ---- pages ----
  const pages = { account: loadAccount, history: function () { return Promise.all([loadHistory(false), loadStatement()]); }, pay: null,
                  sign: loadRequests, invoices: loadInvoices, agreements: loadAgreements, proposals: loadProposals, notes: null, operator: loadOperator, auditor: loadAuditor };
  function current() {
    const p = location.hash.slice(1);
    return pages.hasOwnProperty(p) ? p : "account";
  }
  function show() {
    const p = current();
    document.querySelectorAll(".page").forEach(function (s) { s.hidden = s.id !== "page-" + p; });
    document.querySelectorAll("#tabs a").forEach(function (a) { a.classList.toggle("active", a.getAttribute("href") === "#" + p); });
    refresh();
  }
  function refresh() {
    if (S.out) return;
    const f = pages[current()];
    const job = (current() === "account" || current() === "pay" ? loadMembers().then(loadMe) : Promise.resolve())
      .then(function () { return f ? f() : null; });
    job.then(function () { showError(""); }, function (e) { showError(e.message); });
  }

  function start() {
    $("pay-form").addEventListener("submit", pay);
    $("feedback-form").addEventListener("submit", feedback);
    $("sign-open").addEventListener("submit", openFile);
    $("sign-form").addEventListener("submit", signIt);
    $("history-filter").addEventListener("input", drawHistory);
    $("history-filter").addEventListener("submit", function (e) { e.preventDefault(); });
    $("stmt-form").addEventListener("submit", startStatement);
    $("history-more").addEventListener("click", function () { loadHistory(true).catch(function (e) { showError(e.message); }); });
    $("relogin").addEventListener("submit", relogin);
    $("au-verify").addEventListener("click", startAudit);
    $("logout").addEventListener("click", function () {
      post("/web/logout", {}).finally(function () { loggedOut("You logged out. 'kula web' prints a new login address."); if (events) events.close(); });
    });
    window.addEventListener("hashchange", show);
    session().then(function () {
      return loadMembers().then(loadMe);
    }).then(function () {
      listen();
      show();
    }, function (e) {
      showError(e.message);
      if (!S.out) { listen(); show(); }
    });
    // the session ends 30 minutes after the last request: keep it while the page is open
    setInterval(function () { if (!S.out) session().catch(function () {}); }, 5 * 60 * 1000);
    // the console's charts sample every 5 s
    setInterval(function () {
      if (S.out) return;
      if (current() === "operator") loadOperator().catch(function (e) { showError(e.message); });
      else loadStatus().catch(function () {});
    }, 5000);
  }
  start();
})();
