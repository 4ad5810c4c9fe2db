// The Node workload of benchmarks/ab_compare.py: the tokenizer + emitter of tokenize.js
// (copied beside this file into every commit). __REPEAT__ is replaced by the input size
// (HEAD: +15 %).
'use strict';
const { source, tokenize, emit } = require('./tokenize.js');
const src = source(__REPEAT__);
module.exports = { work: () => emit(tokenize(src)) };
