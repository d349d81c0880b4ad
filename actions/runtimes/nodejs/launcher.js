'use strict';
// Gust's nodejs launcher: the language process of an action proxy in
// ActionLoop mode. The proxy (actions/proxy) starts it once per container
// with the action's code at $GUST_ACTION_PATH (a file, or the directory of an
// extracted zip) and the entry point's name in $GUST_ACTION_MAIN. Started
// before /init with GUST_INIT_ON_STDIN=true, it writes {"ready":true} on file
// descriptor 3, waits for an init line on stdin, {"init":{"env":{...}}},
// sets those environment variables (the two above among them) and then
// loads the code. It answers on file
// descriptor 3: first {"ok":true} once the code is loaded (or
// {"error":...} and exits), then one JSON line per request line read from
// stdin. With __OW_ALLOW_CONCURRENT=true it handles requests concurrently:
// each request then carries a numeric "__gust_run" id, and each answer is
// {"__gust_run":id,"result":...}. Its acknowledgement says "thrown":true: an
// answer that is a JSON string is the message of an error main threw, which
// the proxy reports as a developer error, as OpenWhisk's nodejs runtime
// does; a result that is a string goes as null (not a dictionary either).

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const Module = require('module');
const vm = require('vm');

const RESULT_FD = 3;
// Set once the code is loaded, from the environment /init gave.
let concurrent = false;

function send(obj) {
  sendLine(JSON.stringify(obj));
}

function sendLine(text) {
  let buf = Buffer.from(text + '\n');
  while (buf.length > 0) {
    const n = fs.writeSync(RESULT_FD, buf);
    buf = buf.subarray(n);
  }
}

function errorText(e) {
  if (e instanceof Error) return e.stack ? String(e.stack) : String(e);
  return typeof e === 'string' ? e : JSON.stringify(e);
}

// serializeError turns a rejection reason into a JSON value as the
// serialize-error package does for the OpenWhisk nodejs runtime.
function serializeError(e) {
  if (e === undefined || e === null || e === false) return {};
  if (e instanceof Error) {
    const out = { name: e.name, message: e.message, stack: e.stack };
    for (const k of Object.keys(e)) out[k] = e[k];
    return out;
  }
  return e;
}

