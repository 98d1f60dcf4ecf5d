// Live risk warning board. Plain JS, no libraries, no network beyond this server.
// All text reaches the DOM through textContent: nothing from a warning is parsed as HTML.
"use strict";
(function () {
  const SEVERITIES = ["red", "orange", "yellow", "blue"];
  const STORM_RULE = "reliability.storm_mode";
  const RESYNC_MS = 30000;        // reconcile against /api/warnings this often
  const GRACE_MS = 10000;         // a card newer than this is kept even when a snapshot lacks it
  const TL_LIST_MAX = 60;
  const RESYNC_MIN_MS = 10000;    // a reconnect reloads the list at most this often (a storm of reconnects costs one)
  const GONE_MAX = 5000;          // resolved fingerprints remembered (a 24/7 display sees millions)
  const GONE_MS = 15 * 60000;     // ... and for this long: a late snapshot or event comes within seconds
  const HISTORY_MAX = 50000;      // timeline entries kept (as the server keeps)
  const RETRY_MIN_MS = 5000, RETRY_MAX_MS = 60000;  // the feed refused (full, logged out): try again

  const L = {
    en: {
      title: "Risk warning board", connecting: "connecting…", live: "live", reconnecting: "reconnecting…",
      district: "District", severity: "Severity", category: "Risk category", all: "all",
      sev_red: "red", sev_orange: "orange", sev_yellow: "yellow", sev_blue: "blue",
      timeline: "Last 24 hours", none_firing: "No warnings firing.", ack_title: "Acknowledge warning",
      token: "API token", ack_by: "Acknowledged by", note: "Note", cancel: "Cancel", acknowledge: "Acknowledge",
      firing: "firing", shown: "shown", firing_for: "firing for", since: "since", value: "value",
      threshold: "threshold", plan: "Response plan", not_acked: "not acknowledged", acked: "acknowledged",
      acked_by: "acknowledged by", at: "at", ack_sent: "acknowledgement sent…", suppressed: "suppressed",
      flapping: "flapping", storm: "STORM MODE", storm_in: "storm mode in district", wrong_token: "wrong token",
      err: "error", lang: "中文", login_title: "Sign in to the board", login: "Sign in", logout: "Sign out",
      login_hint: "A read or acknowledging token.", ack_as: "acknowledging as", read_only: "this token may only read",
      cat_coordination: "coordination", cat_staff_conduct: "staff conduct", cat_staff_skill: "staff skill",
      cat_follow_up: "follow-up", cat_fee_recovery: "fee recovery", cat_equipment: "equipment",
      tr_raised: "raised", "tr_escalated": "escalated", "tr_de-escalated": "de-escalated", tr_resolved: "resolved",
      district_id: "district", ticket_id: "ticket", outage_id: "outage", feeder_id: "feeder", account_id: "account",
      staff_id: "staff", crew_id: "crew", esc_unack: "escalated: not acknowledged",
      held: "held back", held_storm_mode: "storm mode", held_silence: "silenced", held_maintenance: "maintenance",
      held_note: "no notification is sent while it is held back; it stays on the board",
      storm_for: "for", storm_held: "warnings held back", clock_event: "event time",
    },
    zh: {
      title: "风险预警看板", connecting: "连接中…", live: "实时", reconnecting: "重新连接中…",
      district: "区域", severity: "级别", category: "风险类别", all: "全部",
      sev_red: "红色", sev_orange: "橙色", sev_yellow: "黄色", sev_blue: "蓝色",
      timeline: "最近24小时", none_firing: "当前无预警。", ack_title: "确认预警",
      token: "API 令牌", ack_by: "确认人", note: "备注", cancel: "取消", acknowledge: "确认",
      firing: "预警中", shown: "显示", firing_for: "已持续", since: "开始于", value: "当前值",
      threshold: "阈值", plan: "处置预案", not_acked: "未确认", acked: "已确认",
      acked_by: "确认人", at: "时间", ack_sent: "确认已提交…", suppressed: "已抑制",
      flapping: "频繁变化", storm: "风暴模式", storm_in: "风暴模式：区域", wrong_token: "令牌错误",
      err: "错误", lang: "English", login_title: "登录看板", login: "登录", logout: "退出",
      login_hint: "只读或确认令牌。", ack_as: "确认人", read_only: "此令牌只能查看",
      cat_coordination: "协同配合", cat_staff_conduct: "人员行为", cat_staff_skill: "人员技能",
      cat_follow_up: "回访跟进", cat_fee_recovery: "电费回收", cat_equipment: "设备",
      tr_raised: "触发", "tr_escalated": "升级", "tr_de-escalated": "降级", tr_resolved: "解除",
      district_id: "区域", ticket_id: "工单", outage_id: "停电", feeder_id: "线路", account_id: "户号",
      staff_id: "员工", crew_id: "班组", esc_unack: "未确认而升级",
      held: "暂缓通知", held_storm_mode: "风暴模式", held_silence: "静默", held_maintenance: "检修",
      held_note: "暂缓期间不发送通知，预警仍在看板上显示",
      storm_for: "已持续", storm_held: "暂缓通知的预警", clock_event: "事件时间",
    },
  };
  let lang = (localStorage.getItem("board.lang") === "zh") ? "zh" : "en";
  const t = (k) => (L[lang][k] !== undefined ? L[lang][k] : k);

  const $ = (id) => document.getElementById(id);
  const lanes = {};
  SEVERITIES.forEach((s) => { lanes[s] = $("lane-" + s); });

  // fingerprint -> {w, ack, seq, at (ms received), el, r (element refs), shownSev}
  const cards = new Map();
  const gone = new Map();           // fingerprint -> {seq, at} of its resolution (a late snapshot must not revive it)
  const history = [];               // timeline entries {t (ms), severity, status, transition, rule_id, district_id, summary, summary_zh, fingerprint}
  const historyIds = new Set();
  const districts = new Set();
  const categories = new Set();
  const filter = { district: "", severity: "", category: "" };
  const metrics = { applied: 0, flushes: 0, flushMs: 0, lastAppliedAt: 0, firstRenderMs: null, snapshotCount: 0 };
  window.__board = { cards, metrics, history, gone, historyIds, bounds: { GONE_MAX, GONE_MS, HISTORY_MAX } };

  function seqOf(w) {
    const id = String(w.warning_id || "");
    const n = parseInt(id.slice(id.lastIndexOf("-") + 1), 10);
    return Number.isFinite(n) ? n : 0;
  }
  function ms(s) { const v = Date.parse(s); return Number.isFinite(v) ? v : 0; }
  function setText(el, v) { if (el.textContent !== v) el.textContent = v; }
  function el(tag, cls, parent) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  // One formatter per language: toLocaleString() builds a new one per call, far too slow for 1000 cards.
  const FMT = {};
  function fmtTime(s) {
    const d = new Date(s);
    if (!Number.isFinite(d.getTime())) return "";
    const f = FMT[lang] || (FMT[lang] = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB",
      { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }));
    return f.format(d);
  }
  function fmtDur(sec) {
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    if (lang === "zh") return (d ? d + "天" : "") + (d || h ? h + "小时" : "") + m + "分" + (d ? "" : s + "秒");
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m" + (d ? "" : " " + s + "s");
  }
  // ---- the service's clock: ages and the timeline are measured on it, not on this browser's -----------
  // Wall time on a live worker (let it run between updates: it ticks every second), the event-time
  // watermark on a replay (shown as the server last said: it moves only as the stream's events do).
  const clock = { server: null, at: 0, mode: "wall", newest: 0 };
  function noteClock(c, authoritative) {
    if (!c) return false;
    const mode = c.mode === "event" ? "event" : (c.mode === "wall" ? "wall" : clock.mode);
    if (typeof c.clock !== "number" || !Number.isFinite(c.clock)) {
      if (authoritative && c.mode) clock.mode = mode;   // the mode is known before the clock is
      return false;
    }
    const v = c.clock * 1000;
    // a snapshot or history body may be older than the live feed's last clock event: never step back for it
    if (!authoritative && clock.server !== null && mode === clock.mode && v <= serviceNow()) return false;
    clock.server = v; clock.at = Date.now(); clock.mode = mode;
    return true;
  }
  function serviceNow() {
    // not known yet: on the event clock, the newest change seen is the best guess (not this browser's time)
    if (clock.server === null) return clock.mode === "event" && clock.newest ? clock.newest : Date.now();
    return clock.mode === "wall" ? clock.server + (Date.now() - clock.at) : clock.server;
  }
  window.__board.serviceNow = serviceNow;
  window.__board.clock = clock;

  function num(v) { return (typeof v === "number") ? (Math.round(v * 100) / 100).toString() : String(v); }

  // ---- cards ---------------------------------------------------------------------------------
  function buildCard(fp) {
    const root = el("article", "card");
    root.dataset.fp = fp;
    const hd = el("div", "hd", root);
    const r = {};
    r.sev = el("span", "sev", hd);
    r.rule = el("span", "rule", hd);
    r.cat = el("span", "cat", hd);
    r.supp = el("span", "flag supp", hd);
    r.flap = el("span", "flag flap", hd);
    r.summary = el("p", "summary", root);
    r.scope = el("div", "scope", root);
    r.metric = el("div", "metric", root);
    const ageRow = el("div", "age", root);
    r.ageLabel = el("span", "", ageRow);
    r.age = el("span", "dur", ageRow);
    r.since = el("span", "since", ageRow);
    r.suppBy = el("div", "supp-by", root);
    const det = el("details", "", root);
    r.planLabel = el("summary", "", det);
    r.plan = el("p", "plan", det);
    const al = el("div", "ackline", root);
    r.ackinfo = el("span", "ackinfo", al);
    r.ackbtn = el("button", "ackbtn", al);
    r.ackbtn.type = "button";
    return { root, r };
  }

  function renderCard(c) {
    const w = c.w, r = c.r;
    const acked = !!(c.ack || w.acknowledged);
    c.el.className = "card sev-" + w.severity + (acked ? " acked" : "") + (w.suppressed ? " suppressed" : "");
    setText(r.sev, t("sev_" + w.severity));
    setText(r.rule, w.rule_id);
    setText(r.cat, t("cat_" + w.risk_category));
    setText(r.supp, w.suppressed ? heldText(w.suppressed_by) : "");
    r.supp.hidden = !w.suppressed;
    setText(r.flap, w.flapping ? t("flapping") : "");
    r.flap.hidden = !w.flapping;
    setText(r.summary, (lang === "zh" ? w.summary_zh : w.summary) || w.summary || "");
    const sc = w.scope || {};
    setText(r.scope, Object.keys(sc).map((k) => t(k) + " " + sc[k]).join(" · "));
    const m = w.metric || {};
    setText(r.metric, t("value") + " " + num(m.value) + " / " + t("threshold") + " " + num(m.threshold) + " " + (m.unit || "")
      + (w.escalation_reason === "unacknowledged" ? " · " + t("esc_unack") : ""));
    setText(r.suppBy, w.suppressed ? t("held_note") : "");
    r.suppBy.hidden = !w.suppressed;
    setText(r.planLabel, t("plan"));
    setText(r.plan, w.response_plan || "");
    let ai;
    if (c.ack) ai = t("acked_by") + " " + c.ack.by + " " + t("at") + " " + fmtTime(c.ack.at);
    else if (w.acknowledged) ai = t("acked");
    else if (c.ackSent) ai = t("ack_sent");
    else ai = t("not_acked");
    setText(r.ackinfo, ai);
    setText(r.ackbtn, t("acknowledge"));
    setText(r.ageLabel, t("firing_for") + " ");
    setText(r.since, " (" + t("since") + " " + fmtTime(w.first_fired_at) + ")");
    c.first = ms(w.first_fired_at);
    renderAge(c, serviceNow());
  }

  // "held back: storm mode" (suppressed_by: storm_mode, silence:<comment>, maintenance:<comment>)
  function heldText(reasons) {
    const parts = (reasons || []).map((r) => {
      const i = String(r).indexOf(":"), kind = i < 0 ? String(r) : String(r).slice(0, i), note = i < 0 ? "" : String(r).slice(i + 1);
      return t("held_" + kind) + (note ? " (" + note + ")" : "");
    });
    return t("held") + (parts.length ? (lang === "zh" ? "：" : ": ") + parts.join(lang === "zh" ? "、" : ", ") : "");
  }
  function renderAge(c, now) {
    setText(c.r.age, fmtDur((now - c.first) / 1000));
  }

  function matches(w) {
    return (!filter.district || (w.scope && w.scope.district_id) === filter.district)
      && (!filter.severity || w.severity === filter.severity)
      && (!filter.category || w.risk_category === filter.category);
  }

  function noteFacets(w) {
    const d = w.scope && w.scope.district_id;
    if (d && !districts.has(d)) { districts.add(d); addOption($("f-district"), d, d); }
    if (w.risk_category && !categories.has(w.risk_category)) {
      categories.add(w.risk_category);
      addOption($("f-category"), w.risk_category, t("cat_" + w.risk_category), "cat_" + w.risk_category);
    }
  }
  function addOption(sel, value, label, i18n) {
    const o = document.createElement("option");
    o.value = value; o.textContent = label;
    if (i18n) o.dataset.i18n = i18n;
    // keep options sorted (after "all")
    let before = null;
    for (let i = 1; i < sel.options.length; i++) { if (sel.options[i].value > value) { before = sel.options[i]; break; } }
    sel.insertBefore(o, before);
  }

  let stormDirty = false, countsDirty = false;

  function upsert(w, ack, fromSnapshot) {
    const fp = w.fingerprint, seq = seqOf(w), at = ms(w.changed_at);
    if (at > clock.newest) clock.newest = at;
    const g = gone.get(fp);
    if (g && g.seq >= seq) return;
    let c = cards.get(fp);
    if (c && seq < c.seq) return;                 // older than what is shown
    if (!c) {
      const b = buildCard(fp);
      c = { w, ack: null, seq, at: Date.now(), el: b.root, r: b.r, lane: null };
      cards.set(fp, c);
      countsDirty = true;
    }
    c.w = w; c.seq = seq; c.at = Date.now();
    if (ack !== undefined) c.ack = ack;
    if (c.ack) c.ackSent = false;
    noteFacets(w);
    renderCard(c);
    c.el.hidden = !matches(w);
    if (c.lane !== w.severity) {                  // new or changed severity: newest first in its lane
      lanes[w.severity].prepend(c.el);
      c.lane = w.severity;
      countsDirty = true;
    } else if (!fromSnapshot && c.el.parentNode) {
      lanes[w.severity].prepend(c.el);
    }
    if (w.rule_id === STORM_RULE) stormDirty = true;
  }

  function remove(fp, seq) {
    const g = gone.get(fp);
    gone.delete(fp);                              // re-inserted last: the Map stays oldest first
    gone.set(fp, { seq: Math.max(seq, g ? g.seq : 0), at: Date.now() });
    pruneGone(Date.now());
    const c = cards.get(fp);
    if (!c) return;
    if (c.w.rule_id === STORM_RULE) stormDirty = true;
    c.el.remove();
    cards.delete(fp);
    countsDirty = true;
  }

  // Bounded memory of resolutions: the oldest go first, and none is kept longer than GONE_MS.
  function pruneGone(now) {
    for (const [fp, g] of gone) {
      if (gone.size <= GONE_MAX && now - g.at < GONE_MS) break;
      gone.delete(fp);
    }
  }
  window.__board.pruneGone = pruneGone;

  function applyWarning(w) {
    if (!w || !w.fingerprint) return;
    addHistory(w);
    if (w.status === "resolved") {
      const c = cards.get(w.fingerprint);
      if (!c || seqOf(w) >= c.seq) remove(w.fingerprint, seqOf(w));
    } else {
      upsert(w, undefined, false);
    }
    metrics.applied++;
  }
  window.__board.applyWarning = applyWarning;

  function applyAck(a) {
    const c = cards.get(a.fingerprint);
    if (!c) return;
    c.ack = a.ack;
    if (a.ack) c.ackSent = false;
    renderCard(c);
  }

  function refilter() {
    for (const c of cards.values()) c.el.hidden = !matches(c.w);
    countsDirty = true;
  }

  function renderCounts() {
    let shown = 0;
    for (const c of cards.values()) if (!c.el.hidden) shown++;
    setText($("counts"), cards.size + " " + t("firing") + (shown !== cards.size ? " · " + shown + " " + t("shown") : ""));
    $("empty").hidden = cards.size > 0;
  }

  // One line per district in storm mode: since when and for how long (service clock), how many of its
  // warnings are held back (suppressed: on the board, not notified).
  function renderStorm() {
    const box = $("storm");
    const storms = [], held = new Map();
    for (const c of cards.values()) {
      const w = c.w, d = w.scope && w.scope.district_id;
      if (w.rule_id === STORM_RULE) storms.push(w);
      else if (w.suppressed && (w.suppressed_by || []).includes("storm_mode")) held.set(d, (held.get(d) || 0) + 1);
    }
    storms.sort((a, b) => String(a.scope.district_id).localeCompare(String(b.scope.district_id)));
    const now = serviceNow();
    const lines = storms.map((w) => {
      const d = w.scope.district_id || "?";
      return [d, "⚠ " + t("storm_in") + " " + d + " · " + t("since") + " " + fmtTime(w.first_fired_at)
        + " (" + t("storm_for") + " " + fmtDur((now - ms(w.first_fired_at)) / 1000) + ")"
        + " · " + t("storm_held") + ": " + (held.get(d) || 0)
        + " · " + ((lang === "zh" ? w.summary_zh : w.summary) || "")];
    });
    if (box.children.length !== lines.length) {
      box.replaceChildren();
      for (let i = 0; i < lines.length; i++) el("div", "", box);
    }
    lines.forEach(([d, text], i) => { const e = box.children[i]; e.dataset.district = d; setText(e, text); });
    box.hidden = storms.length === 0;
  }

  // ---- event batching: apply what arrived once per frame ----------------------------------------
  let queue = [];
  let scheduled = false;
  let ready = false;               // the first snapshot is in; events before it wait in the queue
  function enqueue(kind, data) {
    queue.push([kind, data]);
    if (ready && !scheduled) {
      scheduled = true;
      if (document.hidden) setTimeout(flush, 0); else requestAnimationFrame(flush);
    }
  }
  function flush() {
    scheduled = false;
    const t0 = performance.now();
    const q = queue; queue = [];
    for (const [kind, data] of q) {
      if (kind === "warning") applyWarning(data); else if (kind === "ack") applyAck(data);
    }
    afterChanges();
    metrics.flushes++;
    metrics.flushMs += performance.now() - t0;
    metrics.lastAppliedAt = Date.now();
  }
  function afterChanges() {
    if (stormDirty) { stormDirty = false; renderStorm(); }
    if (countsDirty) { countsDirty = false; renderCounts(); }
    tlDirty = true;
  }

  // ---- snapshot from /api/warnings ---------------------------------------------------------------
  let syncing = false, again = false, lastSync = 0, laterSync = null;
  // After a reconnect: reload the list unless that was done moments ago, then once the interval is over.
  function resyncSoon() {
    const wait = lastSync + RESYNC_MIN_MS - Date.now();
    if (wait <= 0) { resync(); return; }
    if (!laterSync) laterSync = setTimeout(() => { laterSync = null; resync(); }, wait);
  }
  async function resync() {
    if (syncing) { again = true; return; }
    syncing = true; again = false;
    const started = Date.now();
    try {
      const [snap, hist] = await Promise.all([
        fetch("/api/warnings", { cache: "no-store" }).then((r) => {
          if (r.status === 401 || r.status === 403) throw new NeedLogin();
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        }),
        history.length ? null : fetch("/board/history", { cache: "no-store" }).then((r) => r.ok ? r.json() : null).catch(() => null),
      ]);
      lastSync = Date.now();
      const t0 = performance.now();
      if (hist) noteClock(hist, false);
      noteClock(snap, false);
      if (hist && hist.changes) for (const e of hist.changes) addHistory(e);
      const present = new Set();
      for (const w of snap.warnings || []) {
        present.add(w.fingerprint);
        const c = cards.get(w.fingerprint);
        if (c && seqOf(w) === c.seq) {
          if (JSON.stringify(c.ack) !== JSON.stringify(w.ack || null)) { c.ack = w.ack || null; renderCard(c); }
        } else {
          upsert(w, w.ack || null, true);
        }
      }
      for (const [fp, c] of cards) {        // missed a resolution: drop what the table no longer has
        if (!present.has(fp) && c.at < started - GRACE_MS) remove(fp, c.seq);
      }
      metrics.snapshotCount = (snap.warnings || []).length;
      if (!ready) {
        ready = true;
        whoami();
        flush();
        metrics.firstRenderMs = performance.now();
        metrics.firstRenderApplyMs = performance.now() - t0;
        requestAnimationFrame(() => setTimeout(() => { metrics.firstPaintedMs = performance.now(); drawTimeline(); }, 0));
      } else {
        afterChanges();
      }
    } catch (e) {
      if (e instanceof NeedLogin) showLogin(); else setTimeout(resync, 2000);
    } finally {
      syncing = false;
      if (again) resync();
    }
  }

  // ---- server-sent events ----------------------------------------------------------------------
  function NeedLogin() {}
  let source = null, retryMs = RETRY_MIN_MS;
  function connect() {
    if (source) source.close();
    const es = source = new EventSource("/board/events");
    es.addEventListener("hello", (ev) => {
      try { noteClock(JSON.parse(ev.data), true); } catch (e) { /* an older server: no clock */ }
      setConn(true); retryMs = RETRY_MIN_MS; resyncSoon();
    });
    es.addEventListener("clock", (ev) => {
      let c;
      try { c = JSON.parse(ev.data); } catch (e) { return; }
      if (noteClock(c, true) && ready) { tickAges(); clockMoved(); drawTimeline(); }
    });
    es.addEventListener("warning", (ev) => { try { enqueue("warning", JSON.parse(ev.data)); } catch (e) { /* skip */ } });
    es.addEventListener("ack", (ev) => { try { enqueue("ack", JSON.parse(ev.data)); } catch (e) { /* skip */ } });
    es.onerror = () => {
      setConn(false);
      // Refused (401 signed out, 503 full): EventSource gives up; try again later, backing off.
      if (es.readyState === EventSource.CLOSED && source === es) {
        source = null;
        const wait = retryMs * (0.5 + Math.random());
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        setTimeout(() => { if (!source) { connect(); resyncSoon(); } }, wait);
      }
    };
  }

  // Behind a single sign-on proxy the proxy adds the token: the page has none, and acknowledges as the proxy's user.
  let proxied = null;               // {role, person} when the credential came in a header the page did not send
  async function whoami() {
    try {
      const r = await fetch("/board/whoami", { cache: "no-store" });
      if (!r.ok) return;
      const j = await r.json();
      proxied = j.via === "header" ? j : null;
    } catch (e) { /* keep what was known */ }
  }

  // ---- sign in: the token buys an HttpOnly session cookie for the reads (EventSource sends no headers)
  function showLogin() {
    const d = $("login-dialog");
    if (d.open) return;
    $("login-token").value = "";
    $("login-error").textContent = "";
    d.showModal();
    $("login-token").focus();
  }
  async function submitLogin(ev) {
    ev.preventDefault();
    const token = $("login-token").value.trim();
    if (!token) return;
    let resp;
    try {
      resp = await fetch("/board/login", { method: "POST", headers: { "Authorization": "Bearer " + token } });
    } catch (e) { $("login-error").textContent = t("err"); return; }
    if (resp.status !== 200) {
      $("login-error").textContent = resp.status === 401 ? t("wrong_token") : t("err") + " " + resp.status;
      return;
    }
    const who = await resp.json();
    if (who.role === "ack") sessionStorage.setItem("board.token", token); else sessionStorage.removeItem("board.token");
    if (who.person) sessionStorage.setItem("board.by", who.person); else sessionStorage.removeItem("board.by");
    $("login-dialog").close();
    connect();
    resync();
  }
  async function logout() {
    sessionStorage.removeItem("board.token");
    sessionStorage.removeItem("board.by");
    try { await fetch("/board/logout", { method: "POST" }); } catch (e) { /* offline: the cookie lapses */ }
    if (source) { source.close(); source = null; }
    setConn(false);
    showLogin();
  }
  let connected = false;
  function setConn(on) {
    connected = on;
    const c = $("conn");
    c.className = "conn " + (on ? "on" : "off");
    c.textContent = on ? t("live") : t("reconnecting");
  }

  // ---- timeline: a 24-hour canvas strip and a list of the latest changes -------------------------
  let tlDirty = true;
  function addHistory(w) {
    const id = w.warning_id;
    if (id) { if (historyIds.has(id)) return; historyIds.add(id); }
    const at = ms(w.changed_at);
    if (at > clock.newest) clock.newest = at;
    historyVersion++;
    history.push({ id, t: at, severity: w.severity, status: w.status, transition: w.transition,
      rule_id: w.rule_id, district_id: w.district_id || (w.scope && w.scope.district_id), summary: w.summary,
      summary_zh: w.summary_zh, fingerprint: w.fingerprint });
    if (history.length > HISTORY_MAX + HISTORY_MAX / 10) trimHistory(serviceNow() - 24 * 3600 * 1000);
    tlDirty = true;
  }
  // Keep 24 h only, and at most HISTORY_MAX entries; the ids set follows what is kept.
  function trimHistory(from) {
    let j = 0;
    for (let i = 0; i < history.length; i++) if (history[i].t >= from) history[j++] = history[i];
    history.length = j;
    if (history.length > HISTORY_MAX) history.splice(0, history.length - HISTORY_MAX);
    historyIds.clear();
    for (const e of history) if (e.id) historyIds.add(e.id);
    historyVersion++;
  }
  const COLORS = { red: "#c62828", orange: "#ef6c00", yellow: "#f9a825", blue: "#1565c0", resolved: "#2e7d32" };
  // The strip is redrawn when changes arrive, and as the service clock moves (every 30 s of it at most)
  let drawnAt = 0, historyVersion = 0, listDrawn = -1;
  function clockMoved() { if (Math.abs(serviceNow() - drawnAt) >= 30000) tlDirty = true; }
  function drawTimeline() {
    if (!tlDirty) return;
    tlDirty = false;
    const now = serviceNow(), from = now - 24 * 3600 * 1000;
    drawnAt = now;
    if (history.length && history[0].t < from) trimHistory(from);
    const cv = $("tl"), dpr = window.devicePixelRatio || 1;
    const W = cv.clientWidth || 1200, H = cv.clientHeight || 90;
    if (cv.width !== Math.round(W * dpr)) { cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr); }
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const rows = ["red", "orange", "yellow", "blue", "resolved"], rowH = (H - 16) / rows.length;
    g.fillStyle = "#888"; g.font = "10px sans-serif";
    for (let h = 0; h <= 24; h += 3) {
      const x = (h / 24) * (W - 1);
      g.fillRect(x, 0, 1, H - 14);
      const d = new Date(from + h * 3600 * 1000);
      g.fillText(String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0"), Math.min(x + 2, W - 30), H - 3);
    }
    let drawn = 0;
    for (const e of history) {
      if (e.t < from) continue;
      drawn++;
      const row = e.status === "resolved" ? "resolved" : e.severity;
      // a change may be a tick ahead of the clock the page last heard: at the right edge
      const x = (Math.min(e.t - from, now - from) / (now - from)) * (W - 4) + 2, y = rows.indexOf(row) * rowH + rowH / 2;
      g.fillStyle = COLORS[row] || "#999";
      g.fillRect(x - 1.5, y - rowH / 2 + 2, 3, rowH - 4);
    }
    cv.dataset.drawn = String(drawn);
    $("tl-clock").textContent = fmtTime(new Date(now).toISOString()) + (clock.mode === "event" ? " (" + t("clock_event") + ")" : "");
    // the latest changes, newest first
    // the list changes with the changes, not with the clock: rebuilt only when they (or the language) did
    if (listDrawn === historyVersion) return;
    listDrawn = historyVersion;
    const list = $("tl-list");
    const latest = history.slice().sort((a, b) => b.t - a.t).slice(0, TL_LIST_MAX);
    const frag = document.createDocumentFragment();
    for (const e of latest) {
      const li = document.createElement("li");
      if (e.status === "resolved") li.className = "res";
      li.textContent = fmtTime(new Date(e.t).toISOString()) + " · " + t("tr_" + e.transition) + " · " + t("sev_" + e.severity)
        + " · " + e.rule_id + (e.district_id ? " · " + e.district_id : "") + " · " + ((lang === "zh" ? e.summary_zh : e.summary) || "");
      frag.appendChild(li);
    }
    list.replaceChildren(frag);
  }

  // ---- acknowledgement -----------------------------------------------------------------------
  let ackFp = null;
  function openAck(fp) {
    const c = cards.get(fp);
    if (!c) return;
    ackFp = fp;
    $("ack-what").textContent = c.w.rule_id + " · " + ((lang === "zh" ? c.w.summary_zh : c.w.summary) || "");
    const viaProxy = !!(proxied && proxied.role === "ack");
    $("ack-token-row").hidden = viaProxy || !!sessionStorage.getItem("board.token");
    $("ack-token").value = "";
    const by = viaProxy ? proxied.person : sessionStorage.getItem("board.by");
    $("ack-as").textContent = by ? t("ack_as") + " " + by : "";
    $("ack-note").value = "";
    $("ack-error").textContent = "";
    $("ack-dialog").showModal();
    ($("ack-token-row").hidden ? $("ack-note") : $("ack-token")).focus();
  }
  async function submitAck(ev) {
    ev.preventDefault();
    const fp = ackFp;
    const token = sessionStorage.getItem("board.token") || $("ack-token").value.trim();
    const viaProxy = !!(proxied && proxied.role === "ack");
    if (!token && !viaProxy) { $("ack-token-row").hidden = false; return; }
    const body = {};                  // who and when: the server's, from the token
    const note = $("ack-note").value.trim();
    if (note) body.note = note;
    let resp;
    try {
      resp = await fetch("/api/warnings/" + encodeURIComponent(fp) + "/ack", {
        method: "POST", headers: Object.assign({ "Content-Type": "application/json" },
          token ? { "Authorization": "Bearer " + token } : {}),
        body: JSON.stringify(body) });
    } catch (e) { $("ack-error").textContent = t("err"); return; }
    if (resp.status === 401 || resp.status === 403) {
      sessionStorage.removeItem("board.token");
      $("ack-token-row").hidden = false;
      let msg = t("wrong_token");
      try { const j = await resp.json(); if (j && j.error && resp.status === 403) msg = j.error; } catch (e) { /* none */ }
      $("ack-error").textContent = msg;
      return;
    }
    if (resp.status !== 202) {
      let msg = t("err") + " " + resp.status;
      try { const j = await resp.json(); if (j && j.error) msg += ": " + j.error; } catch (e) { /* none */ }
      $("ack-error").textContent = msg;
      return;
    }
    if (token) sessionStorage.setItem("board.token", token);
    try { const j = await resp.json(); if (j && j.acknowledged_by) sessionStorage.setItem("board.by", j.acknowledged_by); } catch (e) { /* none */ }
    $("ack-dialog").close();
    const c = cards.get(fp);
    if (c) { c.ackSent = true; renderCard(c); }
  }

  // ---- language --------------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
    document.title = t("title");
    $("lang").textContent = t("lang");
    setConn(connected);
    for (const c of cards.values()) renderCard(c);
    renderStorm(); renderCounts();
    tlDirty = true; listDrawn = -1; drawTimeline();
  }

  function tickAges() {
    const now = serviceNow();
    for (const c of cards.values()) if (!c.el.hidden) renderAge(c, now);
    if (!$("storm").hidden) renderStorm();
  }
  window.__board.tickAges = tickAges;

  // ---- start ------------------------------------------------------------------------------------
  function start() {
    $("f-district").addEventListener("change", (e) => { filter.district = e.target.value; refilter(); renderCounts(); });
    $("f-severity").addEventListener("change", (e) => { filter.severity = e.target.value; refilter(); renderCounts(); });
    $("f-category").addEventListener("change", (e) => { filter.category = e.target.value; refilter(); renderCounts(); });
    $("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("board.lang", lang); applyLang(); });
    $("cards").addEventListener("click", (e) => {
      const b = e.target.closest(".ackbtn");
      if (b) openAck(b.closest(".card").dataset.fp);
    });
    $("ack-form").addEventListener("submit", submitAck);
    $("login-form").addEventListener("submit", submitLogin);
    $("logout").addEventListener("click", logout);
    setInterval(() => pruneGone(Date.now()), 60000);
    $("ack-cancel").addEventListener("click", () => $("ack-dialog").close());
    setInterval(tickAges, 1000);     // live "firing for", visible cards only
    setInterval(clockMoved, 1000);
    setInterval(drawTimeline, 1000);
    setInterval(resync, RESYNC_MS);
    window.addEventListener("resize", () => { tlDirty = true; });
    applyLang();
    connect();
    resync();
  }
  start();
})();
