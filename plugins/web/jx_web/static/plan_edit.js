// The plan editor (/plans/{ref}/edit): the draft's tree as the plan file's mapping (GET /api/plans/{ref}'s
// "document"), edited in place. After each change (debounced) it asks POST /api/plans/{ref}/validate,
// the checks of `jx validate`, and shows every problem beside its node; saving posts the document.
// Plain script, no library, no network beyond this site.
(function () {
  "use strict";
  var root = document.getElementById("editor");
  if (!root) { return; }
  var doc = JSON.parse(root.dataset.doc);
  var W = JSON.parse(root.dataset.words);
  var rules = JSON.parse(root.dataset.rules);
  var ref = root.dataset.ref;
  var csrf = root.dataset.csrf;
  var departments = doc.departments || {};
  var added = {};  // codes of nodes added here: their code stays editable
  var body = document.querySelector("#edit-tree tbody");
  var timer = null;
  var asked = 0;
  document.getElementById("noscript").hidden = true;
  root.hidden = false;

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") { node.textContent = props[k]; }
      else if (k === "on") { Object.keys(props.on).forEach(function (e) { node.addEventListener(e, props.on[e]); }); }
      else if (k === "data") { Object.keys(props.data).forEach(function (d) { node.dataset[d] = props.data[d]; }); }
      else { node.setAttribute(k, props[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function clone(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }

  // what was typed, as the plan file would hold it: numbers as numbers, the rest as written
  function number(text) {
    var t = String(text).trim();
    if (t === "") { return null; }
    return /^-?[0-9]+(\.[0-9]+)?$/.test(t) ? Number(t) : t;
  }

  function isDate(value) { return value && typeof value === "object" && Object.keys(value).length === 1 && "$date" in value; }

  function walk(list, parent, depth, visit) {
    (list || []).forEach(function (n) { visit(n, parent, depth); walk(n.children, n, depth + 1, visit); });
  }

  function exists(code) {
    var found = code === doc.code;
    walk(doc.nodes, null, 1, function (n) { if (n.code === code) { found = true; } });
    return found;
  }

  function firstIndicator(list) {
    var found = null;
    walk(list, null, 1, function (n) { if (!found && !(n.children && n.children.length) && n.rule) { found = n; } });
    return found;
  }

  function changed() {
    weights();
    clearTimeout(timer);
    timer = setTimeout(validate, 350);
    root.dataset.state = "editing";
  }

  function input(value, onChange, attrs) {
    var props = {value: value === null || value === undefined ? "" : String(value), on: {input: function (e) { onChange(e.target.value, e.target); changed(); }}};
    Object.keys(attrs || {}).forEach(function (k) { props[k] = attrs[k]; });
    return el("input", props);
  }

  function paramInput(params, key) {
    var value = params[key];
    var field;
    if (isDate(value)) {
      field = input(value.$date, function (v) { params[key] = {"$date": v}; }, {type: "date"});
    } else if (typeof value === "boolean") {
      field = el("select", {on: {change: function (e) { params[key] = e.target.value === "true"; changed(); }}},
        [el("option", {value: "true", text: "true"}), el("option", {value: "false", text: "false"})]);
      field.value = String(value);
    } else if (value !== null && typeof value === "object") {
      field = el("textarea", {rows: "2", cols: "28", on: {input: function (e) {
        try { params[key] = JSON.parse(e.target.value); e.target.classList.remove("bad"); changed(); }
        catch (err) { e.target.classList.add("bad"); }
      }}});
      field.value = JSON.stringify(value);
    } else if (typeof value === "number") {
      field = input(value, function (v) { params[key] = number(v); }, {size: "6", inputmode: "decimal"});
    } else {
      field = input(value, function (v) { params[key] = v; }, {size: String(Math.min(40, Math.max(6, String(value).length)))});
    }
    field.setAttribute("aria-label", key);
    field.dataset.param = key;
    return field;
  }

  function ruleCell(n) {
    if (typeof n.rule === "string") { n.rule = {name: n.rule, params: {}}; }
    if (!n.rule) { n.rule = {name: "", params: {}}; }
    if (!n.rule.params) { n.rule.params = {}; }
    var rule = n.rule;
    var select = el("select", {"class": "rule-name", on: {change: function (e) { rule.name = e.target.value; changed(); }}},
      [el("option", {value: "", text: "—"})].concat(rules.map(function (r) { return el("option", {value: r, text: r}); })));
    select.value = rule.name || "";
    var list = el("ul", {"class": "params"});
    Object.keys(rule.params).forEach(function (key) {
      list.appendChild(el("li", {data: {param: key}}, [el("span", {text: key + " "}), paramInput(rule.params, key),
        el("button", {type: "button", "class": "x", title: W.remove, text: "✕", on: {click: function () {
          delete rule.params[key]; render(); changed();
        }}})]));
    });
    var newKey = el("input", {size: "8", placeholder: W.params, "aria-label": W.add_param});
    var newValue = el("input", {size: "8", "aria-label": W.params});
    var add = el("button", {type: "button", text: W.add_param, on: {click: function () {
      var key = newKey.value.trim();
      if (!key) { return; }
      var v = newValue.value.trim();
      try { rule.params[key] = JSON.parse(v); } catch (err) { rule.params[key] = v; }
      render(); changed();
    }}});
    return el("td", {"class": "rule"}, [select, list, el("span", {"class": "add-param"}, [newKey, newValue, add])]);
  }

  function collectorCell(n) {
    var area = el("textarea", {rows: "2", cols: "24", "aria-label": W.collector, on: {input: function (e) {
      try { n.collector = JSON.parse(e.target.value); e.target.classList.remove("bad"); changed(); }
      catch (err) { e.target.classList.add("bad"); }
    }}});
    area.value = JSON.stringify(n.collector === undefined ? null : n.collector);
    var name = n.collector && typeof n.collector === "object" ? n.collector.name : n.collector;
    return el("td", {}, [el("details", {}, [el("summary", {text: name || "—"}), area])]);
  }

  function stagesCell(n) {
    var list = el("ul", {"class": "stages"});
    (n.stages || []).forEach(function (stage, i) {
      var date = isDate(stage.date) ? stage.date.$date : (stage.date || "");
      list.appendChild(el("li", {}, [
        input(date, function (v) { stage.date = {"$date": v}; }, {type: "date", "aria-label": "date"}),
        input(stage.target, function (v) { stage.target = number(v); }, {size: "5", "aria-label": "target", inputmode: "decimal"}),
        el("button", {type: "button", "class": "x", text: "✕", title: W.remove, on: {click: function () {
          n.stages.splice(i, 1); if (!n.stages.length) { delete n.stages; } render(); changed();
        }}})]));
    });
    var add = el("button", {type: "button", text: W.add_stage, on: {click: function () {
      n.stages = n.stages || [];
      n.stages.push({date: {"$date": String(doc.period) + "-12-31"}, target: 0});
      render(); changed();
    }}});
    return el("td", {}, [list, add]);
  }

  function departmentSelect(n) {
    var select = el("select", {"aria-label": W.department, on: {change: function (e) {
      if (e.target.value) { n.department = e.target.value; } else { delete n.department; }
      changed();
    }}}, [el("option", {value: "", text: W.inherit})].concat(Object.keys(departments).map(function (d) {
      return el("option", {value: d, text: d + " " + departments[d]});
    })));
    if (n.department && !(n.department in departments)) {
      select.appendChild(el("option", {value: n.department, text: n.department}));
    }
    select.value = n.department || "";
    return select;
  }

  function addChild(n) {
    var list = n ? (n.children = n.children || []) : doc.nodes;
    var base = n ? n.code + "." : "";
    var i = 1;
    while (exists(base + "NEW" + i)) { i += 1; }
    var code = base + "NEW" + i;
    var like = firstIndicator(n ? n.children : doc.nodes) || firstIndicator(doc.nodes);
    var fresh = {code: code, name: W.new_node, points: 0};
    if (like) { fresh.rule = clone(like.rule); fresh.collector = clone(like.collector); }
    list.push(fresh);
    added[code] = true;
    render(); changed();
  }

  function remove(n, parent) {
    var list = parent ? parent.children : doc.nodes;
    list.splice(list.indexOf(n), 1);
    if (parent && !parent.children.length) { delete parent.children; }
    render(); changed();
  }

  function row(n, parent, depth) {
    var leaf = !(n.children && n.children.length);
    var outside = depth === 1 && n.scoring && n.scoring !== "weighted";
    var tr = el("tr", {"class": "depth-" + depth + (leaf ? " indicator" : ""), data: {code: n.code}});
    var code = added[n.code] ? input(n.code, function (v, field) {
      delete added[n.code]; n.code = v.trim(); added[n.code] = true; tr.dataset.code = n.code; field.focus();
    }, {size: "14", "aria-label": W.code, "class": "code-input"}) : el("span", {text: n.code});
    var points = outside
      ? el("span", {}, [el("span", {text: W.cap + " "}), input(n.cap, function (v) { n.cap = number(v); }, {size: "5", "aria-label": W.cap, "class": "points", inputmode: "decimal"})])
      : input(n.points, function (v) { n.points = number(v); }, {size: "5", "aria-label": W.points, "class": "points", inputmode: "decimal"});
    tr.appendChild(el("td", {"class": "code"}, [code]));
    tr.appendChild(el("td", {"class": "name"}, [input(n.name, function (v) { n.name = v; }, {size: "16", "aria-label": W.name, "class": "name"}),
      el("ul", {"class": "node-problems"})]));
    tr.appendChild(el("td", {"class": "n"}, [points]));
    tr.appendChild(el("td", {"class": "n weight"}));
    tr.appendChild(el("td", {}, [departmentSelect(n)]));
    if (leaf) {
      tr.appendChild(ruleCell(n));
      tr.appendChild(collectorCell(n));
      tr.appendChild(stagesCell(n));
    } else {
      tr.appendChild(el("td", {"class": "muted", colspan: "3"}));
    }
    tr.appendChild(el("td", {"class": "acts"}, [
      leaf && depth > 2 ? null : el("button", {type: "button", "class": "add-child", text: W.add_child, on: {click: function () { addChild(n); }}}),
      el("button", {type: "button", "class": "remove", text: W.remove, on: {click: function () { remove(n, parent); }}})]));
    tr.weightOf = function () { return outside ? null : n.points; };
    body.appendChild(tr);
    (n.children || []).forEach(function (c) { row(c, n, depth + 1); });
  }

  function rootRow() {
    var tr = el("tr", {"class": "depth-0", data: {code: doc.code}});
    tr.appendChild(el("td", {"class": "code"}, [el("span", {text: doc.code})]));
    tr.appendChild(el("td", {"class": "name"}, [input(doc.name, function (v) { doc.name = v; }, {size: "16", "aria-label": W.name}),
      el("ul", {"class": "node-problems"})]));
    tr.appendChild(el("td", {"class": "n"}, [el("span", {text: W.scale + " "}),
      input(doc.scale, function (v) { doc.scale = number(v); }, {size: "5", "aria-label": W.scale, "class": "scale", inputmode: "decimal"})]));
    tr.appendChild(el("td", {"class": "n"}, [el("span", {text: "100"})]));
    tr.appendChild(el("td", {colspan: "4"}));
    tr.appendChild(el("td", {"class": "acts"}, [el("button", {type: "button", "class": "add-child", text: W.add_child, on: {click: function () { addChild(null); }}})]));
    body.appendChild(tr);
  }

  function render() {
    body.textContent = "";
    rootRow();
    (doc.nodes || []).forEach(function (n) { row(n, null, 1); });
    weights();
  }

  function weights() {
    var scale = typeof doc.scale === "number" ? doc.scale : NaN;
    Array.prototype.forEach.call(body.querySelectorAll("tr"), function (tr) {
      var cell = tr.querySelector("td.weight");
      if (!cell || !tr.weightOf) { return; }
      var points = tr.weightOf();
      cell.textContent = typeof points === "number" && scale > 0 ? (points / scale * 100).toFixed(1) : "";
    });
  }

  function show(problems) {
    Array.prototype.forEach.call(body.querySelectorAll("ul.node-problems"), function (ul) { ul.textContent = ""; });
    Array.prototype.forEach.call(body.querySelectorAll("tr.has-problem"), function (tr) { tr.classList.remove("has-problem"); });
    var general = document.getElementById("problems-general");
    general.textContent = "";
    problems.forEach(function (p) {
      var tr = p.node ? body.querySelector('tr[data-code="' + CSS.escape(p.node) + '"]') : null;
      var text = p.message + (p.hint ? " (" + p.hint + ")" : "");
      if (tr) {
        tr.classList.add("has-problem");
        tr.querySelector("ul.node-problems").appendChild(el("li", {text: text}));
      } else {
        general.appendChild(el("li", {text: p.text}));
      }
    });
    document.getElementById("problem-count").textContent =
      problems.length ? W.problem_count.replace("{n}", problems.length) : W.no_problems;
    document.getElementById("status").className = "status " + (problems.length ? "bad" : "good");
    document.getElementById("save").disabled = problems.length > 0;
    root.dataset.state = problems.length ? "invalid" : "valid";
  }

  // One check at a time: a newer one cancels the one under way (its answer is stale anyway), and
  // a check without an answer within 20 s is abandoned and asked again.
  var inflight = null;

  function validate() {
    asked += 1;
    var mine = asked;
    if (inflight) { inflight.abort(); }
    var control = new AbortController();
    inflight = control;
    var patience = setTimeout(function () { control.abort(); }, 20000);
    document.getElementById("problem-count").textContent = W.checking;
    fetch("/api/plans/" + encodeURIComponent(ref) + "/validate", {
      method: "POST", credentials: "same-origin", signal: control.signal,
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(doc)
    }).then(function (r) {
      return r.json().then(function (answer) { return {ok: r.ok, answer: answer}; });
    }).then(function (got) {
      clearTimeout(patience);
      if (mine !== asked) { return; }  // a newer check is under way
      if (!got.ok) { show([{node: null, message: got.answer.error || "error", text: got.answer.error || "error"}]); return; }
      show(got.answer.problems);
    }).catch(function (error) {  // no answer (the server restarting, the network): say so, ask again
      clearTimeout(patience);
      if (mine === asked) {
        document.getElementById("problem-count").textContent = W.checking + " (" + error + ")";
        timer = setTimeout(validate, 3000);
      }
    });
  }

  document.getElementById("save-form").addEventListener("submit", function () {
    document.getElementById("document").value = JSON.stringify(doc);
  });

  render();
  validate();
}());