function loadFile(file, name) {
  const code = fs.readFileSync(file, 'utf8');
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const local = /^[A-Za-z_$][\w$]*$/.test(name)
    ? `typeof ${name} === 'function' ? ${name} : undefined`
    : 'undefined';
  // Compiled under the file's own name, so that errors give the line and
  // column in the action's code.
  let wrapper;
  try {
    wrapper = vm.compileFunction(code + '\n;return ' + local + ';',
      ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  } catch (e) {
    // A syntax error past the code (an unclosed brace) is reported on
    // the line added above: initErrorText says the end of the code instead.
    if (e instanceof SyntaxError) e.codeLines = code.replace(/\n$/, '').split('\n').length;
    throw e;
  }
  const found = wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  const exported = mod.exports && mod.exports[name];
  return typeof exported === 'function' ? exported : found;
}

function loadDir(dir, name) {
  if (!fs.existsSync(path.join(dir, 'package.json')) && !fs.existsSync(path.join(dir, 'index.js'))) {
    throw new Error('Zipped actions must contain either package.json or index.js at the root.');
  }
  process.chdir(dir);
  const mod = require(dir);
  return mod && mod[name];
}

// initErrorText says why the action's code did not load, for a person:
// the error, where in the action's code (line and column of a syntax
// error, with the line and a caret), and the stack frames in that code, but
// none of the launcher's or node's own.
function initErrorText(e) {
  if (!(e instanceof Error)) return errorText(e);
  const stack = String(e.stack || e);
  // Node starts a syntax error's stack with "file:LINE", the line and a caret.
  const syntax = /^[^\n]*:(\d+)\n([^\n]*)\n([ \t]*)\^*[^\n]*\n/.exec(stack);
  if (e instanceof SyntaxError && syntax && e.codeLines && Number(syntax[1]) > e.codeLines) {
    return `${e.name}: ${e.message} (at the end of the code, line ${e.codeLines}: is a bracket or a quote left open?)`;
  }
  if (e instanceof SyntaxError && syntax) {
    return `${e.name}: ${e.message} (line ${syntax[1]}, column ${syntax[3].length + 1})\n` +
      `${syntax[2]}\n${syntax[3]}^`;
  }
  return codeStack(e);
}

// codeStack is e's stack with only the frames in the action's code: none
// of the launcher's or node's own.
function codeStack(e) {
  const where = process.env.GUST_ACTION_PATH || '\0';
  const lines = String(e.stack || e).split('\n');
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  const head = first < 0 ? lines : lines.slice(0, first);
  const frames = first < 0 ? [] : lines.slice(first).filter((l) => l.includes(where));
  return head.concat(frames).join('\n');
}

function load() {
  const where = process.env.GUST_ACTION_PATH;
  const name = process.env.GUST_ACTION_MAIN || 'main';
  const fn = fs.statSync(where).isDirectory() ? loadDir(where, name) : loadFile(where, name);
  if (typeof fn !== 'function') {
    throw new Error(`Action entrypoint '${name}' is not a function.`);
  }
  return fn;
}

// thrownMessage is OpenWhisk's message for an error main threw.
function thrownMessage(e) {
  let text;
  try {
    text = String(e);
  } catch (_) {
    text = Object.prototype.toString.call(e); // a symbol, or a toString that throws
  }
  return 'An error has occurred: ' + text;
}

// reply answers request id with result, or with the message of the error
// main threw: a JSON string, which only a thrown error's answer may be.
function reply(id, result, thrown) {
  let text;
  try {
    text = JSON.stringify(result);
  } catch (e) {
    text = JSON.stringify({ error: 'The action returned a result that cannot be serialized: ' + e.message });
  }
  // undefined is a function or symbol result.
  if (text === undefined || (!thrown && text[0] === '"')) text = 'null';
  sendLine(concurrent ? '{"__gust_run":' + JSON.stringify(id === undefined ? null : id) + ',"result":' + text + '}' : text);
}

// drained resolves once node has handed every queued write of stream to
// the OS. console.log queues output when the pipe is full; the proxy writes
// the log sentinels as soon as the result arrives, so the action's output
// must be out first or it would land in the next activation's logs.
function drained(stream) {
  if (stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => stream.write('', resolve));
}

// finish answers request id once the action's output is flushed.
async function finish(id, result, thrown) {
  if (!concurrent) {
    await drained(process.stdout);
    await drained(process.stderr);
  }
  reply(id, result, thrown);
}

async function run(fn, line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    send({ error: 'The request is not valid JSON: ' + e.message });
    return;
  }
  const id = msg.__gust_run;
  for (const [k, v] of Object.entries(msg)) {
    if (k !== 'value' && typeof v === 'string') process.env['__OW_' + k.toUpperCase()] = v;
  }
  let pending;
  try {
    pending = fn(msg.value === undefined ? {} : msg.value);
  } catch (e) {
    console.error(e instanceof Error ? codeStack(e) : e);
    await finish(id, thrownMessage(e), true);
    return;
  }
  let result;
  try {
    result = await pending;
  } catch (e) {
    await finish(id, { error: serializeError(e) });
    return;
  }
  await finish(id, result === undefined ? {} : result);
}

let main = null;

// start loads the code and acknowledges it.
function start() {
  concurrent = process.env.__OW_ALLOW_CONCURRENT === 'true';
  let fn;
  try {
    fn = load();
  } catch (e) {
    const text = initErrorText(e);
    console.error('Error during initialization: ' + text);
    send({ error: 'Initialization has failed due to: ' + text });
    process.exit(1);
  }
  main = fn;
  send({ ok: true, concurrent: concurrent, thrown: true });
}

// initFrom sets the environment of the init line, then loads the code.
function initFrom(line) {
  let env;
  try {
    env = JSON.parse(line).init.env;
    if (env === null || typeof env !== 'object') throw new Error('the init line has no env');
  } catch (e) {
    send({ error: 'Initialization has failed due to: invalid init line: ' + e.message });
    process.exit(1);
  }
  for (const [k, v] of Object.entries(env)) process.env[k] = String(v);
  start();
}

const deferred = process.env.GUST_INIT_ON_STDIN === 'true';
delete process.env.GUST_INIT_ON_STDIN;
if (!deferred) start();

const input = readline.createInterface({ input: process.stdin, terminal: false });
input.on('line', (line) => {
  if (main === null) initFrom(line);
  else run(main, line);
});
input.on('close', () => process.exit(0));
if (deferred) send({ ready: true });
