// The JavaScript workload of the benchmarks (ab_compare.py, steady_detection.py,
// verdict_quality.py): a tokenizer and an emitter. V8 runs them interpreted, then
// compiles them in tiers: a real JIT warm-up. docs/verdicts.md was measured on this code.
'use strict';

// One line of the input, `lines` times.
function source(lines) {
  return 'local x = a + b * (c - 42) / foo(bar, "str", 3.5) ; if x then y = x end\n'.repeat(lines);
}

function tokenize(s) {
  const out = []; let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10) { i++; continue; }
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) {
      let j = i; while (j < s.length && /[A-Za-z0-9_]/.test(s[j])) j++;
      out.push({ t: 'id', v: s.slice(i, j) }); i = j; continue;
    }
    if (c >= 48 && c <= 57) {
      let j = i; while (j < s.length && /[0-9.]/.test(s[j])) j++;
      out.push({ t: 'num', v: parseFloat(s.slice(i, j)) }); i = j; continue;
    }
    if (c === 34) {
      let j = i + 1; while (s[j] !== '"') j++;
      out.push({ t: 'str', v: s.slice(i + 1, j) }); i = j + 1; continue;
    }
    out.push({ t: 'op', v: s[i] }); i++;
  }
  return out;
}

// Lua-ish tokens back to JavaScript-ish text.
function emit(toks) {
  const parts = [];
  for (const t of toks) {
    if (t.t === 'id') parts.push(t.v === 'local' ? 'let' : t.v);
    else if (t.t === 'num') parts.push(String(t.v));
    else if (t.t === 'str') parts.push(JSON.stringify(t.v));
    else parts.push(t.v);
  }
  return parts.join(' ');
}

module.exports = { source, tokenize, emit };
