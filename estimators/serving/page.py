"""The server's page at ``/``: pick an image, see the model's top classes (self-contained, no external scripts)."""

from __future__ import annotations

import html as html_lib
import json

from estimators.reports.page import document

_STYLE = """
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }
table { border-collapse: collapse; } td, th { padding: .2em .8em; text-align: left; }
#error { color: #b00; }
/* Digits are 8x8 pixels: shown at a fixed, visible size, each pixel a crisp square. */
#preview { width: 12em; height: 12em; object-fit: contain; image-rendering: pixelated; border: 1px solid #ccc; }
#preview:not([src]) { visibility: hidden; }
"""
_BODY = """
<h1>kestrel serving</h1>
<p>Model <select id="model">__OPTIONS__</select> (TF Serving REST API: <code>POST /v1/models/&lt;name&gt;:predict</code>)</p>
<p><input type="file" id="file" accept="image/png,image/jpeg,image/bmp,image/gif"></p>
<p><img id="preview" alt="the chosen image"></p>
<p id="status"></p><p id="error"></p>
<table id="result"></table>
<script>
const LABELS = __LABELS__;  // model name -> class names by class id (the version's labels.txt)
const TOP_K = 3;
const $ = (id) => document.getElementById(id);

function show(predictions, model) {
  // kestrel's signature answers, per row, every class's probability (by class id) and the best
  // class's name (class_names); the other rows' names come from the model's labels.
  const row = predictions[0];
  const labels = LABELS[model] || [];
  const probs = row.probabilities;
  const order = probs.map((p, i) => i).sort((a, b) => probs[b] - probs[a]).slice(0, TOP_K);
  const table = $("result");
  table.innerHTML = "<tr><th>class id</th><th>class</th><th>probability</th></tr>";
  for (const i of order) {
    const tr = table.insertRow();
    tr.className = "top";
    tr.insertCell().textContent = String(i);
    tr.insertCell().textContent = i === row.class_ids ? row.class_names : (labels[i] ?? String(i));
    tr.insertCell().textContent = probs[i].toFixed(4);
  }
  $("status").textContent = "top class: " + row.class_names;
}

async function predict(b64) {
  $("error").textContent = ""; $("status").textContent = "predicting...";
  const model = $("model").value;
  const response = await fetch("/v1/models/" + encodeURIComponent(model) + ":predict", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({signature_name: "serving_default", instances: [{image_bytes: {b64: b64}}]}),
  });
  const answer = await response.json();
  if (!response.ok) { $("status").textContent = ""; $("error").textContent = answer.error; return; }
  show(answer.predictions, model);
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    $("preview").src = reader.result;
    predict(reader.result.split(",")[1]).catch((e) => { $("error").textContent = String(e); });
  };
  reader.readAsDataURL(file);
});
</script>
"""


def html(labels: dict[str, list[str]]) -> str:
    """The page for these models (name -> class names, empty if the served version has no labels.txt)."""
    options = "".join(f"<option>{html_lib.escape(n)}</option>" for n in sorted(labels))
    # "</" inside a script would end it: JSON's \\u003c keeps a model or class name from doing so.
    page = document("kestrel serving", _STYLE, _BODY, lang="en")
    return page.replace("__OPTIONS__", options).replace("__LABELS__", json.dumps(labels).replace("<", "\\u003c"))
